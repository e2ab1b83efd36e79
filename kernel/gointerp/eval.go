package gointerp

import (
	"errors"
	"fmt"
	"go/ast"
	"strings"

	"github.com/cosmos72/gomacro/ast2"
	"github.com/cosmos72/gomacro/base"
	"github.com/cosmos72/gomacro/base/output"
	basereflect "github.com/cosmos72/gomacro/base/reflect"
	"github.com/cosmos72/gomacro/fast"
	"github.com/wod-dev/wod/kernel"
)

// errInterrupted is how eval reports gomacro's interrupt signal.
var errInterrupted = errors.New("interrupted")

// eval compiles and runs code as gophernotes does: a cell ending in an
// expression has that expression's values as its result (nothing if they
// are all nil), and any panic, from the compiler or from the code, is the
// cell's error.
func eval(ir *fast.Interp, code string) (result string, hasResult bool, err error) {
	running := false
	defer func() {
		if r := recover(); r != nil {
			result, hasResult, err = "", false, panicError(r, running)
		}
	}()
	c := ir.Comp
	// Error positions count from the cell's first line.
	c.Line = 0
	nodes := c.ParseBytes([]byte(code))
	form := ast2.AnyToAst(nodes, "eval")
	if form == nil {
		return "", false, nil
	}
	endsWithExpr := false
	if len(nodes) > 0 {
		_, endsWithExpr = nodes[len(nodes)-1].(ast.Expr)
	}
	compiled := ir.CompileAst(form)
	running = true
	values, _ := ir.RunExpr(compiled)
	if !endsWithExpr {
		return "", false, nil
	}
	shown := make([]any, len(values))
	nonNil := false
	for i, v := range values {
		shown[i] = basereflect.ValueInterface(v)
		nonNil = nonNil || shown[i] != nil
	}
	if !nonNil {
		return "", false, nil
	}
	return fmt.Sprint(shown...), true, nil
}

// panicError turns what eval recovered into the cell's error. gophernotes
// names every failure "ERROR" (compile errors and panics alike), with the
// message as the whole traceback; so do we, prefixing a panic of the
// running code (a call of panic, an index out of range) with "panic: ", as
// Go's own report reads.
func panicError(r any, running bool) error {
	switch v := r.(type) {
	case base.Signal:
		if v == base.SigInterrupt {
			return errInterrupted
		}
		return cellError(v.String())
	case output.RuntimeError:
		// gomacro's own checks, at compile or run time, report this way.
		return cellError(v.Error())
	}
	msg := fmt.Sprint(r)
	if running {
		msg = "panic: " + msg
	}
	return cellError(msg)
}

func cellError(msg string) *kernel.Error {
	msg = strings.TrimRight(msg, "\n")
	return &kernel.Error{Name: "ERROR", Value: msg, Traceback: []string{msg}}
}
