package jupyterhub

import (
	"strings"
	"testing"
)

func TestRehearsalExcerpts(t *testing.T) {
	tb := []string{
		"\x1b[0;31m---------------------------------------------------------------------------\x1b[0m",
		"\x1b[0;31mZeroDivisionError\x1b[0m                         Traceback (most recent call last)",
		"Cell \x1b[0;32mIn[2], line 1\x1b[0m\n\x1b[0;32m----> 1\x1b[0m \x1b[38;5;241m1\x1b[39m\x1b[38;5;241m/\x1b[39m\x1b[38;5;241m0\x1b[39m\n",
		"\x1b[0;31mZeroDivisionError\x1b[0m: division by zero",
	}
	want := "ZeroDivisionError                         Traceback (most recent call last)\nCell In[2], line 1\n----> 1 1/0\nZeroDivisionError: division by zero"
	if got := tracebackExcerpt(tb); got != want {
		t.Errorf("tracebackExcerpt = %q, want %q", got, want)
	}
	long := strings.Repeat("line\n", 30)
	if got := outputExcerpt([]map[string]any{{"output_type": "stream", "name": "stdout", "text": long}}); got != strings.Repeat("line\n", outputLines)+"…" {
		t.Errorf("outputExcerpt of 30 lines = %q", got)
	}
	outs := []map[string]any{
		{"output_type": "stream", "name": "stdout", "text": "a\n"},
		{"output_type": "display_data", "data": map[string]any{"text/plain": []any{"b\n", "c"}, "image/png": "…"}},
		{"output_type": "error", "ename": "E", "evalue": "v", "traceback": []string{}},
		{"output_type": "execute_result", "data": map[string]any{"text/plain": "\x1b[31md\x1b[0m"}},
	}
	if got := outputExcerpt(outs); got != "a\nb\nc\nd" {
		t.Errorf("outputExcerpt = %q", got)
	}
	if got := truncate(strings.Repeat("é", excerptBytes)); len(got) > excerptBytes+len("…") || !strings.HasSuffix(got, "é…") {
		t.Errorf("truncate cuts a rune: %q", got[len(got)-8:])
	}
	for in, want := range map[string]string{"WKSHP-X/1-Intro.ipynb": "1-Intro.ipynb", "WKSHP-X/sub/a.ipynb": "sub/a.ipynb", "a.ipynb": "a.ipynb"} {
		if got := workshopRelative(in); got != want {
			t.Errorf("workshopRelative(%q) = %q", in, got)
		}
	}
	for _, c := range []struct {
		meta map[string]any
		want bool
	}{
		{nil, true},
		{map[string]any{"tags": []any{"x", "skip-rehearsal"}}, false},
		{map[string]any{"wod": map[string]any{"rehearse": false}}, false},
		{map[string]any{"wod": map[string]any{"rehearse": true}, "tags": []any{"x"}}, true},
		{map[string]any{"wod": "odd"}, true},
	} {
		if got := cellRehearsed(map[string]any{"metadata": c.meta}); got != c.want {
			t.Errorf("cellRehearsed(%v) = %v", c.meta, got)
		}
	}
}
