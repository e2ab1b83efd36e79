package content

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
)

// errNotStudents is a file in a home that root must not read for the
// student: a link, a FIFO, a device, a socket, or a file the student does
// not own (a root-owned compiled script moved into the workshop folder).
var errNotStudents = errors.New("not a regular file of the student")

// openStudentFile opens name (a slash path inside root) for reading, as
// root reads a student's files: the student prepared the home, so no path
// component may be a symbolic link, the open never blocks (a FIFO named
// like a notebook would hold the agent forever), and the file must be a
// regular file owned by uid. The checks run on the open descriptor, so a
// file swapped between the look and the open is caught too.
func openStudentFile(root *os.Root, name string, uid int) (*os.File, fs.FileInfo, error) {
	name = path.Clean(name)
	if !fs.ValidPath(name) || name == "." {
		return nil, nil, fmt.Errorf("%s: %w", name, fs.ErrInvalid)
	}
	// os.Root follows links that stay inside it; a student's home gets no
	// such trust: every component is looked at without following it.
	parts := strings.Split(name, "/")
	for i := range parts {
		p := filepath.FromSlash(strings.Join(parts[:i+1], "/"))
		fi, err := root.Lstat(p)
		if err != nil {
			return nil, nil, err
		}
		last := i == len(parts)-1
		if fi.Mode()&fs.ModeSymlink != 0 || (!last && !fi.IsDir()) {
			return nil, nil, fmt.Errorf("%s: %w", name, errNotStudents)
		}
	}
	before, err := root.Lstat(filepath.FromSlash(name))
	if err != nil {
		return nil, nil, err
	}
	if !ownedRegular(before, uid) {
		return nil, nil, fmt.Errorf("%s: %w", name, errNotStudents)
	}
	f, err := root.OpenFile(filepath.FromSlash(name), os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, nil, err
	}
	fi, err := f.Stat()
	if err != nil || !ownedRegular(fi, uid) || !os.SameFile(fi, before) {
		f.Close()
		return nil, nil, fmt.Errorf("%s: %w", name, errNotStudents)
	}
	return f, fi, nil
}

// ownedRegular says whether fi is a regular file of uid.
func ownedRegular(fi fs.FileInfo, uid int) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && fi.Mode().IsRegular() && int(st.Uid) == uid
}
