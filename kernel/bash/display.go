package bash

import (
	"encoding/base64"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/wod-dev/wod/kernel"
)

// displayFuncs are bash_kernel's display helpers: `display` (an image),
// `displayHTML` and `displayJS` read their data on stdin (an optional
// argument is a display id, to update the output in place), save it to a
// file and name the file on stderr, where the kernel picks it up.
const displayFuncs = `__wod_display() {
	local f
	f=$(mktemp "${TMPDIR:-/tmp}/bash_kernel.XXXXXXXXXX") || return
	cat >"$f"
	if [[ -n $2 ]]; then
		printf 'bash_kernel: saved %s data to: (%s) %s\n' "$1" "$2" "$f" >&2
	else
		printf 'bash_kernel: saved %s data to: %s\n' "$1" "$f" >&2
	fi
}
display() { __wod_display image "$1"; }
displayHTML() { __wod_display html "$1"; }
displayJS() { __wod_display javascript "$1"; }
export NOTEBOOK_BASH_KERNEL_CAPABILITIES=image,html,javascript
`

const displayPrefix = "bash_kernel: saved "

var displayLine = regexp.MustCompile(`^bash_kernel: saved (image|html|javascript) data to: (?:\(([^)]*)\) )?(.+)$`)

// displayOutput turns the display helpers' stderr lines into display_data
// (any program may print one, as with bash_kernel); the rest passes.
type displayOutput struct {
	kernel.Output
	pending string // a stderr line that may be a display line
}

func (d *displayOutput) Stream(name, text string) {
	if name != "stderr" {
		d.Output.Stream(name, text)
		return
	}
	text = d.pending + text
	d.pending = ""
	var pass strings.Builder
	for text != "" {
		line, rest, complete := strings.Cut(text, "\n")
		if !complete {
			// Held back only while it may still become a display line:
			// a prompt without a newline must go out at once.
			if strings.HasPrefix(line, displayPrefix) || strings.HasPrefix(displayPrefix, line) {
				d.pending = line
			} else {
				pass.WriteString(line)
			}
			break
		}
		if m := displayLine.FindStringSubmatch(line); m != nil {
			if pass.Len() > 0 {
				d.Output.Stream("stderr", pass.String())
				pass.Reset()
			}
			d.display(m[1], m[2], m[3])
		} else {
			pass.WriteString(line + "\n")
		}
		text = rest
	}
	if pass.Len() > 0 {
		d.Output.Stream("stderr", pass.String())
	}
}

// flush sends a held-back partial line.
func (d *displayOutput) flush() {
	if d.pending != "" {
		d.Output.Stream("stderr", d.pending)
		d.pending = ""
	}
}

func (d *displayOutput) display(kind, id, file string) {
	b, err := os.ReadFile(file)
	if err != nil {
		d.Output.Stream("stderr", "bash_kernel: cannot read "+file+": "+err.Error()+"\n")
		return
	}
	if dir := filepath.Dir(file); dir == filepath.Clean(os.TempDir()) || dir == "/tmp" {
		os.Remove(file)
	}
	var data map[string]any
	switch kind {
	case "html":
		data = map[string]any{"text/html": string(b)}
	case "javascript":
		data = map[string]any{"application/javascript": string(b)}
	default:
		switch t := http.DetectContentType(b); t {
		case "image/png", "image/jpeg", "image/gif", "image/webp":
			data = map[string]any{t: base64.StdEncoding.EncodeToString(b)}
		default:
			d.Output.Stream("stderr", "bash_kernel: unknown image type "+t+" in "+file+"\n")
			return
		}
	}
	d.Output.Display(data, id, id != "")
}
