package config

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/wod-dev/wod"
)

func parse(t *testing.T, args []string, env map[string]string, file string) (*Config, error) {
	t.Helper()
	var c Config
	fs := pflag.NewFlagSet("wod", pflag.ContinueOnError)
	c.Register(fs)
	if file != "" {
		path := filepath.Join(t.TempDir(), "wod.yaml")
		if err := os.WriteFile(path, []byte(file), 0o600); err != nil {
			t.Fatal(err)
		}
		args = append(args, "--config", path)
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	return &c, c.Resolve(fs, func(k string) string { return env[k] })
}

func TestPrecedence(t *testing.T) {
	file := "addr: 127.0.0.1:7000\ndata: /file/data\ncontent: [/pub, /priv]\nstudents: 30\nprovision-timeout: 30s\n"
	env := map[string]string{"WOD_ADDR": "127.0.0.1:7100", "WOD_STUDENTS": "40"}
	c, err := parse(t, []string{"--addr", "127.0.0.1:7200"}, env, file)
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:7200" {
		t.Fatalf("flag must win: addr %s", c.Addr)
	}
	if c.Students != 40 {
		t.Fatalf("env must beat the file: students %d", c.Students)
	}
	if c.Data != "/file/data" || !slices.Equal(c.Content, []string{"/pub", "/priv"}) || c.ProvisionTimeout != 30*time.Second {
		t.Fatalf("file values: data %s content %v timeout %v", c.Data, c.Content, c.ProvisionTimeout)
	}
	if c.DB != "sqlite:/file/data/wod.db" || c.PublicURL != "http://127.0.0.1:7200" {
		t.Fatalf("derived: db %s public %s", c.DB, c.PublicURL)
	}
	// A repeatable flag from the environment is a comma list.
	c, err = parse(t, nil, map[string]string{"WOD_CONTENT": "/a,/b", "WOD_DATA": "/d"}, "")
	if err != nil || !slices.Equal(c.Content, []string{"/a", "/b"}) {
		t.Fatalf("env list: %v %v", c.Content, err)
	}
}

