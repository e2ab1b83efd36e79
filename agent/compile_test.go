package agent

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wod-dev/wod/content"
	"github.com/wod-dev/wod/testenv"
)

// needShc skips without shc and a C compiler, unless the run requires them
// (scripts/test installs both).
func needShc(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"shc", "cc"} {
		testenv.Command(t, "WOD_TEST_REQUIRE_SHC", tool, "scripts/test installs shc and gcc")
	}
}

func TestCompile(t *testing.T) {
	needShc(t)
	public, private, home := t.TempDir(), t.TempDir(), t.TempDir()
	script(t, public, "login.sh", `echo "public {{ STDID }}"`, 0o644)
	script(t, private, "login.sh", `echo "cloud login student{{ STDID }} {{ CLOUDPASS }}"`, 0o644)
	script(t, public, "broken.sh", `echo "{{ NOT_DEFINED }}"`, 0o644)
	// Whatever the student left at the executable's name is replaced, not
	// written through.
	elsewhere := filepath.Join(t.TempDir(), "victim")
	os.WriteFile(elsewhere, []byte("keep"), 0o644)
	os.Symlink(elsewhere, filepath.Join(home, "login.sh.x"))

	c := &Compiler{Dirs: []string{public, private}, Renderer: content.NewRenderer()}
	vars := content.Vars{"STDID": "12", "CLOUDPASS": "S3cret-Cloud-Pw"}
	ctx := context.Background()
	if _, err := c.Compile(ctx, "WKSHP-Cloud", []string{"login.sh"}, vars, home); err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(home, "login.sh.x")
	info, err := os.Lstat(exe)
	if err != nil || !info.Mode().IsRegular() || info.Mode().Perm() != 0o711 {
		t.Fatalf("executable: %v %v", info, err)
	}
	if b, _ := os.ReadFile(elsewhere); string(b) != "keep" {
		t.Fatalf("the compiler wrote through a link: %q", b)
	}
	out, err := exec.Command(exe).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "cloud login student12 S3cret-Cloud-Pw" {
		t.Fatalf("the private overlay's script, rendered for the student: %q %v", out, err)
	}
	bin, _ := os.ReadFile(exe)
	if bytes.Contains(bin, []byte("S3cret-Cloud-Pw")) {
		t.Fatal("the credential reads in clear in the executable")
	}
	entries, _ := os.ReadDir(home)
	if len(entries) != 1 {
		t.Fatalf("the home holds more than the executable (sources, C files?): %v", entries)
	}

	if _, err := c.Compile(ctx, "WKSHP-Cloud", []string{"broken.sh"}, vars, home); err == nil ||
		!strings.Contains(err.Error(), "NOT_DEFINED") || !strings.Contains(err.Error(), "broken.sh") {
		t.Fatalf("an undefined variable: %v", err)
	}
	if _, err := c.Compile(ctx, "WKSHP-Cloud", []string{"missing.sh"}, vars, home); err == nil ||
		!strings.Contains(err.Error(), `"missing.sh"`) {
		t.Fatalf("a missing script: %v", err)
	}
	if _, err := c.Compile(ctx, "WKSHP-Cloud", []string{"../login.sh"}, vars, home); err == nil {
		t.Fatal("a path was taken for a script name")
	}
}
