package gointerp

import (
	"go/scanner"
	"go/token"
	"strings"
	"unicode/utf8"
)

// IsComplete says "incomplete" while a bracket, a raw string or a block
// comment is open, "invalid" when one closes that was not open, and
// "complete" otherwise; the compiler has the last word on the rest.
func (in *Interpreter) IsComplete(code string) (status, indent string) {
	_, code = splitMagics(code)
	fset := token.NewFileSet()
	file := fset.AddFile("cell", -1, len(code))
	var s scanner.Scanner
	unterminated := false
	s.Init(file, []byte(code), func(_ token.Position, msg string) {
		if strings.Contains(msg, "not terminated") {
			unterminated = true
		}
	}, 0)
	depth := 0
	for {
		_, tok, _ := s.Scan()
		switch tok {
		case token.EOF:
			switch {
			case unterminated:
				return "incomplete", ""
			case depth > 0:
				return "incomplete", strings.Repeat("\t", depth)
			}
			return "complete", ""
		case token.LPAREN, token.LBRACE, token.LBRACK:
			depth++
		case token.RPAREN, token.RBRACE, token.RBRACK:
			depth--
			if depth < 0 {
				return "invalid", ""
			}
		}
	}
}

// byteOffset is the byte offset of the code point at cursor.
func byteOffset(s string, cursor int) int {
	if cursor <= 0 {
		return 0
	}
	n := 0
	for i := range s {
		if n == cursor {
			return i
		}
		n++
	}
	return len(s)
}

func runeCount(s string) int { return utf8.RuneCountInString(s) }
