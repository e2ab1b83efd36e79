//go:build race

package gointerp

// Under the race detector gomacro's unsynchronised interrupt flag (see
// interrupt.go) would be reported, so an interrupted cell is always
// abandoned after the grace period instead.
func interrupt(*worker) {}
