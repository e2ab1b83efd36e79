package content

import (
	"strings"

	"github.com/nikolalohinski/gonja/v2/config"
	"github.com/nikolalohinski/gonja/v2/tokens"
)

// keepRawNewline makes gonja keep the newline that follows a `{% raw %}` tag,
// as Python's Jinja2 does: there, trim_blocks removes the newline after a
// block tag but not after `raw`, whose opening tag has its own pattern in
// the lexer; gonja removes it. The RUST101 notebook has `{% raw %}` alone on
// its line, so without this the rendered text would lose a line.
//
// The fix writes such a tag as `{% raw +%}`, which makes gonja skip
// trim_blocks for that one tag. (Python's Jinja2 does not accept `+` on raw
// at all: it never trims there.) Tags are found among the tokens of gonja's
// own lexer (toks), so that text that merely looks like a tag (inside another
// raw block, a string or a comment) is left alone. One byte is added per
// tag, on its line: line numbers do not change, and the columns of errors
// are taken from toks, the unmodified text.
func keepRawNewline(src string, toks []*tokens.Token, cfg *config.Config) string {
	var at []int // offsets of the "%}" to turn into "+%}"
	for i := 0; i+2 < len(toks); i++ {
		begin, name, end := toks[i], toks[i+1], toks[i+2]
		if begin.Type != tokens.BlockBegin || name.Type != tokens.Name || name.Val != "raw" ||
			end.Type != tokens.BlockEnd || end.Val != cfg.BlockEndString {
			continue // `-%}` and `+%}` are left as written (see TestJinja2Golden)
		}
		if next := end.Pos + len(end.Val); next < len(src) && src[next] == '\n' {
			at = append(at, end.Pos)
		}
	}
	if len(at) == 0 {
		return src
	}
	var b strings.Builder
	b.Grow(len(src) + len(at))
	prev := 0
	for _, pos := range at {
		b.WriteString(src[prev:pos])
		b.WriteByte('+')
		prev = pos
	}
	b.WriteString(src[prev:])
	return b.String()
}

// lex returns the tokens of src as gonja's lexer reads it, the error token
// included when there is one, whitespace excluded.
func lex(src string, cfg *config.Config) []*tokens.Token {
	var toks []*tokens.Token
	for s := tokens.LexAll(src, cfg); s.Current() != nil; s.Next() {
		t := s.Current()
		toks = append(toks, t)
		if t.Type == tokens.EOF || t.Type == tokens.Error {
			break
		}
	}
	return toks
}
