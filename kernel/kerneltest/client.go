// Package kerneltest is a small Jupyter client over ZeroMQ for tests: it
// starts a kernel (in the test's process or as a program) on free loopback
// ports, executes cells and collects their output until the kernel is idle,
// answers input requests, interrupts, restarts, shuts down and pings the
// heartbeat.
package kerneltest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/go-zeromq/zmq4"

	"github.com/wod-dev/wod/kernel"
)

// Client is a connection to one kernel's five sockets.
type Client struct {
	CI      kernel.ConnectionInfo
	Session string

	sg                           *kernel.Signer
	ctx                          context.Context
	cancel                       context.CancelFunc
	shell, control, stdin, iopub zmq4.Socket
	box                          *mailbox
}

// FreeConnection returns a connection for a kernel on five free loopback
// ports, with a random key.
func FreeConnection() (kernel.ConnectionInfo, error) {
	var ports [5]int
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return kernel.ConnectionInfo{}, fmt.Errorf("free port: %w", err)
		}
		ls = append(ls, l)
		ports[i] = l.Addr().(*net.TCPAddr).Port
	}
	return kernel.ConnectionInfo{
		Transport: "tcp", IP: "127.0.0.1",
		ShellPort: ports[0], IOPubPort: ports[1], StdinPort: ports[2], ControlPort: ports[3], HBPort: ports[4],
		Key: kernel.NewSessionID(), SignatureScheme: "hmac-sha256",
	}, nil
}

