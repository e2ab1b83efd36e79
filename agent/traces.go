package agent

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/wod-dev/wod/jupyterhub"
)

// A seat goes from one participant to the next under the same uid, so
// whatever the uid left outside its home would run or sit inside the next
// participant's session: a crontab or an at job that reads their
// notebooks, a file in /tmp they trust, a shared-memory segment, a user
// service kept alive by lingering. RemoveTraces takes all of that away.

// DefaultTempDirs are the directories everyone may write to on a Debian
// host, where a student's files outlive their processes.
func DefaultTempDirs() []string {
	return []string{"/tmp", "/var/tmp", "/dev/shm", "/dev/mqueue", "/run/lock", "/var/crash"}
}

// cronSpools hold one crontab per account, named after it (Debian's
// crontabs, SUSE's tabs, Red Hat's spool itself).
var cronSpools = []string{"/var/spool/cron/crontabs", "/var/spool/cron/tabs", "/var/spool/cron"}

// atSpools hold at jobs, each file owned by the uid that queued it.
var atSpools = []string{"/var/spool/cron/atjobs", "/var/spool/cron/atspool", "/var/spool/at", "/var/spool/at/spool"}

// RemoveTraces removes everything the account owns outside its home: cron
// and at jobs, files in the shared temporary directories, System V IPC
// objects, its mail spool, its runtime directories (systemd's and its
// notebook server's) and lingering user services. Run it when no process
// of the account is left (see KillProcesses): a process could otherwise
// make new ones. It returns what it removed, for the job's output.
func (h *Host) RemoveTraces(ctx context.Context, a Account) ([]string, error) {
	var removed []string
	var errs []error
	note := func(what string, err error) {
		if err != nil {
			errs = append(errs, err)
		} else if what != "" {
			removed = append(removed, what)
		}
	}
	for _, dir := range cronSpools {
		note(removeNamed(dir, a.Name, "crontab"))
	}
	for _, dir := range atSpools {
		rs, err := removeOwned(ctx, dir, a.UID, nil, false)
		removed = append(removed, rs...)
		note("", err)
	}
	note(removeNamed("/var/mail", a.Name, "mail spool"))
	note(removeNamed("/var/lib/systemd/linger", a.Name, "lingering"))
	if loginctl, err := exec.LookPath("loginctl"); err == nil && systemdRuns() {
		// The user manager and its services go with the user's sessions;
		// an account that lingers would get them back at boot.
		exec.CommandContext(ctx, loginctl, "disable-linger", a.Name).Run()
		if exec.CommandContext(ctx, loginctl, "terminate-user", a.Name).Run() == nil {
			removed = append(removed, "user manager")
		}
	}
	note(removeTree(filepath.Join("/run/user", strconv.Itoa(a.UID)), a.UID))
	// Its notebook server's runtime directory: the kernels' sockets and
	// connection files, the server's own secrets.
	note(removeTree(notebookRuntimeDir(a.UID), a.UID))
	// The student root holds the homes, emptied by Wipe; on a host (or a
	// test) whose student root sits in /tmp, it must not be walked as
	// temporary files.
	skip := []string{filepath.Clean(h.root())}
	dirs := h.TempDirs
	if dirs == nil {
		dirs = DefaultTempDirs()
	}
	for _, dir := range dirs {
		rs, err := removeOwned(ctx, dir, a.UID, skip, true)
		removed = append(removed, rs...)
		note("", err)
	}
	rs, err := removeIPC(a.UID)
	removed = append(removed, rs...)
	note("", err)
	if len(errs) > 0 {
		return removed, fmt.Errorf("remove what %s left outside the home: %w", a.Name, errors.Join(errs...))
	}
	return removed, nil
}

// notebookRuntimeDir is the uid's notebook server's runtime directory (the
// managed hub's spawner makes it).
func notebookRuntimeDir(uid int) string {
	return filepath.Join(jupyterhub.RuntimeRoot, strconv.Itoa(uid))
}

// systemdRuns says whether systemd is the init system (loginctl talks to
// logind, which exists only then).
func systemdRuns() bool {
	_, err := os.Stat("/run/systemd/system")
	return err == nil
}

// removeNamed removes dir/name, a file named after the account, never
// following a link.
func removeNamed(dir, name, what string) (string, error) {
	p := filepath.Join(dir, name)
	fi, err := os.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	if fi.IsDir() {
		return "", nil // Red Hat's /var/spool/cron holds Debian's folders too
	}
	if err := os.Remove(p); err != nil {
		return "", err
	}
	return what + " " + p, nil
}

