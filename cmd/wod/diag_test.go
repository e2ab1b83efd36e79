package main

import (
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// processLog collects a process's output for failure messages: exec's
// copying goroutine writes it while a failing test reads it.
type processLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *processLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *processLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// seatState describes, for a failure message, what a student's notebook
// server sees: the home /etc/passwd names (where the hub starts it), the
// home's files with their owners, and each process of the uid with its
// working directory and the HOME and root it was given.
func seatState(home string, uid int) string {
	var b strings.Builder
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		fmt.Fprintf(&b, "passwd: %s's home is %s\n", u.Username, u.HomeDir)
	}
	fmt.Fprintf(&b, "home %s:\n", home)
	filepath.WalkDir(home, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			fmt.Fprintf(&b, "  %s: %v\n", p, err)
			return nil
		}
		if info, err := d.Info(); err == nil {
			st := info.Sys().(*syscall.Stat_t)
			fmt.Fprintf(&b, "  %v %d:%d ino %d %s\n", info.Mode(), st.Uid, st.Gid, st.Ino, p)
		}
		return nil
	})
	for _, pid := range uidProcesses(uid) {
		dir := "/proc/" + strconv.Itoa(pid)
		cwd, _ := os.Readlink(dir + "/cwd")
		cmdline, _ := os.ReadFile(dir + "/cmdline")
		environ, _ := os.ReadFile(dir + "/environ")
		var env []string
		for _, kv := range strings.Split(string(environ), "\x00") {
			if strings.HasPrefix(kv, "HOME=") || strings.HasPrefix(kv, "JUPYTERHUB_ROOT_DIR=") ||
				strings.HasPrefix(kv, "JUPYTERHUB_SERVICE_URL=") {
				env = append(env, kv)
			}
		}
		stat, _ := os.ReadFile(dir + "/stat")
		fmt.Fprintf(&b, "pid %d cwd %q env %v cmd %q stat %.120s\n", pid, cwd, env,
			strings.ReplaceAll(string(cmdline), "\x00", " "), stat)
	}
	return b.String()
}
