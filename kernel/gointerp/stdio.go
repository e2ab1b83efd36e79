package gointerp

import (
	"fmt"
	"io"
	"os"
	"sync"
	"unicode/utf8"

	"github.com/wod-dev/wod/kernel"
)

// capture points os.Stdout and os.Stderr at pipes streamed to out until
// restore is called, which returns once everything written is sent.
type capture struct {
	stdout, stderr *os.File // the process's own, put back by restore
	wOut, wErr     *os.File
	wg             sync.WaitGroup
}

func startCapture(out kernel.Output) (*capture, error) {
	rOut, wOut, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("capturing stdout: %w", err)
	}
	rErr, wErr, err := os.Pipe()
	if err != nil {
		rOut.Close()
		wOut.Close()
		return nil, fmt.Errorf("capturing stderr: %w", err)
	}
	c := &capture{stdout: os.Stdout, stderr: os.Stderr, wOut: wOut, wErr: wErr}
	c.wg.Add(2)
	go c.forward(out, "stdout", rOut)
	go c.forward(out, "stderr", rErr)
	os.Stdout, os.Stderr = wOut, wErr
	return c, nil
}

// forward sends what arrives as it arrives, holding back only the bytes of
// a UTF-8 sequence cut by a read.
func (c *capture) forward(out kernel.Output, name string, r *os.File) {
	defer c.wg.Done()
	defer r.Close()
	buf := make([]byte, 32*1024)
	var pending []byte
	for {
		n, err := r.Read(buf)
		if n > 0 {
			pending = append(pending, buf[:n]...)
			cut := completeUTF8(pending)
			if cut > 0 {
				out.Stream(name, string(pending[:cut]))
				pending = append(pending[:0], pending[cut:]...)
			}
		}
		if err != nil {
			if len(pending) > 0 {
				out.Stream(name, string(pending))
			}
			if err != io.EOF {
				fmt.Fprintf(c.stderr, "gointerp: reading %s: %v\n", name, err)
			}
			return
		}
	}
}

// completeUTF8 is the length of p without a trailing partial rune.
func completeUTF8(p []byte) int {
	for i := len(p) - 1; i >= 0 && i >= len(p)-utf8.UTFMax; i-- {
		if utf8.RuneStart(p[i]) {
			if !utf8.FullRune(p[i:]) {
				return i
			}
			break
		}
	}
	return len(p)
}

// restore puts the process's stdout and stderr back and waits for the
// cell's output to be sent. A goroutine of the cell that writes later
// writes to the process's own stdout, as under gophernotes.
func (c *capture) restore() {
	os.Stdout, os.Stderr = c.stdout, c.stderr
	c.wOut.Close()
	c.wErr.Close()
	c.wg.Wait()
}