// removeTree removes dir when uid owns it (a runtime directory).
func removeTree(dir string, uid int) (string, error) {
	fi, err := os.Lstat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	if owner(fi) != uid {
		return "", nil
	}
	parent, err := os.OpenRoot(filepath.Dir(dir))
	if err != nil {
		return "", err
	}
	defer parent.Close()
	if err := parent.RemoveAll(filepath.Base(dir)); err != nil {
		return "", err
	}
	return dir, nil
}

// removeOwned removes every entry under dir that uid owns, a whole tree at
// once when uid owns its top. It works inside an os.Root and never follows
// a link (a link is removed as a link); with recurse it looks into the
// folders others own (a folder anyone may write to, made by another
// student) but stays on dir's filesystem and out of skip.
func removeOwned(ctx context.Context, dir string, uid int, skip []string, recurse bool) ([]string, error) {
	root, err := os.OpenRoot(dir)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer root.Close()
	top, err := root.Stat(".")
	if err != nil {
		return nil, err
	}
	dev := device(top)
	var removed []string
	var walk func(rel string) error
	walk = func(rel string) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		f, err := root.Open(rel)
		if err != nil {
			return nil // gone meanwhile, or not ours to read
		}
		names, err := f.Readdirnames(-1)
		f.Close()
		if err != nil {
			return nil
		}
		slices.Sort(names)
		for _, n := range names {
			p := filepath.Join(rel, n)
			full := filepath.Join(dir, p)
			if slices.Contains(skip, full) {
				continue
			}
			fi, err := root.Lstat(p)
			if err != nil {
				continue
			}
			if owner(fi) == uid {
				if err := root.RemoveAll(p); err != nil {
					return fmt.Errorf("remove %s: %w", full, err)
				}
				removed = append(removed, full)
				continue
			}
			if recurse && fi.IsDir() && device(fi) == dev {
				if err := walk(p); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return removed, walk(".")
}

func owner(fi fs.FileInfo) int {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int(st.Uid)
	}
	return -1
}

func device(fi fs.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Dev)
	}
	return 0
}

// ipcKinds are the System V IPC tables in /proc/sysvipc: shared memory,
// semaphore sets, message queues.
var ipcKinds = []struct {
	table, idColumn string
	remove          func(id int) error
}{
	{"shm", "shmid", func(id int) error { _, err := unix.SysvShmCtl(id, unix.IPC_RMID, nil); return err }},
	{"sem", "semid", func(id int) error {
		_, _, e := unix.Syscall(unix.SYS_SEMCTL, uintptr(id), 0, unix.IPC_RMID)
		return errnoErr(e)
	}},
	{"msg", "msqid", func(id int) error {
		_, _, e := unix.Syscall(unix.SYS_MSGCTL, uintptr(id), unix.IPC_RMID, 0)
		return errnoErr(e)
	}},
}

func errnoErr(e syscall.Errno) error {
	if e == 0 {
		return nil
	}
	return e
}

// removeIPC removes the System V IPC objects that uid owns or created.
// They live in the kernel, not in a file, and outlive every process.
func removeIPC(uid int) ([]string, error) {
	var removed []string
	var errs []error
	for _, k := range ipcKinds {
		ids, err := ipcOwnedBy("/proc/sysvipc/"+k.table, k.idColumn, uid)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, id := range ids {
			if err := k.remove(id); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.EIDRM) {
				errs = append(errs, fmt.Errorf("remove %s %d: %w", k.table, id, err))
				continue
			}
			removed = append(removed, fmt.Sprintf("System V %s %d", k.table, id))
		}
	}
	return removed, errors.Join(errs...)
}

// ipcOwnedBy reads a /proc/sysvipc table (a header line naming the
// columns, then one line per object) and returns the ids of the objects
// whose owner or creator is uid.
func ipcOwnedBy(table, idColumn string, uid int) ([]int, error) {
	f, err := os.Open(table)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil // a kernel without System V IPC
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	if !sc.Scan() {
		return nil, sc.Err()
	}
	col := map[string]int{}
	for i, name := range strings.Fields(sc.Text()) {
		col[name] = i
	}
	idCol, okID := col[idColumn]
	uidCol, okUID := col["uid"]
	cuidCol, okCUID := col["cuid"]
	if !okID || !okUID || !okCUID {
		return nil, fmt.Errorf("%s: unexpected header %q", table, sc.Text())
	}
	want := strconv.Itoa(uid)
	var ids []int
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) <= max(idCol, uidCol, cuidCol) || (f[uidCol] != want && f[cuidCol] != want) {
			continue
		}
		if id, err := strconv.Atoi(f[idCol]); err == nil {
			ids = append(ids, id)
		}
	}
	return ids, sc.Err()
}
