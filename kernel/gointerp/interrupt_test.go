//go:build !race

package gointerp

import (
	"errors"
	"testing"

	"github.com/wod-dev/wod/kernel"
)

// Without the race detector an interpreted loop stops at the interrupt and
// the interpreter, with its declarations, carries on (under it, the cell is
// abandoned as in TestInterruptedSleepLeavesAUsableKernel).
func TestInterruptedLoopKeepsDeclarations(t *testing.T) {
	in := startInterp(t)
	run(t, in, "kept := 7")
	cancel, errc := startCell(t, in, `import "fmt"
fmt.Println("started")
n := 0
for {
	n++
}`)
	cancel()
	if err := <-errc; !errors.Is(err, kernel.ErrInterrupted) {
		t.Fatalf("interrupted cell: %v, want ErrInterrupted", err)
	}
	wantResult(t, run(t, in, "kept"), "7")
}
