package install

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/wod-dev/wod/config"
)

// TestWriteFiles: under DestDir the service's configuration, unit and
// binary are written and nothing else is touched; the configuration loads
// back into the sections the roles read (branding, content check, notebook
// variables, announcement) from the keys wod install has always written.
func TestWriteFiles(t *testing.T) {
	dest, data := t.TempDir(), t.TempDir()
	binary := filepath.Join(t.TempDir(), "wod")
	if err := os.WriteFile(binary, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	in := &Service{Role: config.RoleUp, Binary: binary, Bin: "/usr/local/bin/wod", Data: data, DestDir: dest, Start: true, Out: &out,
		KernelspecDir: "/usr/share/jupyter/kernels",
		Settings: map[string]any{"data": data, "brand-name": "Acme", "brand-color": "#123abc", "support-email": "help@acme.example",
			"feedback-url": "https://survey.acme.example", "announcement": "Maintenance at noon", "content-check": "warn",
			"var": []string{"IP-WKSHP-A=10.0.0.1", "HTTPPORT=8888"}}}
	if err := in.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dest, in.ConfigPath())
	if info, err := os.Stat(cfgPath); err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("configuration file: %v %v", info, err)
	}
	unit, err := os.ReadFile(filepath.Join(dest, "etc/systemd/system", in.UnitName()))
	if err != nil || !bytes.Contains(unit, []byte("ExecStart=/usr/local/bin/wod up --config /etc/wod/up.yml")) ||
		!bytes.Contains(unit, []byte("KillMode=process")) || bytes.Contains(unit, []byte("User=wod")) {
		t.Fatalf("unit: %v\n%s", err, unit)
	}
	if bin, err := os.Stat(filepath.Join(dest, "usr/local/bin/wod")); err != nil || bin.Mode().Perm() != 0o755 {
		t.Fatalf("binary: %v %v", bin, err)
	}
	if !strings.Contains(out.String(), "wrote "+cfgPath) {
		t.Fatalf("output: %s", out.String())
	}

	// wod's kernels, running the installed binary.
	if spec, err := os.ReadFile(filepath.Join(dest, "usr/share/jupyter/kernels/bash/kernel.json")); err != nil ||
		!bytes.Contains(spec, []byte(`"/usr/local/bin/wod",`)) {
		t.Fatalf("bash kernelspec: %v\n%s", err, spec)
	}

	var c config.Config
	fs := pflag.NewFlagSet("wod", pflag.ContinueOnError)
	c.Register(fs)
	if err := fs.Parse([]string{"--config", cfgPath}); err != nil {
		t.Fatal(err)
	}
	if err := c.Resolve(fs, func(string) string { return "" }); err != nil {
		t.Fatalf("the installed configuration does not load: %v", err)
	}
	if c.Branding.Name != "Acme" || c.Branding.Color != "#123abc" || c.Branding.Support != "help@acme.example" ||
		c.Branding.FeedbackURL != "https://survey.acme.example" || c.Announcement != "Maintenance at noon" ||
		c.ContentCheck != "warn" || !slices.Equal(c.NotebookVars, []string{"IP-WKSHP-A=10.0.0.1", "HTTPPORT=8888"}) ||
		c.Data != data {
		t.Fatalf("loaded: data %s branding %+v announcement %q content check %q vars %v", c.Data, c.Branding,
			c.Announcement, c.ContentCheck, c.NotebookVars)
	}

	// The server runs unprivileged, owning only its data.
	in = &Service{Role: config.RoleServer, Binary: binary, Bin: "/usr/local/bin/wod", Data: data, DestDir: dest, Out: &out,
		Settings: map[string]any{"data": data}}
	if err := in.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	unit, _ = os.ReadFile(filepath.Join(dest, "etc/systemd/system/wod-server.service"))
	for _, want := range []string{"User=wod", "ProtectSystem=strict", "ReadWritePaths=" + data, "NoNewPrivileges=yes"} {
		if !bytes.Contains(unit, []byte(want)) {
			t.Errorf("server unit lacks %q:\n%s", want, unit)
		}
	}
	if err := (&Service{Role: "cluster", DestDir: dest, Out: &out}).Run(context.Background()); err == nil ||
		!strings.Contains(err.Error(), "want up, server or agent") {
		t.Fatalf("unknown role: %v", err)
	}
}