// Dial connects to the kernel of ci and waits until it answers
// kernel_info and its iopub messages arrive (a PUB socket drops what it
// sends before the subscription is in place).
func Dial(ctx context.Context, ci kernel.ConnectionInfo) (*Client, error) {
	sg, err := kernel.NewSigner(ci.SignatureScheme, ci.Key)
	if err != nil {
		return nil, err
	}
	cctx, cancel := context.WithCancel(context.Background())
	c := &Client{CI: ci, Session: kernel.NewSessionID(), sg: sg, ctx: cctx, cancel: cancel, box: newMailbox()}
	id := zmq4.WithID(zmq4.SocketIdentity(c.Session))
	retry := zmq4.WithDialerMaxRetries(100)
	c.shell = zmq4.NewDealer(cctx, id, retry)
	c.control = zmq4.NewDealer(cctx, id, retry)
	c.stdin = zmq4.NewDealer(cctx, id, retry)
	c.iopub = zmq4.NewSub(cctx, retry)
	if err := c.iopub.SetOption(zmq4.OptionSubscribe, ""); err != nil {
		c.Close()
		return nil, fmt.Errorf("subscribing: %w", err)
	}
	for _, s := range []struct {
		name string
		zs   zmq4.Socket
		port int
	}{{"shell", c.shell, ci.ShellPort}, {"control", c.control, ci.ControlPort}, {"stdin", c.stdin, ci.StdinPort}, {"iopub", c.iopub, ci.IOPubPort}} {
		if err := s.zs.Dial(ci.Endpoint(s.port)); err != nil {
			c.Close()
			return nil, fmt.Errorf("dialing %s: %w", s.name, err)
		}
		go c.read(s.name, s.zs)
	}
	if err := c.waitReady(ctx); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func (c *Client) read(channel string, zs zmq4.Socket) {
	for {
		zm, err := zs.Recv()
		if err != nil {
			if c.ctx.Err() != nil {
				return
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		m, err := c.sg.Decode(zm.Frames)
		if err != nil {
			continue
		}
		c.box.put(channel, m)
	}
}

func (c *Client) waitReady(ctx context.Context) error {
	for {
		req, err := c.Send("shell", "kernel_info_request", map[string]any{})
		if err != nil {
			return err
		}
		tctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		_, rerr := c.box.take(tctx, func(ch string, m kernel.Message) bool {
			return ch == "shell" && m.ParentHeader.MsgID == req.Header.MsgID
		})
		var ierr error
		if rerr == nil {
			_, ierr = c.box.take(tctx, func(ch string, m kernel.Message) bool {
				return ch == "iopub" && m.ParentHeader.MsgID == req.Header.MsgID && m.Header.MsgType == "status"
			})
		}
		cancel()
		if rerr == nil && ierr == nil {
			c.drain()
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("kernel not ready: %w", ctx.Err())
		}
	}
}

// drain drops what is left of the readiness probes.
func (c *Client) drain() {
	time.Sleep(50 * time.Millisecond)
	c.box.mu.Lock()
	c.box.msgs = nil
	c.box.mu.Unlock()
}

// Close disconnects.
func (c *Client) Close() {
	c.cancel()
	for _, s := range []zmq4.Socket{c.shell, c.control, c.stdin, c.iopub} {
		if s != nil {
			s.Close()
		}
	}
}

func (c *Client) socket(channel string) zmq4.Socket {
	switch channel {
	case "control":
		return c.control
	case "stdin":
		return c.stdin
	default:
		return c.shell
	}
}

// Send sends a request of msgType on channel ("shell", "control" or
// "stdin") and returns it (its Header.MsgID finds the reply).
func (c *Client) Send(channel, msgType string, content any) (kernel.Message, error) {
	return c.SendParent(channel, msgType, kernel.Message{}, content)
}

// SendParent sends a message answering parent (an input_reply).
func (c *Client) SendParent(channel, msgType string, parent kernel.Message, content any) (kernel.Message, error) {
	m, err := kernel.NewMessage(c.Session, msgType, parent, content)
	if err != nil {
		return m, err
	}
	m.Header.Username = "test"
	return m, c.SendMessage(channel, m)
}

// SendMessage sends m as it is (a test may tamper with it first).
func (c *Client) SendMessage(channel string, m kernel.Message) error {
	frames, err := c.sg.Encode(m)
	if err != nil {
		return err
	}
	return c.SendFrames(channel, frames)
}

// SendFrames sends raw frames (a test of a badly signed message).
func (c *Client) SendFrames(channel string, frames [][]byte) error {
	if err := c.socket(channel).SendMulti(zmq4.NewMsgFrom(frames...)); err != nil {
		return fmt.Errorf("sending on %s: %w", channel, err)
	}
	return nil
}

// Signer is the client's signer (to make frames by hand).
func (c *Client) Signer() *kernel.Signer { return c.sg }

// Reply waits for the reply to req on channel.
func (c *Client) Reply(ctx context.Context, channel string, req kernel.Message) (kernel.Message, error) {
	r, err := c.box.take(ctx, func(ch string, m kernel.Message) bool {
		return ch == channel && m.ParentHeader.MsgID == req.Header.MsgID
	})
	if err != nil {
		return kernel.Message{}, fmt.Errorf("waiting for the reply to %s: %w", req.Header.MsgType, err)
	}
	return r.msg, nil
}

// Request sends a request and waits for its reply.
func (c *Client) Request(ctx context.Context, channel, msgType string, content any) (kernel.Message, error) {
	req, err := c.Send(channel, msgType, content)
	if err != nil {
		return kernel.Message{}, err
	}
	return c.Reply(ctx, channel, req)
}

// IOPub waits for the next iopub message answering req that match accepts
// (nil: any).
func (c *Client) IOPub(ctx context.Context, req kernel.Message, match func(kernel.Message) bool) (kernel.Message, error) {
	r, err := c.box.take(ctx, func(ch string, m kernel.Message) bool {
		return ch == "iopub" && m.ParentHeader.MsgID == req.Header.MsgID && (match == nil || match(m))
	})
	return r.msg, err
}

// Interrupt sends interrupt_request on control and waits for the reply.
func (c *Client) Interrupt(ctx context.Context) error {
	_, err := c.Request(ctx, "control", "interrupt_request", map[string]any{})
	return err
}

// Shutdown sends shutdown_request on control and returns its reply.
func (c *Client) Shutdown(ctx context.Context, restart bool) (kernel.Message, error) {
	return c.Request(ctx, "control", "shutdown_request", map[string]any{"restart": restart})
}

// Ping sends a heartbeat and waits for its echo.
func (c *Client) Ping(ctx context.Context) error {
	hb := zmq4.NewReq(c.ctx, zmq4.WithDialerMaxRetries(100))
	defer hb.Close()
	if err := hb.Dial(c.CI.Endpoint(c.CI.HBPort)); err != nil {
		return fmt.Errorf("heartbeat: %w", err)
	}
	ping := []byte("ping " + kernel.NewSessionID())
	done := make(chan error, 1)
	go func() {
		if err := hb.Send(zmq4.NewMsg(ping)); err != nil {
			done <- err
			return
		}
		m, err := hb.Recv()
		if err == nil && string(m.Bytes()) != string(ping) {
			err = fmt.Errorf("heartbeat echoed %q", m.Bytes())
		}
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return errors.New("heartbeat: no echo")
	}
}
