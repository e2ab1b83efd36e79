package emailpolicy

import (
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	p := New([]string{"@1secmail.com", "competitor.example", "troll@example.org"}, []string{"allowed-temp.example"})
	if p.Disposable() < 1000 {
		t.Fatalf("only %d disposable domains loaded", p.Disposable())
	}
	for _, tc := range []struct {
		addr string
		want string // substring of the error, "" for accepted
	}{
		{"ann@example.com", ""},
		{"ann@hpe.com", ""},
		{"bob@gmail.com", ""},
		{"x@mailinator.com", "disposable"},
		{"x@sub.mailinator.com", "disposable"},
		{"x@1secmail.com", "cannot be used"},
		{"x@competitor.example", "cannot be used"},
		{"x@eu.competitor.example", "cannot be used"},
		{"x@notcompetitor.example", ""},
		{"troll@example.org", "cannot be used"},
		{"friend@example.org", ""},
	} {
		err := p.Check(tc.addr)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s refused: %v", tc.addr, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: got %v, want an error with %q", tc.addr, err, tc.want)
		}
	}
}
