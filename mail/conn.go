package mail

import (
	"context"
	"net"
	"sync"
	"time"
)

// longAgo returns a deadline in the past: it fails pending and future I/O
// at once.
func longAgo() time.Time { return time.Unix(1, 0) }

// ctxConn ties a connection to a context: once the context is done, every
// read and write fails at once, and deadlines set later (go-mail pushes the
// deadline forward before each command) cannot revive the connection.
type ctxConn struct {
	net.Conn
	mu   sync.Mutex
	done bool
	stop func() bool
}

func watch(ctx context.Context, c net.Conn) *ctxConn {
	w := &ctxConn{Conn: c}
	w.stop = context.AfterFunc(ctx, func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		w.done = true
		_ = w.Conn.SetDeadline(longAgo())
	})
	return w
}

// release stops watching the context.
func (w *ctxConn) release() { w.stop() }

// SetDeadline sets the deadline, unless the context is done.
func (w *ctxConn) SetDeadline(t time.Time) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		t = longAgo()
	}
	return w.Conn.SetDeadline(t)
}

// SetReadDeadline sets the read deadline, unless the context is done.
func (w *ctxConn) SetReadDeadline(t time.Time) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		t = longAgo()
	}
	return w.Conn.SetReadDeadline(t)
}

// SetWriteDeadline sets the write deadline, unless the context is done.
func (w *ctxConn) SetWriteDeadline(t time.Time) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		t = longAgo()
	}
	return w.Conn.SetWriteDeadline(t)
}
