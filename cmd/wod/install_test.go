package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestInstall writes a role's service files under --dest-dir: the
// configuration file holds the flags given and loads back; the unit runs
// the role with it.
func TestInstall(t *testing.T) {
	dest, data := t.TempDir(), t.TempDir()
	code, out, errOut := runWod(t, "", "install", "--role", "up", "--dest-dir", dest, "--data", data, "--students", "7",
		"--var", "IP-WKSHP-A=10.0.0.1", "--var", "SURVEYURL=https://survey.test", "--smtp-password", "s3cret", "--log-level", "error")
	if code != 0 {
		t.Fatalf("install: %d %s %s", code, out, errOut)
	}
	cfgPath := filepath.Join(dest, "etc/wod/up.yml")
	info, err := os.Stat(cfgPath)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("configuration file: %v %v", info, err)
	}
	cfg, _ := os.ReadFile(cfgPath)
	for _, want := range []string{"data: " + data, "students: \"7\"", "- IP-WKSHP-A=10.0.0.1", "- SURVEYURL=https://survey.test", "smtp-password: s3cret"} {
		if !strings.Contains(string(cfg), want) {
			t.Errorf("configuration lacks %q:\n%s", want, cfg)
		}
	}
	if strings.Contains(string(cfg), "dest-dir") || strings.Contains(string(cfg), "role") {
		t.Errorf("install's own flags in the configuration:\n%s", cfg)
	}
	unit, err := os.ReadFile(filepath.Join(dest, "etc/systemd/system/wod-up.service"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"ExecStart=/usr/local/bin/wod up --config /etc/wod/up.yml", "KillMode=process", "Restart=on-failure"} {
		if !strings.Contains(string(unit), want) {
			t.Errorf("unit lacks %q:\n%s", want, unit)
		}
	}
	if bin, err := os.Stat(filepath.Join(dest, "usr/local/bin/wod")); err != nil || bin.Mode().Perm() != 0o755 {
		t.Fatalf("binary: %v %v", bin, err)
	}

	// The file loads back as the service will read it.
	code, out, errOut = runWod(t, "", "check", "--role", "server", "--config", cfgPath)
	if code != 0 || !strings.Contains(out, data) {
		t.Fatalf("check with the installed configuration: %d\n%s%s", code, out, errOut)
	}

	// The server runs unprivileged, owning only its data.
	if code, _, errOut := runWod(t, "", "install", "--role", "server", "--dest-dir", dest, "--data", data); code != 0 {
		t.Fatal(errOut)
	}
	unit, _ = os.ReadFile(filepath.Join(dest, "etc/systemd/system/wod-server.service"))
	for _, want := range []string{"User=wod", "ProtectSystem=strict", "ReadWritePaths=" + data, "NoNewPrivileges=yes"} {
		if !strings.Contains(string(unit), want) {
			t.Errorf("server unit lacks %q:\n%s", want, unit)
		}
	}
	if strings.Contains(string(unit), "KillMode") {
		t.Errorf("server unit keeps processes:\n%s", unit)
	}

	if code, _, errOut := runWod(t, "", "install", "--role", "agent", "--dest-dir", dest); code == 0 || !strings.Contains(errOut, "--server") {
		t.Fatalf("agent without a server: %d %s", code, errOut)
	}
	if code, _, errOut := runWod(t, "", "install", "--role", "cluster", "--dest-dir", dest); code == 0 || !strings.Contains(errOut, "want up, server or agent") {
		t.Fatalf("unknown role: %d %s", code, errOut)
	}
}

// TestInstallDryRunAndAgain: wod install --dry-run on a fresh Debian root
// prints the plan (the packages the role lacks first) and writes nothing;
// run for real twice, the second changes nothing and says so.
func TestInstallDryRunAndAgain(t *testing.T) {
	root, data := t.TempDir(), t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "var/lib/dpkg"), 0o755); err != nil {
		t.Fatal(err)
	}
	status := "Package: passwd\nStatus: install ok installed\n\nPackage: ca-certificates\nStatus: install ok installed\n\n"
	if err := os.WriteFile(filepath.Join(root, "var/lib/dpkg/status"), []byte(status), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"install", "--role", "server", "--root", root, "--data", data, "--log-level", "error"}
	code, out, errOut := runWod(t, "", append(args, "--dry-run", "--postgres")...)
	if code != 0 || !strings.Contains(out, " 1. install packages: postgresql") || !strings.Contains(out, "etc/wod/server.yml") {
		t.Fatalf("dry run: %d %s %s", code, out, errOut)
	}
	if _, err := os.Stat(filepath.Join(root, "etc")); err == nil {
		t.Fatalf("the dry run wrote files")
	}
	// The binary, the configuration, the unit and its link for the tree's boot.
	if code, out, errOut := runWod(t, "", args...); code != 0 || !strings.Contains(out, "(4 changes)") {
		t.Fatalf("first run: %d %s %s", code, out, errOut)
	}
	if code, out, errOut := runWod(t, "", args...); code != 0 || !strings.Contains(out, "nothing to change") {
		t.Fatalf("second run: %d %s %s", code, out, errOut)
	}
}
