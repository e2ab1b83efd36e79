package gointerp

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"

	"github.com/cosmos72/gomacro/base"
	"github.com/cosmos72/gomacro/fast"
	"github.com/wod-dev/wod/kernel"
)

const magicHelp = `available special commands (%):
%help
%cd [dir]
%go111module {on|off}

execute shell commands ($): $command [args...]
example:
$ls -l
`

// splitMagics separates gophernotes' special lines, those starting with %
// or $ before the first line of Go, from the code. The Go keeps its line
// numbers: each special line becomes an empty one.
func splitMagics(code string) (magics []string, rest string) {
	lines := strings.Split(code, "\n")
	for i, line := range lines {
		t := strings.TrimSpace(line)
		if t == "" {
			continue
		}
		if t[0] != '%' && t[0] != '$' {
			break
		}
		magics = append(magics, t)
		lines[i] = ""
	}
	return magics, strings.Join(lines, "\n")
}

// runMagic runs one special line; output goes to the captured os.Stdout and
// os.Stderr like the cell's.
func (in *Interpreter) runMagic(ctx context.Context, w *worker, line string) error {
	if line[0] == '$' {
		return in.runCommand(ctx, strings.Fields(line[1:]))
	}
	cmd, arg, _ := strings.Cut(line, " ")
	arg = strings.TrimSpace(arg)
	switch cmd {
	case "%help":
		io.WriteString(os.Stdout, magicHelp)
	case "%cd":
		dir := arg
		if dir == "" {
			home, err := os.UserHomeDir()
			if err != nil {
				return cellError(fmt.Sprintf("%%cd: %v", err))
			}
			dir = home
		}
		if err := os.Chdir(dir); err != nil {
			return cellError(fmt.Sprintf("%%cd: %v", err))
		}
		if wd, err := os.Getwd(); err == nil {
			fmt.Fprintln(os.Stdout, wd)
		}
	case "%go111module":
		var set func(*fast.Interp)
		switch arg {
		case "on":
			set = func(ir *fast.Interp) { ir.Comp.CompGlobals.Options |= base.OptModuleImport }
		case "off":
			set = func(ir *fast.Interp) { ir.Comp.CompGlobals.Options &^= base.OptModuleImport }
		default:
			return cellError(fmt.Sprintf("special command %s: expecting a single argument 'on' or 'off', found: %q", cmd, arg))
		}
		<-w.do(set)
	default:
		return cellError(fmt.Sprintf("unknown special command: %q\n%s", line, magicHelp))
	}
	return nil
}

// runCommand runs a program, without a shell, as gophernotes' `$` does;
// an interrupt kills it.
func (in *Interpreter) runCommand(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return nil
	}
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Env = append(os.Environ(), "GODEBUG="+in.childGODEBUG)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return fmt.Errorf("running %s: %w", args[0], err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return fmt.Errorf("running %s: %w", args[0], err)
	}
	if err := cmd.Start(); err != nil {
		return cellError(fmt.Sprintf("error starting command '%s': %v", strings.Join(args, " "), err))
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); io.Copy(os.Stdout, stdout) }()
	go func() { defer wg.Done(); io.Copy(os.Stderr, stderr) }()
	wg.Wait()
	err = cmd.Wait()
	if ctx.Err() != nil {
		return kernel.ErrInterrupted
	}
	if err != nil {
		return cellError(fmt.Sprintf("error waiting for command '%s': %v", strings.Join(args, " "), err))
	}
	return nil
}
