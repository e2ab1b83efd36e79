package content

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/nikolalohinski/gonja/v2/parser"
	"github.com/nikolalohinski/gonja/v2/tokens"
)

// ErrorKind says what kind of problem a TemplateError is.
type ErrorKind string

// Kinds of template problems.
const (
	// KindUndefined: a variable the template uses is not defined.
	KindUndefined ErrorKind = "undefined"
	// KindSyntax: the template cannot be parsed.
	KindSyntax ErrorKind = "syntax"
	// KindRender: the template parsed but failed while rendering (an unknown
	// filter, a missing attribute, …).
	KindRender ErrorKind = "render"
	// KindJSON: a rendered notebook is not valid JSON.
	KindJSON ErrorKind = "json"
	// KindConfig: a variable the workshop's settings need (an appliance's
	// address) is missing or wrong.
	KindConfig ErrorKind = "config"
)

// TemplateError is a problem with one file of a workshop. Its Error text is
// "file:line:column: message", or without column or line when unknown, such
// as `WKSHP-API101/1-WKSHP-API.ipynb:213:12: undefined variable "HTTPPORT"`.
type TemplateError struct {
	File string
	// Line and Column are 1-based, 0 when unknown. For KindJSON they are the
	// position in the rendered text, which is the template's line unless a
	// block tag alone on its line or a multi-line value came before it.
	Line, Column int
	Kind         ErrorKind
	// Name is the undefined variable for KindUndefined: a plain name, or the
	// key of hostvars[inventory_hostname]['KEY'].
	Name string
	// Message says what is wrong, without the position.
	Message string
}

func (e *TemplateError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteString(":" + strconv.Itoa(e.Line))
		if e.Column > 0 {
			b.WriteString(":" + strconv.Itoa(e.Column))
		}
	}
	b.WriteString(": " + e.Message)
	return b.String()
}

// lexError reports the first error token of the lexer: gonja's parser stops
// quietly at one (an unclosed comment, a missing endraw…), which would
// otherwise render a truncated file without a word.
func lexError(name, src string, toks []*tokens.Token) error {
	for _, t := range toks {
		if t.Type == tokens.Error {
			// gonja sets only the offset of an error token.
			line, col := position([]byte(src), int64(t.Pos)+1)
			return &TemplateError{File: name, Line: line, Column: col, Kind: KindSyntax,
				Message: "syntax error: " + t.Val}
		}
	}
	return nil
}

// parseError turns gonja's parse error into a TemplateError. gonja's own
// message quotes the whole template, so only its cause is kept.
func parseError(name string, err error) error {
	if se, ok := errors.AsType[*parser.SyntaxError](err); ok && se.Line > 0 {
		msg := se.Message
		if se.Raw != "" {
			msg += fmt.Sprintf(" (near %q)", se.Raw)
		}
		return &TemplateError{File: name, Line: se.Line, Column: se.Column, Kind: KindSyntax, Message: "syntax error: " + msg}
	}
	cause := err
	if u := errors.Unwrap(err); u != nil {
		cause = u // drop "failed to parse template '<the whole source>'"
	}
	return &TemplateError{File: name, Kind: KindSyntax, Message: "syntax error: " + cause.Error()}
}

var (
	// gonja's messages for what Jinja2 calls an UndefinedError.
	undefinedName    = regexp.MustCompile(`Unable to evaluate name "([^"]*)"`)
	undefinedHostvar = regexp.MustCompile(`unable to evaluate hostvars\[inventory_hostname\]\['([^']*)'\]: item ''[^']*'' not found`)
	unknownFilter    = regexp.MustCompile(`filter '([^']*)' not found`)
	unknownTest      = regexp.MustCompile(`test '([^']*)' not found`)
	// Every level of gonja's wrapping says "at line N"; the last is the
	// innermost, nearest to the cause.
	atLine = regexp.MustCompile(`at line (\d+): `)
)

