package jupyterhub

import (
	"context"
	"encoding/hex"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// nastyStrings try to escape a Python literal or smuggle code.
func nastyStrings() []string {
	return []string{
		"",
		"plain",
		"it's",
		`back\slash`,
		`trailing\`,
		`'''`,
		`"""`,
		"'; import os; os.system('id'); '",
		"line1\nline2\r\nline3",
		"tab\tnul\x00bell\x07esc\x1b del\x7f",
		"unicode é ü 日本語 🎓",
		"line\u2028separator\u2029para\u0085nel",
		"bidi \u202e override",
		"\\N{BULLET} not an escape",
		"{username} %s %(x)s",
		"invalid utf8 \xff\xfe end",
	}
}

func TestPyStrIsPrintableASCII(t *testing.T) {
	for _, s := range nastyStrings() {
		lit := pyStr(s)
		if !strings.HasPrefix(lit, "'") || !strings.HasSuffix(lit, "'") {
			t.Errorf("pyStr(%q) = %s: not single-quoted", s, lit)
		}
		for _, r := range lit {
			if r < 0x20 || r > 0x7e {
				t.Errorf("pyStr(%q) = %q: contains %U", s, lit, r)
			}
		}
	}
}

func TestPyStrKnownValues(t *testing.T) {
	cases := map[string]string{
		"":        `''`,
		"a'b":     `'a\'b'`,
		`a\b`:     `'a\\b'`,
		"a\nb":    `'a\nb'`,
		"é":       `'\xe9'`,
		"日":       `'\u65e5'`,
		"🎓":       `'\U0001f393'`,
		"\x00":    `'\x00'`,
		"\xff":    `'\ufffd'`,
		"{x} %s ": `'{x} %s '`,
	}
	for in, want := range cases {
		if got := pyStr(in); got != want {
			t.Errorf("pyStr(%q) = %s, want %s", in, got, want)
		}
	}
	if got := pyStrSet(nil); got != "set()" {
		t.Errorf("pyStrSet(nil) = %s", got)
	}
	if got := pyStrList([]string{"a", "b'"}); got != `['a', 'b\'']` {
		t.Errorf("pyStrList = %s", got)
	}
	for f, want := range map[float64]string{0.17: "0.17", 14: "14.0", 1e21: "1e+21"} {
		if got, err := pyFloat(f); err != nil || got != want {
			t.Errorf("pyFloat(%v) = %s, %v; want %s", f, got, err, want)
		}
	}
}

// TestPyStrRoundTripsThroughPython evaluates every literal with a real Python
// and compares what it decodes to.
func TestPyStrRoundTripsThroughPython(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not installed")
	}
	var src strings.Builder
	src.WriteString("import sys\n")
	for _, s := range nastyStrings() {
		src.WriteString("sys.stdout.write(" + pyStr(s) + ".encode('utf-8', 'surrogatepass').hex() + '\\n')\n")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, py, "-c", src.String()).CombinedOutput()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	for i, s := range nastyStrings() {
		want := string([]rune(s)) // each invalid byte becomes U+FFFD
		if i >= len(lines) {
			t.Fatalf("python printed %d lines", len(lines))
		}
		got, err := hex.DecodeString(lines[i])
		if err != nil {
			t.Fatalf("line %d: %v", i, err)
		}
		if string(got) != want {
			t.Errorf("round trip of %q: python read %q", s, got)
		}
	}
}
