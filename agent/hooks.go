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
	"strconv"
	"syscall"
	"time"
)

// Hooks runs a workshop's lifecycle scripts: `<stage>-<WKSHP>.sh` found in
// the `scripts/` folder of each content directory, public first, then the
// private overlays, as the original runs WODSCRIPTDIR then WODSCRIPTPRIVDIR.
// They set up appliances and may hand variables to the notebooks by writing
// `KEY: value` lines to the file named by $WOD_VARS_FILE (the original's
// "pass file").
type Hooks struct {
	// Dirs are the content directories, public first.
	Dirs []string
	// Timeout bounds one script (default 5 minutes).
	Timeout time.Duration
}

// Stages of the lifecycle that have hooks.
const (
	StageCreate   = "create"
	StagePostCopy = "post-copy"
	StageCleanup  = "cleanup"
	StageReset    = "reset"
)

// HookEnv is what a hook learns about the seat; hooks get a clean
// environment with only these (and PATH).
type HookEnv struct {
	Workshop  string
	Student   int
	Username  string
	Home      string
	Password  string
	Mode      string // WKSHP or CHLG
	VarsFile  string
	Appliance string // appliance address, if the workshop has one
}

// Run runs the stage's scripts that exist and returns their combined
// output. A script that fails stops the stage with an error that carries
// its output.
func (h *Hooks) Run(ctx context.Context, stage string, env HookEnv) (string, error) {
	var out bytes.Buffer
	for _, dir := range contentDirs(ctx, h.Dirs) {
		script := filepath.Join(dir, "scripts", stage+"-"+env.Workshop+".sh")
		info, err := os.Stat(script)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return out.String(), err
		}
		if info.Mode()&0o111 == 0 {
			fmt.Fprintf(&out, "# %s is not executable: skipped\n", script)
			continue
		}
		timeout := h.Timeout
		if timeout <= 0 {
			timeout = 5 * time.Minute
		}
		hctx, cancel := context.WithTimeout(ctx, timeout)
		cmd := exec.CommandContext(hctx, script, strconv.Itoa(env.Student))
		cmd.Dir = filepath.Dir(script)
		cmd.Env = []string{
			"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
			"LANG=C.UTF-8",
			"STDID=" + strconv.Itoa(env.Student),
			"WORKSHOP=" + env.Workshop,
			"STUDENT=" + env.Username,
			"STUDENT_HOME=" + env.Home,
			"PASSSTU=" + env.Password,
			"MODEWS=" + env.Mode,
			"WOD_VARS_FILE=" + env.VarsFile,
			"WODRTARGET=" + env.Appliance,
		}
		// A hook runs in a process group of its own: past its timeout the
		// whole group goes (a hung ssh or docker below the shell included),
		// and a daemon it forked cannot keep the agent waiting long.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
		cmd.WaitDelay = 5 * time.Second
		fmt.Fprintf(&out, "# %s\n", script)
		cmd.Stdout, cmd.Stderr = &out, &out
		err = cmd.Run()
		cancel()
		if err != nil {
			if hctx.Err() == context.DeadlineExceeded {
				err = fmt.Errorf("timed out after %s", timeout)
			}
			return out.String(), fmt.Errorf("hook %s: %w", filepath.Base(script), err)
		}
	}
	return out.String(), nil
}