func TestNoConfigurationAtAll(t *testing.T) {
	c, err := parse(t, nil, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	c.DeriveHubURL(context.Background(), HostProbe{})
	if c.Data == "" || !strings.HasPrefix(c.DB, "sqlite:") || c.Addr == "" || c.PublicURL == "" || c.HubURL == "" {
		t.Fatalf("defaults: %+v", c)
	}
}

func TestBadConfiguration(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		file string
		want []string
	}{
		{"unknown file key", nil, nil, "adress: x\n", []string{"adress", "not a setting"}},
		{"bad yaml", nil, nil, "addr: [\n", []string{"wod.yaml"}},
		{"list for scalar", nil, nil, "addr: [a, b]\n", []string{"addr", "not a list"}},
		{"bad env value", nil, map[string]string{"WOD_STUDENTS": "many"}, "", []string{"WOD_STUDENTS", "many"}},
		{"bad file value", nil, nil, "students: many\n", []string{"students", "many"}},
		{"bad db", []string{"--db", "mysql://x"}, nil, "", []string{"--db"}},
		{"bad addr", []string{"--addr", "nope"}, nil, "", []string{"--addr"}},
		{"bad level", []string{"--log-level", "loud"}, nil, "", []string{"--log-level"}},
		{"missing file", []string{"--config", "/nonexistent/wod.yaml"}, nil, "", []string{"does not exist"}},
		{"short retention", []string{"--retention", "1h"}, nil, "", []string{"--retention", "168h"}},
		{"bad metrics addr", []string{"--metrics-addr", "9464"}, nil, "", []string{"--metrics-addr"}},
		{"bad size", []string{"--student-memory", "2GG"}, nil, "", []string{"student-memory", "not a size"}},
		{"tiny memory", nil, nil, "student-memory: 2\n", []string{"--student-memory", "too little"}},
		{"tiny tasks", []string{"--student-tasks", "3"}, nil, "", []string{"--student-tasks", "between"}},
		{"negative cpus", nil, map[string]string{"WOD_STUDENT_CPUS": "-1"}, "", []string{"--student-cpus"}},
		{"metrics on the main addr", []string{"--metrics-addr", "127.0.0.1:8080"}, nil, "", []string{"--metrics-addr", "own"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parse(t, tc.args, tc.env, tc.file)
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Fatalf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestGuardHogAllow(t *testing.T) {
	c, err := parse(t, nil, nil, "")
	if err != nil || !slices.Contains(c.Agent.GuardHogAllow, "cc1plus") || !slices.Contains(c.Agent.GuardHogAllow, "rustc") {
		t.Fatalf("default: %v %v", c.Agent.GuardHogAllow, err)
	}
	c, err = parse(t, nil, nil, "guard-hog-allow: [gcc, julia]\nlegacy-mail-uids: [postfix]\n")
	if err != nil || !slices.Equal(c.Agent.GuardHogAllow, []string{"gcc", "julia"}) || !slices.Equal(c.Agent.Legacy.SenderUsers, []string{"postfix"}) {
		t.Fatalf("from the file: %v %v %v", c.Agent.GuardHogAllow, c.Agent.Legacy.SenderUsers, err)
	}
}

func TestStudentLimits(t *testing.T) {
	c, err := parse(t, nil, nil, "")
	if err != nil || c.Agent.StudentLimits != DefaultStudentLimits() || c.Agent.StudentLimits.Memory != 2<<30 {
		t.Fatalf("defaults: %+v %v", c.Agent.StudentLimits, err)
	}
	c, err = parse(t, []string{"--student-disk", "5G", "--student-tasks", "0"},
		map[string]string{"WOD_STUDENT_CPUS": "0.5"}, "student-memory: 1536M\n")
	if err != nil {
		t.Fatal(err)
	}
	if want := (wod.Limits{Memory: 1536 << 20, CPUs: 0.5, Disk: 5 << 30}); c.Agent.StudentLimits != want {
		t.Fatalf("limits %+v, want %+v", c.Agent.StudentLimits, want)
	}
}

// TestSectionsKeepTheirKeys: the settings moved to the sections named for
// what they hold (Branding, the content beside --content, the banner) are
// still set by the same flags, WOD_* variables and file keys, so that a
// configuration written by an earlier wod install still loads.
func TestSectionsKeepTheirKeys(t *testing.T) {
	file := "brand-name: Acme\nbrand-url: https://acme.example\nbrand-logo: https://acme.example/logo.png\n" +
		"brand-color: '#123abc'\nbrand-slack: https://slack.acme.example\nbrand-x: https://x.com/acme\n" +
		"feedback-url: https://survey.acme.example\nannouncement: Maintenance at noon\n" +
		"content-check: warn\nvar: [IP-WKSHP-A=10.0.0.1, HTTPPORT=8888]\nmail-from: wod@acme.example\n"
	c, err := parse(t, nil, nil, file)
	if err != nil {
		t.Fatal(err)
	}
	want := Branding{Name: "Acme", URL: "https://acme.example", Logo: "https://acme.example/logo.png", Color: "#123abc",
		Slack: "https://slack.acme.example", X: "https://x.com/acme", Support: "wod@acme.example",
		FeedbackURL: "https://survey.acme.example"}
	if c.Branding != want {
		t.Fatalf("branding from the file:\n got %+v\nwant %+v", c.Branding, want)
	}
	if c.Announcement != "Maintenance at noon" || c.ContentCheck != "warn" ||
		!slices.Equal(c.NotebookVars, []string{"IP-WKSHP-A=10.0.0.1", "HTTPPORT=8888"}) {
		t.Fatalf("from the file: announcement %q content check %q vars %v", c.Announcement, c.ContentCheck, c.NotebookVars)
	}

	env := map[string]string{"WOD_BRAND_NAME": "Env Corp", "WOD_BRAND_COLOR": "#abcdef", "WOD_SUPPORT_EMAIL": "help@env.example",
		"WOD_ANNOUNCEMENT": "From the environment", "WOD_CONTENT_CHECK": "warn", "WOD_VAR": "K=V",
		"WOD_FEEDBACK_URL": "https://survey.env.example"}
	c, err = parse(t, nil, env, "")
	if err != nil {
		t.Fatal(err)
	}
	if c.Branding.Name != "Env Corp" || c.Branding.Color != "#abcdef" || c.Branding.Support != "help@env.example" ||
		c.Branding.FeedbackURL != "https://survey.env.example" || c.Announcement != "From the environment" ||
		c.ContentCheck != "warn" || !slices.Equal(c.NotebookVars, []string{"K=V"}) {
		t.Fatalf("from the environment: %+v announcement %q content check %q vars %v", c.Branding, c.Announcement,
			c.ContentCheck, c.NotebookVars)
	}

	c, err = parse(t, []string{"--brand-x", "https://x.com/flag", "--var", "A=1", "--var", "B=2", "--content-check", "strict",
		"--announcement", "flag"}, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	if c.Branding.X != "https://x.com/flag" || !slices.Equal(c.NotebookVars, []string{"A=1", "B=2"}) ||
		c.ContentCheck != "strict" || c.Announcement != "flag" {
		t.Fatalf("from the flags: %+v vars %v content check %q announcement %q", c.Branding, c.NotebookVars, c.ContentCheck, c.Announcement)
	}

	// The defaults: the sender answers participants, the accent colour is
	// wod's, imports are strict.
	c, err = parse(t, []string{"--public-url", "https://wod.example"}, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	if c.Branding.Support != "wod@wod.example" || c.Branding.Color != "#01a982" || c.Branding.Name != "WoD Developer" ||
		c.ContentCheck != "strict" {
		t.Fatalf("defaults: %+v content check %q", c.Branding, c.ContentCheck)
	}
	for _, args := range [][]string{{"--brand-color", "red"}, {"--content-check", "lax"}, {"--var", "NOEQUALS"}} {
		if _, err := parse(t, args, nil, ""); err == nil || !strings.Contains(err.Error(), args[0]) {
			t.Errorf("%v: %v", args, err)
		}
	}
}

func TestKernelspecSettings(t *testing.T) {
	c, err := parse(t, nil, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	exe, _ := os.Executable()
	if c.Agent.KernelspecDir != "/usr/local/share/jupyter/kernels" || c.Agent.KernelBinary != exe {
		t.Fatalf("defaults: %q %q", c.Agent.KernelspecDir, c.Agent.KernelBinary)
	}
	c, err = parse(t, []string{"--kernelspec-dir", "/srv/jupyter/kernels/", "--kernel-binary", "/opt/wod/wod"}, nil, "")
	if err != nil || c.Agent.KernelspecDir != "/srv/jupyter/kernels" || c.Agent.KernelBinary != "/opt/wod/wod" {
		t.Fatalf("given: %q %q %v", c.Agent.KernelspecDir, c.Agent.KernelBinary, err)
	}
	for _, args := range [][]string{{"--kernelspec-dir", "/srv/jupyter"}, {"--kernelspec-dir", "kernels"},
		{"--kernel-binary", "wod"}} {
		if _, err := parse(t, args, nil, ""); err == nil || !strings.Contains(err.Error(), args[0]) {
			t.Errorf("%v: %v", args, err)
		}
	}
}
