package agent

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// script writes an executable hook into a content directory's scripts/.
func script(t *testing.T, dir, name, body string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, "scripts"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "scripts", name), []byte("#!/bin/sh\n"+body+"\n"), mode); err != nil {
		t.Fatal(err)
	}
}

func TestHooks(t *testing.T) {
	public, private := t.TempDir(), t.TempDir()
	script(t, public, "create-WKSHP-Lab.sh", `echo "public $1 $STDID $STUDENT $WODRTARGET $MODEWS"; env | sort > "$WOD_VARS_FILE.env"`, 0o755)
	script(t, private, "create-WKSHP-Lab.sh", `echo "private $WORKSHOP $STUDENT_HOME"`, 0o755)
	script(t, private, "cleanup-WKSHP-Lab.sh", `echo never`, 0o644)
	script(t, public, "reset-WKSHP-Lab.sh", `echo "resetting $PASSSTU"; exit 3`, 0o755)
	script(t, public, "post-copy-WKSHP-Lab.sh", `sleep 5`, 0o755)
	vars := filepath.Join(t.TempDir(), "vars.yml")
	t.Setenv("WOD_SECRET_OF_THE_AGENT", "must not leak")

	h := &Hooks{Dirs: []string{public, private}, Timeout: 500 * time.Millisecond}
	env := HookEnv{Workshop: "WKSHP-Lab", Student: 7, Username: "student7", Home: "/student/student7", Password: "pw",
		Mode: "WKSHP", VarsFile: vars, Appliance: "10.0.1.26"}
	ctx := context.Background()

	out, err := h.Run(ctx, StageCreate, env)
	if err != nil {
		t.Fatalf("create: %v\n%s", err, out)
	}
	pub, priv := strings.Index(out, "public 7 7 student7 10.0.1.26 WKSHP"), strings.Index(out, "private WKSHP-Lab /student/student7")
	if pub < 0 || priv < pub {
		t.Fatalf("create: want the public hook then the private one, with the seat's values:\n%s", out)
	}
	seen, _ := os.ReadFile(vars + ".env")
	if strings.Contains(string(seen), "WOD_SECRET_OF_THE_AGENT") || !strings.Contains(string(seen), "WODRTARGET=10.0.1.26") {
		t.Fatalf("a hook's environment is the seat's, and only that:\n%s", seen)
	}

	out, err = h.Run(ctx, StageCleanup, env)
	if err != nil || !strings.Contains(out, "not executable: skipped") || strings.Contains(out, "never") {
		t.Fatalf("cleanup: a script without the x bit is skipped, and said so: %v\n%s", err, out)
	}

	out, err = h.Run(ctx, StageReset, env)
	if err == nil || !strings.Contains(err.Error(), "reset-WKSHP-Lab.sh") || !strings.Contains(out, "resetting pw") {
		t.Fatalf("reset: a failing hook is an error that names it, with its output: %v\n%s", err, out)
	}

	start := time.Now()
	_, err = h.Run(ctx, StagePostCopy, env)
	if err == nil || !strings.Contains(err.Error(), "timed out") || time.Since(start) > 4*time.Second {
		t.Fatalf("post-copy: a hook past its timeout is stopped: %v after %s", err, time.Since(start))
	}

	if out, err := h.Run(ctx, StageCreate, HookEnv{Workshop: "WKSHP-None", Student: 1}); err != nil || out != "" {
		t.Fatalf("a workshop without hooks: %q %v", out, err)
	}
}
