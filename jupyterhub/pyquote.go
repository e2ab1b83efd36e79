package jupyterhub

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// pyStr returns s as a Python 3 str literal that evaluates to exactly s.
//
// The configuration we hand to JupyterHub is Python source that the hub
// executes as root, so every value that reaches it (an announcement typed by an
// operator, a path, a token) goes through this function. The literal is
// single-quoted and contains only printable ASCII: quotes and backslashes are
// escaped, and every other character (control characters, line separators,
// anything non-ASCII) is written as a \x, \u or \U escape. Nothing in s can
// therefore end the literal or start a new statement. Bytes that are not valid
// UTF-8 become U+FFFD, because a Python str holds code points, not bytes.
func pyStr(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('\'')
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		switch {
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\'':
			b.WriteString(`\'`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r >= 0x20 && r < 0x7f:
			b.WriteRune(r)
		case r < 0x100:
			fmt.Fprintf(&b, `\x%02x`, r)
		case r < 0x10000:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			fmt.Fprintf(&b, `\U%08x`, r)
		}
	}
	b.WriteByte('\'')
	return b.String()
}

// pyStrList returns a Python list literal of str literals.
func pyStrList(ss []string) string {
	return "[" + joinPyStrs(ss) + "]"
}

// pyStrSet returns a Python set literal of str literals. An empty set is
// written as set(), because {} would be an empty dict.
func pyStrSet(ss []string) string {
	if len(ss) == 0 {
		return "set()"
	}
	return "{" + joinPyStrs(ss) + "}"
}

func joinPyStrs(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = pyStr(s)
	}
	return strings.Join(q, ", ")
}

// pyFloat returns f as a Python float literal. NaN and infinities have no
// literal form in Python and are refused rather than written as names that
// would fail (or worse, resolve to something else) when the hub loads the file.
func pyFloat(f float64) (string, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return "", errors.New("not a finite number")
	}
	s := strconv.FormatFloat(f, 'g', -1, 64)
	if !strings.ContainsAny(s, ".eE") {
		s += ".0" // keep it a float for traitlets Float traits
	}
	return s, nil
}
