package kernel

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"sync"
	"time"

	"github.com/go-zeromq/zmq4"
)

// Serve runs the kernel on the sockets of ci until a shutdown_request
// (without restart) or until ctx ends; it then returns nil and the caller
// closes in. SIGINT interrupts the running cell instead of ending the
// process: notebook servers interrupt kernels that way (kernel.json's
// interrupt_mode "signal").
func Serve(ctx context.Context, ci ConnectionInfo, in Interpreter, logger *slog.Logger) error {
	sg, err := NewSigner(ci.SignatureScheme, ci.Key)
	if err != nil {
		return err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	k := &kernel{
		ci:       ci,
		in:       in,
		info:     in.Info(),
		log:      logger,
		sg:       sg,
		session:  newID(),
		shutdown: cancel,
		replies:  make(chan Message, 1),
		displays: map[string]bool{},
	}
	if err := k.listen(ctx); err != nil {
		k.close()
		return err
	}
	defer k.close()

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt)
	defer signal.Stop(sigs)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-sigs:
				k.log.Info("SIGINT: interrupting the running cell")
				k.interrupt()
			}
		}
	}()

	k.publish(Message{}, "status", map[string]any{"execution_state": "starting"})
	k.log.Info("kernel started", "implementation", k.info.Implementation,
		"shell", ci.Endpoint(ci.ShellPort))

	// Shell requests queue here so that, after a failed cell, the ones
	// already sent can be aborted (stop_on_error) as ipykernel does.
	shellQ := make(chan request, 1024)
	go k.heartbeat(ctx)
	go k.read(ctx, k.shell, func(m Message) {
		select {
		case shellQ <- request{m, time.Now()}:
		case <-ctx.Done():
		}
	})
	go k.read(ctx, k.control, func(m Message) { k.handle(ctx, k.control, m) })
	go k.read(ctx, k.stdin, k.handleStdin)

	var next *request
	for {
		r := next
		next = nil
		if r == nil {
			select {
			case <-ctx.Done():
				k.log.Info("kernel stopped")
				return nil
			case q := <-shellQ:
				r = &q
			}
		}
		if k.handle(ctx, k.shell, r.msg) {
			next = k.abortQueued(shellQ, k.failedAt)
		}
	}
}

// kernel is one run of Serve.
type kernel struct {
	ci       ConnectionInfo
	in       Interpreter
	info     Info
	log      *slog.Logger
	sg       *Signer
	session  string
	shutdown context.CancelFunc

	shell, control, stdin, iopub *socket
	hb                           zmq4.Socket

	// interp serialises calls to in: cells run on the shell goroutine, a
	// restart comes on control.
	interp   sync.Mutex
	count    int
	failedAt time.Time // when the last failed cell ended, before its reply

	mu         sync.Mutex
	cancelCell context.CancelFunc // of the running cell, nil between cells
	inputID    string             // msg_id of the input_request awaiting its reply
	replies    chan Message
	displays   map[string]bool // display ids already shown
}

func (k *kernel) listen(ctx context.Context) error {
	k.shell = &socket{name: "shell", zs: zmq4.NewRouter(ctx)}
	k.control = &socket{name: "control", zs: zmq4.NewRouter(ctx)}
	k.stdin = &socket{name: "stdin", zs: zmq4.NewRouter(ctx)}
	k.iopub = &socket{name: "iopub", zs: zmq4.NewPub(ctx)}
	k.hb = zmq4.NewRep(ctx)
	for _, s := range []struct {
		zs   zmq4.Socket
		port int
		name string
	}{
		{k.shell.zs, k.ci.ShellPort, "shell"},
		{k.control.zs, k.ci.ControlPort, "control"},
		{k.stdin.zs, k.ci.StdinPort, "stdin"},
		{k.iopub.zs, k.ci.IOPubPort, "iopub"},
		{k.hb, k.ci.HBPort, "heartbeat"},
	} {
		if err := s.zs.Listen(k.ci.Endpoint(s.port)); err != nil {
			return fmt.Errorf("kernel %s socket: %w", s.name, err)
		}
	}
	return nil
}

func (k *kernel) close() {
	for _, s := range []zmq4.Socket{k.shell.zs, k.control.zs, k.stdin.zs, k.iopub.zs, k.hb} {
		if s != nil {
			s.Close()
		}
	}
}

