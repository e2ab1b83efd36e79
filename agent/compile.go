package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/wod-dev/wod/content"
)

// Compiler turns the scripts a workshop lists under `compile:` in its
// wod.yml into executables in the student's home, as the original's
// compile_scripts.yml does with shc: each script is rendered with the
// student's variables (so that it may hold credentials, such as a private
// cloud's login) and compiled, so that the student runs it without reading
// it.
//
// Unlike the original, the rendered source never enters the home (it is
// written to a root-only directory), and the executable stays root's with
// mode 0711: the student can run it, not read, patch or replace it in place.
type Compiler struct {
	// Dirs are the content directories, public first: the script is
	// `scripts/<name>` of the last one that has it (a private overlay wins).
	Dirs     []string
	Renderer *content.Renderer
	// Timeout bounds one compilation (default 2 minutes).
	Timeout time.Duration
	// TempDir holds the rendered sources while they compile (default the
	// system's temporary directory; each compilation gets a 0700 folder).
	TempDir string
}

// Compile renders and compiles each named script into <home>/<name>.x, and
// returns what shc printed. The workshop names the scripts in error messages.
func (c *Compiler) Compile(ctx context.Context, workshop string, names []string, vars content.Vars, home string) (string, error) {
	if len(names) == 0 {
		return "", nil
	}
	shc, err := exec.LookPath("shc")
	if err != nil {
		return "", fmt.Errorf("%s compiles scripts (compile: in its wod.yml) but shc is not installed on this agent: apt install shc gcc", workshop)
	}
	tmp, err := os.MkdirTemp(c.TempDir, "wod-compile-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	root, err := os.OpenRoot(home)
	if err != nil {
		return "", err
	}
	defer root.Close()
	var out bytes.Buffer
	for _, name := range names {
		if err := c.compile(ctx, shc, workshop, name, vars, tmp, root, &out); err != nil {
			return out.String(), err
		}
	}
	return out.String(), nil
}

func (c *Compiler) compile(ctx context.Context, shc, workshop, name string, vars content.Vars, tmp string, home *os.Root, out *bytes.Buffer) error {
	script, err := content.ScriptPath(contentDirs(ctx, c.Dirs), name)
	if err != nil {
		return fmt.Errorf("%s: compile: %w", workshop, err)
	}
	text, err := os.ReadFile(script)
	if err != nil {
		return fmt.Errorf("%s: compile: %w", workshop, err)
	}
	rendered, err := c.Renderer.RenderFile("scripts/"+name, text, vars)
	if err != nil {
		return fmt.Errorf("%s: compile: %w", workshop, err)
	}
	src, bin := filepath.Join(tmp, name), filepath.Join(tmp, name+".x")
	if err := os.WriteFile(src, rendered, 0o600); err != nil {
		return err
	}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = 2 * time.Minute
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(cctx, shc, "-f", src, "-o", bin)
	cmd.Dir = tmp
	cmd.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8", "TMPDIR=" + tmp}
	fmt.Fprintf(out, "# shc -f %s\n", name)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Run(); err != nil {
		if cctx.Err() == context.DeadlineExceeded {
			err = fmt.Errorf("timed out after %s", timeout)
		}
		return fmt.Errorf("%s: compile %s: shc: %w", workshop, name, err)
	}
	exe, err := os.ReadFile(bin)
	if err != nil {
		return fmt.Errorf("%s: compile %s: %w", workshop, name, err)
	}
	// Replace whatever is at the name (a file, a link the student left)
	// rather than write through it.
	target := name + ".x"
	if err := home.Remove(target); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s: compile %s: %w", workshop, name, err)
	}
	f, err := home.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o711)
	if err != nil {
		return fmt.Errorf("%s: compile %s: %w", workshop, name, err)
	}
	if _, err := f.Write(exe); err != nil {
		f.Close()
		return fmt.Errorf("%s: compile %s: %w", workshop, name, err)
	}
	if err := f.Chmod(0o711); err != nil { // whatever the umask
		f.Close()
		return err
	}
	return f.Close()
}
