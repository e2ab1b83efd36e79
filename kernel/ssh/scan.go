package ssh

import (
	"bytes"
	"unicode/utf8"
)

// markEnd ends a marker's value: the shell prints MARKER VALUE markEnd.
const markEnd = '\x1f'

// scanner cuts a stream of the remote shell at a marker: what comes before
// is the cell's output, the marker and its value tell that the cell is
// over. It holds back the bytes that could be the start of the marker or
// of a UTF-8 character split between two reads, so that neither reaches
// the notebook cut in half.
type scanner struct {
	marker []byte
	buf    []byte
	found  bool
	value  string
}

func newScanner(marker string) *scanner { return &scanner{marker: []byte(marker)} }

// feed adds data read from the stream and returns the text that can be
// shown now. After the marker, everything is passed through.
func (s *scanner) feed(data []byte) []byte {
	s.buf = append(s.buf, data...)
	if s.found {
		return s.take(len(s.buf))
	}
	if i := bytes.Index(s.buf, s.marker); i >= 0 {
		rest := s.buf[i+len(s.marker):]
		j := bytes.IndexByte(rest, markEnd)
		if j < 0 {
			return s.take(i)
		}
		s.found = true
		s.value = string(rest[:j])
		out := append(append([]byte(nil), s.buf[:i]...), rest[j+1:]...)
		s.buf = nil
		return out
	}
	return s.take(len(s.buf) - partialSuffix(s.buf, s.marker))
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
