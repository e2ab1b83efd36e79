package bash

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// proc is a process of the shell's session, from /proc/PID/stat.
type proc struct {
	pid   int
	state byte
}

// sessionProcs lists the processes of session sid: the shell (the session
// leader) and everything the cells started, unless it left the session.
func sessionProcs(sid int) []proc {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var ps []proc
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp session ...: comm may hold anything,
		// so fields count from the last ')'.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 4 {
			continue
		}
		if s, _ := strconv.Atoi(f[3]); s == sid {
			ps = append(ps, proc{pid: pid, state: f[0][0]})
		}
	}
	return ps
}

// signalSession sends sig to the processes of session sid, but the shell
// when skipShell.
func signalSession(sid int, sig unix.Signal, skipShell bool) {
	for _, p := range sessionProcs(sid) {
		if skipShell && p.pid == sid {
			continue
		}
		unix.Kill(p.pid, sig)
	}
}

// readingTerminal reports whether a process of session sid is blocked
// reading the terminal tty: a command waits for input. /proc/PID/syscall
// shows the system call a sleeping process is in and its arguments.
func readingTerminal(sid int, tty string) bool {
	for _, p := range sessionProcs(sid) {
		if p.state != 'S' {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(p.pid), "syscall"))
		if err != nil {
			continue
		}
		f := strings.Fields(string(b))
		if len(f) < 2 {
			continue
		}
		nr, err := strconv.Atoi(f[0])
		if err != nil || (nr != unix.SYS_READ && nr != unix.SYS_READV && nr != unix.SYS_PREAD64) {
			continue
		}
		fd, err := strconv.ParseInt(strings.TrimPrefix(f[1], "0x"), 16, 64)
		if err != nil {
			continue
		}
		// /dev/tty is the session's terminal, ours (ssh and sudo ask
		// passwords there).
		if target, err := os.Readlink(filepath.Join("/proc", strconv.Itoa(p.pid), "fd", strconv.FormatInt(fd, 10))); err == nil && (target == tty || target == "/dev/tty") {
			return true
		}
	}
	return false
}
