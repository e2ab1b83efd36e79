package ssh

import (
	"strings"
	"testing"
)

// The scanner must find the cell's marker however the stream is cut into
// reads, drop other markers, and never cut a UTF-8 character.
func TestScannerCutsAtTheMarkerWhateverTheReads(t *testing.T) {
	const tok = "abc123"
	stream := "héllo\n" + markPrefix + "old0\x1f" + "wörld" + markPrefix + tok + "42\x1f"
	for size := 1; size <= len(stream); size++ {
		s := newScanner(tok)
		var out strings.Builder
		for i := 0; i < len(stream); i += size {
			b := s.feed([]byte(stream[i:min(i+size, len(stream))]))
			if !isValidUTF8(b) {
				t.Fatalf("reads of %d: a cut character %q", size, b)
			}
			out.Write(b)
		}
		if !s.found || s.value != "42" || out.String() != "héllo\nwörld" {
			t.Fatalf("reads of %d: found %v value %q out %q", size, s.found, s.value, out.String())
		}
	}
}

func TestScannerPassesTextThatOnlyLooksLikeAMarker(t *testing.T) {
	s := newScanner("tok")
	long := markPrefix + strings.Repeat("x", markMax+5)
	out := string(s.feed([]byte(long))) + string(s.flush())
	if out != long || s.found {
		t.Fatalf("%q found %v", out, s.found)
	}
}

func isValidUTF8(b []byte) bool { return strings.ToValidUTF8(string(b), "?") == string(b) }