// execError turns gonja's rendering error into a TemplateError. gonja gives
// the line of the failing statement in its message and no column; the
// undefined name is then looked up among the template's tokens for its
// exact position.
func execError(name string, toks []*tokens.Token, err error) error {
	msg := strings.TrimPrefix(err.Error(), "unable to execute template: ")
	te := &TemplateError{File: name, Kind: KindRender}
	tail := msg
	if m := atLine.FindAllStringSubmatchIndex(msg, -1); m != nil {
		last := m[len(m)-1]
		te.Line, _ = strconv.Atoi(msg[last[2]:last[3]])
		tail = msg[last[1]:]
	}
	switch {
	case undefinedHostvar.MatchString(msg):
		key := undefinedHostvar.FindStringSubmatch(msg)[1]
		te.Kind, te.Name = KindUndefined, key
		te.Message = fmt.Sprintf("undefined variable %q (hostvars[inventory_hostname]['%s'])", key, key)
		te.Line, te.Column = locate(toks, tokens.String, key, te.Line)
	case undefinedName.MatchString(msg):
		v := undefinedName.FindStringSubmatch(msg)[1]
		te.Kind, te.Name = KindUndefined, v
		te.Message = fmt.Sprintf("undefined variable %q", v)
		te.Line, te.Column = locate(toks, tokens.Name, v, te.Line)
	case unknownFilter.MatchString(msg):
		te.Message = fmt.Sprintf("unknown filter %q", unknownFilter.FindStringSubmatch(msg)[1])
	case unknownTest.MatchString(msg):
		te.Message = fmt.Sprintf("unknown test %q", unknownTest.FindStringSubmatch(msg)[1])
	default:
		te.Message = tail
	}
	return te
}

// locate finds where the template uses a name (a Name token, or a String
// token for a hostvars key): the first use in an expression at or after the
// line gonja reported (a statement may span lines), else that line alone.
// Uses that cannot fail are passed over: an attribute, filter or test name,
// and an operand of `is defined` or `| default`.
func locate(toks []*tokens.Token, typ tokens.Type, val string, line int) (int, int) {
	for i, t := range toks {
		if t.Type != typ || t.Val != val || t.Line < line || guarded(toks, i) {
			continue
		}
		if typ == tokens.String && (i == 0 || toks[i-1].Type != tokens.LeftBracket) {
			continue // a string, not a key
		}
		return t.Line, t.Col
	}
	return line, 0
}

// guarded reports whether the name at toks[i] cannot be what failed.
func guarded(toks []*tokens.Token, i int) bool {
	if i > 0 {
		switch toks[i-1].Type {
		case tokens.Dot, tokens.Pipe, tokens.Is:
			return true
		}
	}
	next := func(k int) *tokens.Token {
		if i+k < len(toks) {
			return toks[i+k]
		}
		return &tokens.Token{}
	}
	switch {
	case next(1).Type == tokens.Is && next(2).Type == tokens.Not:
		return next(3).Val == "defined" || next(3).Val == "undefined"
	case next(1).Type == tokens.Is:
		return next(2).Val == "defined" || next(2).Val == "undefined"
	case next(1).Type == tokens.Pipe:
		return next(2).Val == "default" || next(2).Val == "d"
	}
	return false
}

// checkJSON reports where a rendered notebook stops being JSON.
func checkJSON(name string, out []byte) error {
	var raw json.RawMessage
	err := json.Unmarshal(out, &raw)
	if err == nil {
		return nil
	}
	te := &TemplateError{File: name, Kind: KindJSON, Message: "the rendered notebook is not valid JSON: " + err.Error()}
	if se, ok := errors.AsType[*json.SyntaxError](err); ok {
		te.Line, te.Column = position(out, se.Offset)
		te.Message = "the rendered notebook is not valid JSON: " + se.Error()
	}
	return te
}

// position turns the offset of a json.SyntaxError (the number of bytes read
// when the error was seen, so the bad byte is the one before) into a 1-based
// line and column (in bytes).
func position(data []byte, offset int64) (line, col int) {
	at := min(max(int(offset)-1, 0), len(data))
	before := data[:at]
	line = 1 + strings.Count(string(before), "\n")
	col = at - strings.LastIndexByte(string(before), '\n')
	return line, col
}
