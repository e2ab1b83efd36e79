package bash

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/wod-dev/wod/kernel"
)

// completeScript proposes completions of the word in $__wod_dir/word, as
// bash_kernel does: variables after "$"; else directories (with a "/"),
// files, and, for a word without "/" not inside double quotes, aliases,
// builtins, commands and functions.
const completeScript = `__wod_w=$(<"$__wod_dir/word")
if [[ $__wod_w == '$'* ]]; then
	compgen -P '$' -A arrayvar -A export -A variable -- "${__wod_w:1}"
else
	compgen -d -S / -- "$__wod_w"
	compgen -f -- "$__wod_w"
	if [[ $__wod_w != */* && ! -e "$__wod_dir/quoted" ]]; then compgen -abc -A function -- "$__wod_w"; fi
fi
unset __wod_w`

const completeLine = `. "$__wod_dir/complete" >"$__wod_dir/matches" 2>/dev/null; __wod_end $?`

// Complete completes the word before cursor (in code points) with the
// shell's own compgen, so that its functions and variables count.
func (b *Interpreter) Complete(ctx context.Context, code string, cursor int) kernel.Completion {
	runes := []rune(code)
	cursor = max(0, min(cursor, len(runes)))
	before := string(runes[:cursor])
	start := strings.LastIndexAny(before, " \t\n;=\"'><|&(") + 1
	word := before[start:]
	wordStart := cursor - len([]rune(word))
	none := kernel.Completion{Matches: []string{}, CursorStart: cursor, CursorEnd: cursor}
	if b.sh == nil || !b.sh.alive() {
		return none
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	quoted := filepath.Join(b.dir, "quoted")
	os.Remove(quoted)
	if start > 0 && before[start-1] == '"' {
		os.WriteFile(quoted, nil, 0o600)
	}
	if os.WriteFile(filepath.Join(b.dir, "word"), []byte(word), 0o600) != nil ||
		os.WriteFile(filepath.Join(b.dir, "complete"), []byte(completeScript+"\n"), 0o600) != nil {
		return none
	}
	if _, err := b.sh.run(ctx, completeLine, discard{}, false); err != nil {
		return none
	}
	out, err := os.ReadFile(filepath.Join(b.dir, "matches"))
	if err != nil {
		return none
	}
	var matches []string
	for _, m := range strings.Split(string(out), "\n") {
		if m != "" && strings.HasPrefix(m, word) {
			matches = append(matches, m)
		}
	}
	slices.Sort(matches)
	matches = slices.Compact(matches)
	if matches == nil {
		matches = []string{}
	}
	return kernel.Completion{Matches: matches, CursorStart: wordStart, CursorEnd: cursor}
}

// discard is the Output of the kernel's own commands.
type discard struct{}

func (discard) Stream(string, string)                {}
func (discard) Display(map[string]any, string, bool) {}
func (discard) Result(map[string]any)                {}
func (discard) Input(context.Context, string, bool) (string, error) {
	return "", kernel.ErrNoStdin
}

// IsComplete asks `bash -n` whether code parses: an unclosed quote or
// block is "incomplete", another syntax error "invalid".
func (b *Interpreter) IsComplete(code string) (status, indent string) {
	if strings.TrimSpace(code) == "" {
		return "complete", ""
	}
	if strings.HasSuffix(strings.TrimRight(code, " \t"), "\\") {
		return "incomplete", ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-n")
	cmd.Stdin = strings.NewReader(code + "\n")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	switch {
	case err == nil:
		return "complete", ""
	case ctx.Err() != nil:
		return "unknown", ""
	case strings.Contains(stderr.String(), "unexpected end of file"), strings.Contains(stderr.String(), "unexpected EOF"):
		return "incomplete", ""
	default:
		return "invalid", ""
	}
}
