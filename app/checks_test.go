package app

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/spf13/pflag"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/config"
	"github.com/wod-dev/wod/store/storetest"
)

// TestServerChecksRecorded: the server's daily run of wod check, as Serve
// starts it, records its verdicts under the platform, on both databases.
func TestServerChecksRecorded(t *testing.T) {
	for _, d := range storetest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			var cfg config.Config
			fs := pflag.NewFlagSet("wod", pflag.ContinueOnError)
			cfg.Register(fs)
			if err := fs.Parse([]string{"--data", t.TempDir(), "--db", storetest.DSN(t, d), "--check-every", "1h"}); err != nil {
				t.Fatal(err)
			}
			if err := cfg.Resolve(fs, func(string) string { return "" }); err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			a := &App{Config: &cfg, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
			if err := a.Open(ctx); err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			if err := a.OpenKeys(); err != nil {
				t.Fatal(err)
			}
			if err := a.Build(); err != nil {
				t.Fatal(err)
			}
			r := a.serverChecks()
			if r == nil || r.Every != cfg.CheckEvery {
				t.Fatalf("runner: %+v", r)
			}
			r.RunOnce(ctx)
			cs, err := a.DB.FindHostChecks(ctx)
			if err != nil || len(cs) == 0 {
				t.Fatalf("recorded: %v %v", cs, err)
			}
			names := map[string]string{}
			for _, c := range cs {
				if c.Scope != wod.CheckScopePlatform {
					t.Errorf("scope %q", c.Scope)
				}
				names[c.Name] = c.Status
			}
			for _, n := range []string{"data", "database", "smtp", "time sync", "firewall"} {
				if names[n] == "" {
					t.Errorf("no %s verdict: %v", n, names)
				}
			}
			if names["database"] != wod.CheckOK {
				t.Errorf("the running server's database: %s", names["database"])
			}
		})
	}
}
