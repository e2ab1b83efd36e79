package bash

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/wod-dev/wod/kernel"
)

// How an interrupt escalates when a cell does not stop: SIGINT again
// (each one unwinds one shell function), then SIGKILL to the cell's
// commands, then the shell itself is replaced.
const (
	tick            = 100 * time.Millisecond
	resendInterrupt = 500 * time.Millisecond
	killCommands    = 3 * time.Second
	giveUp          = 10 * time.Second
)

var (
	errNoStdin = errors.New("the cell reads input, but the front end does not accept input")
	errStuck   = errors.New("bash did not stop after an interrupt")
)

var passwordPrompt = regexp.MustCompile(`(?i)(password|passphrase|passcode|pin)[^\n]*:\s*$`)

// run sends a command line and streams its output to out until both end
// markers came; it returns the command's exit status. When ctx ends it
// interrupts the command and still waits for the markers. With input, a
// command blocked reading the terminal gets an input_request.
func (s *shell) run(ctx context.Context, line string, out kernel.Output, input bool) (int, error) {
	if err := s.send(line); err != nil {
		return 0, err
	}
	var (
		outDone, errDone bool
		status           int
		interrupted      time.Time
		lastSIGINT       time.Time
		cause            error
		prompt           string
		blocked          int // ticks the command was seen reading the terminal
		done             = ctx.Done()
	)
	emit := func(name, text string) {
		if text == "" {
			return
		}
		out.Stream(name, text)
		if i := strings.LastIndexByte(text, '\n'); i >= 0 {
			prompt = text[i+1:]
		} else {
			prompt += text
		}
	}
	interrupt := func(why error) {
		if interrupted.IsZero() {
			interrupted, lastSIGINT, cause = time.Now(), time.Now(), why
			signalSession(s.pid, unix.SIGINT, false)
		}
	}
	t := time.NewTicker(tick)
	defer t.Stop()
	for !outDone || !errDone {
		select {
		case b, ok := <-s.out:
			if !ok {
				return s.exitStatus(out)
			}
			text, end, st := s.stdout.feed(more(b, s.out))
			emit("stdout", text)
			if end {
				outDone, status = true, st
			}
			blocked = 0
		case b, ok := <-s.errs:
			if !ok {
				return s.exitStatus(out)
			}
			text, end, _ := s.stderr.feed(more(b, s.errs))
			emit("stderr", text)
			if end {
				errDone = true
			}
			blocked = 0
		case <-s.exited:
			return s.exitStatus(out)
		case <-done:
			done = nil
			interrupt(ctx.Err())
		case <-t.C:
			if !interrupted.IsZero() {
				since := time.Since(interrupted)
				switch {
				case since > giveUp:
					return 130, errStuck
				case since > killCommands:
					signalSession(s.pid, unix.SIGKILL, true)
					signalSession(s.pid, unix.SIGINT, false)
				case time.Since(lastSIGINT) > resendInterrupt:
					lastSIGINT = time.Now()
					signalSession(s.pid, unix.SIGINT, false)
				}
				continue
			}
			if !input || outDone || s.inputPending() || !readingTerminal(s.pid, s.tty) {
				blocked = 0
				continue
			}
			// Seen blocked twice in a row: it is waiting, not passing by.
			if blocked++; blocked < 2 {
				continue
			}
			blocked = 0
			p := strings.TrimLeft(prompt, "\r")
			v, err := out.Input(ctx, p, passwordPrompt.MatchString(p))
			switch {
			case errors.Is(err, kernel.ErrNoStdin):
				interrupt(errNoStdin)
			case err != nil:
				interrupt(err)
			default:
				prompt = ""
				if err := s.answer(v); err != nil {
					return status, err
				}
			}
		}
	}
	if cause != nil {
		return status, cause
	}
	return status, nil
}

// more adds to b what else is ready on ch, up to 64 KiB, so that a flood
// of output goes out in a few large messages rather than many small ones.
func more(b []byte, ch <-chan []byte) []byte {
	for len(b) < 64<<10 {
		select {
		case c, ok := <-ch:
			if !ok {
				return b
			}
			b = append(b, c...)
		default:
			return b
		}
	}
	return b
}

// exitStatus waits for the shell to exit (its output ended) and returns
// its exit status.
func (s *shell) exitStatus(out kernel.Output) (int, error) {
	select {
	case <-s.exited:
	case <-time.After(giveUp):
		return 1, errStuck
	}
	s.drain(out)
	return s.cmd.ProcessState.ExitCode(), errExited
}

// drain sends the output left when the shell exited.
func (s *shell) drain(out kernel.Output) {
	deadline := time.After(200 * time.Millisecond)
	outs, errs := s.out, s.errs
	for outs != nil || errs != nil {
		select {
		case b, ok := <-outs:
			if !ok {
				outs = nil
				continue
			}
			text, _, _ := s.stdout.feed(b)
			out.Stream("stdout", text)
		case b, ok := <-errs:
			if !ok {
				errs = nil
				continue
			}
			text, _, _ := s.stderr.feed(b)
			out.Stream("stderr", text)
		case <-deadline:
			outs, errs = nil, nil
		}
	}
	out.Stream("stdout", s.stdout.flush())
	out.Stream("stderr", s.stderr.flush())
}