// heartbeat echoes every ping: the client's proof that the kernel lives.
func (k *kernel) heartbeat(ctx context.Context) {
	for {
		m, err := k.hb.Recv()
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		if err := k.hb.Send(m); err != nil && ctx.Err() == nil {
			k.log.Debug("heartbeat", "err", err)
		}
	}
}

// read receives the messages of s, drops those that are malformed or
// badly signed, and hands the others to handle.
func (k *kernel) read(ctx context.Context, s *socket, handle func(Message)) {
	for {
		zm, err := s.zs.Recv()
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			k.log.Debug("receive", "socket", s.name, "err", err)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		m, err := k.sg.Decode(zm.Frames)
		if err != nil {
			k.log.Warn("dropping a message", "socket", s.name, "err", err)
			continue
		}
		handle(m)
	}
}

// send sends a message of msgType answering parent on s (routed back to
// parent's sender).
func (k *kernel) send(s *socket, parent Message, msgType string, content any) {
	m, err := NewMessage(k.session, msgType, parent, content)
	if err != nil {
		k.log.Error("making a message", "err", err)
		return
	}
	m.Identities = parent.Identities
	if err := s.send(k.sg, m); err != nil {
		k.log.Warn("sending a message", "err", err)
	}
}

// publish sends a message on iopub; its topic is the message type.
func (k *kernel) publish(parent Message, msgType string, content any) {
	m, err := NewMessage(k.session, msgType, parent, content)
	if err != nil {
		k.log.Error("making a message", "err", err)
		return
	}
	m.Identities = [][]byte{[]byte(msgType)}
	if err := k.iopub.send(k.sg, m); err != nil {
		k.log.Warn("publishing a message", "err", err)
	}
}

// interrupt stops the running cell, if any.
func (k *kernel) interrupt() {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.cancelCell != nil {
		k.cancelCell()
	}
}

// handleStdin passes an input_reply to the cell awaiting it.
func (k *kernel) handleStdin(m Message) {
	if m.Header.MsgType != "input_reply" {
		k.log.Warn("unexpected message on stdin", "msg_type", m.Header.MsgType)
		return
	}
	k.mu.Lock()
	// jupyter_client's input() sends its reply without a parent header:
	// there is one request at a time, the reply is to it.
	waiting := k.inputID != "" && (m.ParentHeader.MsgID == "" || m.ParentHeader.MsgID == k.inputID)
	if waiting {
		k.inputID = ""
	}
	k.mu.Unlock()
	if !waiting {
		k.log.Warn("dropping an input_reply nobody waits for")
		return
	}
	select {
	case k.replies <- m:
	default:
	}
}

// request is a shell request and when it arrived.
type request struct {
	msg     Message
	arrived time.Time
}

// abortQueued answers the shell requests that arrived before the failure
// of a cell (before cutoff) with status "aborted", unrun, as ipykernel
// does: "Run All" stops at the first failing cell. It returns the first
// request that arrived later, to be handled as usual.
func (k *kernel) abortQueued(q chan request, cutoff time.Time) *request {
	for {
		select {
		case r := <-q:
			if r.arrived.After(cutoff) {
				return &r
			}
			m := r.msg
			k.publish(m, "status", map[string]any{"execution_state": "busy"})
			k.send(k.shell, m, replyType(m.Header.MsgType), map[string]any{"status": "aborted"})
			k.publish(m, "status", map[string]any{"execution_state": "idle"})
		default:
			return nil
		}
	}
}

func replyType(request string) string {
	if t, ok := strings.CutSuffix(request, "_request"); ok {
		return t + "_reply"
	}
	return request + "_reply"
}

// asError makes the error of a cell an Error for the reply.
func asError(err error) *Error {
	var e *Error
	switch {
	case errors.As(err, &e):
	case errors.Is(err, ErrInterrupted), errors.Is(err, context.Canceled):
		e = &Error{Name: "Interrupted", Value: "the cell was interrupted"}
	default:
		e = &Error{Name: "Error", Value: err.Error()}
	}
	if e.Traceback == nil {
		e = &Error{Name: e.Name, Value: e.Value, Traceback: []string{e.Error()}}
	}
	return e
}
