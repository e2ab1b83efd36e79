package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/wod-dev/wod/config"
)

// helpFlags runs `wod ARGS --help` and returns the flags its help lists.
func helpFlags(t *testing.T, path ...string) []string {
	t.Helper()
	code, out, errOut := runWod(t, "", append(path, "--help")...)
	if code != 0 {
		t.Fatalf("wod %s --help: %d %s", strings.Join(path, " "), code, errOut)
	}
	var names []string
	for _, m := range regexp.MustCompile(`(?m)^\s+(?:-\w, )?--([a-z0-9-]+)`).FindAllStringSubmatch(out, -1) {
		names = append(names, m[1])
	}
	slices.Sort(names)
	return names
}

// commands walks the command tree, the commands that run.
func commands(cmd *cobra.Command, visit func(*cobra.Command)) {
	if cmd.Runnable() && cmd.Name() != "help" && cmd.Name() != "completion" && cmd.Parent() != nil &&
		cmd.Parent().Name() != "completion" {
		visit(cmd)
	}
	for _, c := range cmd.Commands() {
		commands(c, visit)
	}
}

// TestFlagsBelongToTheirCommands: each command's --help lists its own
// flags and those of the configuration uses it declares, no other; every
// configuration flag belongs to a use that some command takes.
func TestFlagsBelongToTheirCommands(t *testing.T) {
	// What some commands must show, and not, spelled out by hand.
	if got := helpFlags(t, "version"); len(got) != 0 {
		t.Errorf("wod version --help lists flags: %v", got)
	}
	if _, out, _ := runWod(t, "", "version", "--help"); strings.Contains(out, "Flags:") {
		t.Errorf("wod version --help has a Flags section:\n%s", out)
	}
	agent := helpFlags(t, "agent")
	// smtp-*: the legacy intake relays the api-db's participant mails.
	for _, want := range []string{"server", "agent-token", "hub-addr", "student-root", "content-repo", "legacy-api", "log-level", "config", "data", "smtp-host"} {
		if !slices.Contains(agent, want) {
			t.Errorf("wod agent --help lacks --%s", want)
		}
	}
	for _, not := range []string{"db", "mail-from", "alert-to", "addr", "public-url", "students", "brand-color", "session-ttl", "deny-list"} {
		if slices.Contains(agent, not) {
			t.Errorf("wod agent --help lists the server's --%s", not)
		}
	}
	if got, want := helpFlags(t, "location", "add"), []string{"backend-email", "backend-smtp", "base-student-id", "config", "data", "db", "hub-url", "kind",
		"log-format", "log-level", "students"}; !slices.Equal(got, want) {
		t.Errorf("wod location add --help: %v, want %v", got, want)
	}
	if got, want := helpFlags(t, "user", "add"), []string{"config", "data", "db", "log-format", "log-level", "role"}; !slices.Equal(got, want) {
		t.Errorf("wod user add --help: %v, want %v", got, want)
	}
	server := helpFlags(t, "server")
	for _, not := range []string{"hub-addr", "uid-base", "agent-token", "legacy-api", "students"} {
		if slices.Contains(server, not) {
			t.Errorf("wod server --help lists the agent's --%s", not)
		}
	}

	// Every command: exactly its own flags and its uses' flags.
	all := pflag.NewFlagSet("wod", pflag.ContinueOnError)
	var cfg config.Config
	cfg.Register(all)
	taken := map[config.Use]bool{}
	e := &env{stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}, flags: all}
	root := &cobra.Command{Use: "wod"}
	root.AddCommand(commandTree(e)...)
	commands(root, func(c *cobra.Command) {
		var want []string
		c.Flags().VisitAll(func(f *pflag.Flag) {
			if f.Name != "help" {
				want = append(want, f.Name)
			}
		})
		for _, u := range commandUses(c) {
			taken[u] = true
		}
		for _, f := range config.FlagsOf(all, commandUses(c)...) {
			want = append(want, f.Name)
		}
		slices.Sort(want)
		path := strings.Fields(strings.TrimPrefix(c.CommandPath(), "wod "))
		if got := helpFlags(t, path...); !slices.Equal(got, want) {
			t.Errorf("wod %s --help: %v\nwant %v", strings.Join(path, " "), got, want)
		}
	})
	all.VisitAll(func(f *pflag.Flag) {
		uses := config.Uses(f)
		if len(uses) == 0 {
			t.Errorf("--%s belongs to no use: give it one in config.Register", f.Name)
		}
		if !slices.ContainsFunc(uses, func(u config.Use) bool { return taken[u] }) {
			t.Errorf("--%s belongs to no command (uses %v)", f.Name, uses)
		}
	})
}

// TestSettingsOfOtherCommands: the environment and the file set every
// setting whatever the command; one file serves the server, the agent and
// the operator's commands, and a command's own flag is not taken by the
// setting of the same name (wod location add --students is not
// WOD_STUDENTS).
func TestSettingsOfOtherCommands(t *testing.T) {
	data := t.TempDir()
	file := filepath.Join(t.TempDir(), "wod.yml")
	if err := os.WriteFile(file, []byte("hub-addr: \":8123\"\nsmtp-host: mail.example.org\nstudents: 7\nlegacy-students: 3\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"WOD_CONFIG": file, "WOD_DATA": data, "WOD_UID_BASE": "5000", "WOD_HUB_URL": "http://wrong.example"}
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"location", "add", "hub1", "--hub-url", "http://hub1.example:8000", "--students", "4"},
		func(k string) string { return env[k] }, strings.NewReader(""), &out, &errOut)
	if code != 0 || !strings.Contains(out.String(), "location hub1 added: 4 seats") {
		t.Fatalf("location add with others' settings in the file and the environment: %d %q %q", code, out.String(), errOut.String())
	}
	out.Reset()
	code = run(context.Background(), []string{"location", "list"}, func(k string) string { return env[k] },
		strings.NewReader(""), &out, &errOut)
	if code != 0 || !regexp.MustCompile(`hub1\s+http://hub1.example:8000\s+4\s+0\s+unknown\s+never`).MatchString(out.String()) {
		t.Fatalf("list: %d %q %q", code, out.String(), errOut.String())
	}
	// A misspelt key is still refused, whatever the command.
	if err := os.WriteFile(file, []byte("smtp-hots: x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	errOut.Reset()
	if code := run(context.Background(), []string{"location", "list"}, func(k string) string { return env[k] },
		strings.NewReader(""), &out, &errOut); code == 0 || !strings.Contains(errOut.String(), "smtp-hots is not a setting") {
		t.Fatalf("unknown key: %d %q", code, errOut.String())
	}
	// A flag of another command is refused on the command line.
	if code, _, errOut := runWod(t, "", "location", "list", "--data", data, "--smtp-host", "x"); code == 0 || !strings.Contains(errOut, "unknown flag: --smtp-host") {
		t.Fatalf("another command's flag: %d %q", code, errOut)
	}
}
