//go:build !race

package gointerp

// interrupt asks the running cell to stop at its next interpreted
// statement. gomacro's flag for it is a plain field, read by the running
// goroutine without synchronisation (its own Ctrl-C handler sets it the
// same way); a word-sized store is seen soon enough.
func interrupt(w *worker) { w.ir.Interrupt(nil) }
