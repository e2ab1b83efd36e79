package ssh

import (
	"bytes"
	"unicode/utf8"
)

// The shell ends a cell by printing markPrefix TOKEN VALUE markEnd on
// stdout and markPrefix TOKEN markEnd on stderr; TOKEN is new for every
// cell.
const (
	markPrefix = "\x1ewod:"
	markEnd    = '\x1f'
	// markMax bounds a marker's length: longer, it is text.
	markMax = 64
)

// scanner cuts a stream of the remote shell at its cell's marker: what
// comes before is the cell's output. It removes every marker (a late one
// of an interrupted cell as well), and holds back the bytes that could be
// the start of a marker or of a UTF-8 character split between two reads,
// so that neither reaches the notebook cut in half.
type scanner struct {
	token string
	buf   []byte
	found bool
	value string
}

func newScanner(token string) *scanner { return &scanner{token: token} }

// feed adds data read from the stream and returns the text that can be
// shown now.
func (s *scanner) feed(data []byte) []byte {
	s.buf = append(s.buf, data...)
	var out []byte
	for {
		i := bytes.Index(s.buf, []byte(markPrefix))
		if i < 0 {
			return append(out, s.take(len(s.buf)-partialSuffix(s.buf, []byte(markPrefix)))...)
		}
		rest := s.buf[i+len(markPrefix):]
		j := bytes.IndexByte(rest, markEnd)
		if j < 0 && len(rest) < markMax {
			return append(out, s.take(i)...) // the marker's end is still to come
		}
		if j < 0 || j >= markMax {
			// Not a marker: text that happens to look like one.
			out = append(out, s.take(i+len(markPrefix))...)
			continue
		}
		if v, ok := bytes.CutPrefix(rest[:j], []byte(s.token)); ok && !s.found {
			s.found, s.value = true, string(v)
		}
		out = append(out, s.take(i)...) // take moves the buffer: rest is stale now
		s.buf = append(s.buf[:0], s.buf[len(markPrefix)+j+1:]...)
	}
}

// flush returns whatever is held back: the stream ended.
func (s *scanner) flush() []byte {
	out := s.buf
	s.buf = nil
	return out
}

// take returns up to n bytes of the buffer, less an incomplete UTF-8
// character at the end, and keeps the rest.
func (s *scanner) take(n int) []byte {
	n -= incompleteRune(s.buf[:n])
	out := append([]byte(nil), s.buf[:n]...)
	s.buf = append(s.buf[:0], s.buf[n:]...)
	return out
}

// partialSuffix is the length of the longest end of b that is a beginning
// of marker.
func partialSuffix(b, marker []byte) int {
	for n := min(len(marker)-1, len(b)); n > 0; n-- {
		if bytes.HasSuffix(b, marker[:n]) {
			return n
		}
	}
	return 0
}

// incompleteRune is the number of bytes at the end of b that begin a UTF-8
// character not complete yet (0 when b ends on a character boundary or
// with invalid bytes, which wait for nothing).
func incompleteRune(b []byte) int {
	for n := 1; n <= utf8.UTFMax-1 && n <= len(b); n++ {
		c := b[len(b)-n]
		if c < utf8.RuneSelf {
			return 0
		}
		if utf8.RuneStart(c) {
			if utf8.FullRune(b[len(b)-n:]) {
				return 0
			}
			return n
		}
	}
	return 0
}
