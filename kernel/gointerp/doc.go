// Package gointerp is the Go language behind `wod kernel gophernotes`: the
// kernel the original catalogue's GO101 notebooks ask for. Like gophernotes it
// interprets cells with gomacro (github.com/cosmos72/gomacro/fast), which
// carries bindings for the standard library, so `import "strings"` works
// without a Go toolchain; declarations persist from cell to cell, the value of
// a cell ending in an expression is its result, and lines at the start of a
// cell beginning with `%` or `$` are gophernotes' magics.
//
// While a cell runs, Execute points os.Stdout and os.Stderr at pipes that it
// streams to the front end, as gophernotes does: interpreted code calls the
// real fmt.Println, which writes to whatever os.Stdout is at that moment. The
// kernel process must therefore not rely on those two variables itself.
package gointerp
