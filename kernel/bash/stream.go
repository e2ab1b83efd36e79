package bash

import (
	"bytes"
	"strconv"
	"strings"
	"unicode/utf8"
)

// stream cuts a shell output stream into text for the front end and the
// end-of-cell marker: text goes out as valid UTF-8 as soon as it is known
// not to be the start of the marker or of a multi-byte character.
type stream struct {
	marker []byte
	buf    []byte
	// withStatus: the marker is followed by the cell's exit status and a
	// newline.
	withStatus bool
}

// feed adds b and returns the text to send now; done is set once the
// marker (and its status) has come, and status is the exit status then.
func (s *stream) feed(b []byte) (text string, done bool, status int) {
	s.buf = append(s.buf, b...)
	if i := bytes.Index(s.buf, s.marker); i >= 0 {
		rest := s.buf[i+len(s.marker):]
		if s.withStatus {
			nl := bytes.IndexByte(rest, '\n')
			if nl < 0 {
				// Wait for the status; send what precedes the marker.
				text = valid(s.buf[:i])
				s.buf = append([]byte(nil), s.buf[i:]...)
				return text, false, 0
			}
			var err error
			status, err = strconv.Atoi(strings.TrimSpace(string(rest[:nl])))
			if err != nil {
				status = 1
			}
			rest = rest[nl+1:]
		} else if len(rest) > 0 && rest[0] == '\n' {
			rest = rest[1:]
		}
		text = valid(s.buf[:i])
		// Whatever follows the marker (a background job's output) opens
		// the next cell.
		s.buf = append([]byte(nil), rest...)
		return text, true, status
	}
	keep := 0
	for k := min(len(s.marker)-1, len(s.buf)); k > 0; k-- {
		if bytes.HasSuffix(s.buf, s.marker[:k]) {
			keep = k
			break
		}
	}
	n := len(s.buf) - keep
	n = completeUTF8(s.buf[:n])
	text = valid(s.buf[:n])
	s.buf = append(s.buf[:0], s.buf[n:]...)
	return text, false, 0
}

// flush returns what is held back.
func (s *stream) flush() string {
	t := valid(s.buf)
	s.buf = s.buf[:0]
	return t
}

// completeUTF8 is the length of b without an incomplete UTF-8 sequence
// at its end (one that the next read may complete).
func completeUTF8(b []byte) int {
	for i := 1; i <= 3 && i <= len(b); i++ {
		c := b[len(b)-i]
		if c < 0x80 {
			return len(b)
		}
		if utf8.RuneStart(c) {
			if !utf8.FullRune(b[len(b)-i:]) {
				return len(b) - i
			}
			return len(b)
		}
	}
	return len(b)
}

// valid makes b valid UTF-8 (JSON needs it): binary output becomes U+FFFD.
func valid(b []byte) string {
	return strings.ToValidUTF8(string(b), "\uFFFD")
}
