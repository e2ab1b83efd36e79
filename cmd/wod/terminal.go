package main

import (
	"errors"
	"io"
	"os"

	"github.com/wod-dev/wod"
)

// isTerminal reports whether r is an interactive terminal.
func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}

func asWodError(err error) *wod.Error {
	var we *wod.Error
	if errors.As(err, &we) {
		return we
	}
	return nil
}
