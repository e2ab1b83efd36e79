package kernel

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
)

// Spec is a kernelspec: the kernel.json of a kernels/<name> directory,
// which tells a notebook server how to start the kernel a notebook names
// (metadata.kernelspec.name is the directory's name).
type Spec struct {
	Argv          []string          `json:"argv"`
	DisplayName   string            `json:"display_name"`
	Language      string            `json:"language"`
	InterruptMode string            `json:"interrupt_mode,omitempty"`
	Env           map[string]string `json:"env,omitempty"`
	Metadata      map[string]any    `json:"metadata,omitempty"`
}

// Provided is a kernel that `wod kernel NAME` runs.
type Provided struct {
	Name        string // the kernelspec's directory name, as notebooks ask for it
	DisplayName string
	Language    string
}

// ProvidedKernels are the kernels wod ships, under the names the original
// catalogue's notebooks use (bash_kernel's, sshkernel's and gophernotes').
func ProvidedKernels() []Provided {
	return []Provided{
		{Name: "bash", DisplayName: "Bash", Language: "bash"},
		{Name: "ssh", DisplayName: "SSH", Language: "bash"},
		{Name: "gophernotes", DisplayName: "Go", Language: "go"},
	}
}

// Spec is the kernelspec that runs the kernel with the wod binary: the
// server fills in {connection_file}. Interrupts are signals: the kernel
// turns SIGINT into an interrupt of the running cell.
func (p Provided) Spec(binary string) Spec {
	return Spec{Argv: []string{binary, "kernel", p.Name, "-f", "{connection_file}"},
		DisplayName: p.DisplayName, Language: p.Language, InterruptMode: "signal"}
}

// runsWod says whether a kernelspec of the named directory is one of
// wod's, from this binary or an older path of it: its argv is
// `<absolute path> kernel NAME -f {connection_file}`. Anything else is a
// kernel the site installed itself.
func (s Spec) runsWod(name string) bool {
	return len(s.Argv) == 5 && filepath.IsAbs(s.Argv[0]) &&
		slices.Equal(s.Argv[1:], []string{"kernel", name, "-f", "{connection_file}"})
}

// Action is what Install did with one kernelspec.
type Action string

// The actions of Install.
const (
	Created   Action = "created"
	Updated   Action = "updated"   // it ran another wod binary (an upgrade moved it)
	Unchanged Action = "unchanged" // it was already this one
	// SiteKernel is a kernel.json of the same name that runs something
	// else (pip's bash_kernel, say): the site chose it, it is left alone.
	SiteKernel Action = "site kernel left alone"
)

// Installed is what Install did with one of wod's kernels.
type Installed struct {
	Name   string
	Path   string // the kernel.json
	Action Action
	// Argv0 is what a site kernel runs.
	Argv0 string
}

// maxSpecSize bounds what is read of an existing kernel.json: real ones
// are a few hundred bytes.
const maxSpecSize = 1 << 20

// Install writes wod's kernelspecs into dir (a Jupyter kernels directory,
// e.g. /usr/local/share/jupyter/kernels), each running binary, and says
// what it did with each. A kernel.json of the same name that does not run
// a wod binary is the site's own and is left alone; one that runs wod from
// another path (before an upgrade) is rewritten.
//
// The directory may have been prepared by someone else: nothing is
// followed through a symbolic link (a link in place of a kernel's
// directory or kernel.json is refused, reported in the error), and when
// run as root the directories written into must belong to root and be
// writable by no one else. Each kernel.json is written to a temporary file
// beside it and renamed over, so a server never reads half of one. The
// error joins every kernel that could not be installed; the others are.
func Install(dir, binary string) ([]Installed, error) {
	if !filepath.IsAbs(binary) {
		return nil, fmt.Errorf("kernelspecs: the wod binary %q is not an absolute path", binary)
	}
	if !filepath.IsAbs(dir) {
		return nil, fmt.Errorf("kernelspecs: directory %q is not absolute", dir)
	}
	dir = filepath.Clean(dir)
	if err := mkdirAll(dir); err != nil {
		return nil, fmt.Errorf("kernelspecs: %w", err)
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return nil, fmt.Errorf("kernelspecs: %w", err)
	}
	if err := safeDir(dir, fi); err != nil {
		return nil, fmt.Errorf("kernelspecs: %w", err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("kernelspecs: %w", err)
	}
	defer root.Close()
	var done []Installed
	var errs []error
	for _, p := range ProvidedKernels() {
		in, err := installOne(root, dir, p, binary)
		if err != nil {
			errs = append(errs, fmt.Errorf("kernelspec %s: %w", p.Name, err))
			continue
		}
		done = append(done, in)
	}
	return done, errors.Join(errs...)
}

func installOne(root *os.Root, dir string, p Provided, binary string) (Installed, error) {
	in := Installed{Name: p.Name, Path: filepath.Join(dir, p.Name, "kernel.json"), Action: Created}
	want, err := json.MarshalIndent(p.Spec(binary), "", " ")
	if err != nil {
		return in, err
	}
	want = append(want, '\n')
	fi, err := root.Lstat(p.Name)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := root.Mkdir(p.Name, 0o755); err != nil {
			return in, err
		}
		// Mkdir's mode went through the umask; the servers run as the
		// students and must read the spec.
		if err := root.Chmod(p.Name, 0o755); err != nil {
			return in, err
		}
	case err != nil:
		return in, err
	default:
		if err := safeDir(filepath.Join(dir, p.Name), fi); err != nil {
			return in, err
		}
	}
	sub, err := root.OpenRoot(p.Name)
	if err != nil {
		return in, err
	}
	defer sub.Close()
	fi, err = sub.Lstat("kernel.json")
	switch {
	case errors.Is(err, fs.ErrNotExist):
		// A directory without a spec is no kernel (Jupyter skips it).
	case err != nil:
		return in, err
	case fi.Mode()&fs.ModeSymlink != 0:
		return in, fmt.Errorf("%s is a symbolic link: refused (remove it to let wod install its kernel)", in.Path)
	case !fi.Mode().IsRegular():
		return in, fmt.Errorf("%s is not a regular file: refused", in.Path)
	default:
		old, err := readSpec(sub)
		if err != nil {
			return in, err
		}
		var s Spec
		if json.Unmarshal(old, &s) != nil || !s.runsWod(p.Name) {
			in.Action = SiteKernel
			if len(s.Argv) > 0 {
				in.Argv0 = s.Argv[0]
			}
			return in, nil
		}
		if bytes.Equal(old, want) {
			in.Action = Unchanged
			return in, nil
		}
		in.Action = Updated
	}
	return in, writeAtomic(sub, "kernel.json", want)
}

// readSpec reads the kernel.json of a kernel directory, without blocking
// on something that is not a file (the caller checked it was one, but
// the directory may change in between).
func readSpec(sub *os.Root) ([]byte, error) {
	f, err := sub.OpenFile("kernel.json", os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("kernel.json is not a regular file: refused")
	}
	data, err := io.ReadAll(io.LimitReader(f, maxSpecSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxSpecSize {
		return nil, fmt.Errorf("kernel.json is larger than %d bytes", maxSpecSize)
	}
	return data, nil
}

// writeAtomic writes name in root through a new temporary file renamed
// over it: a rename replaces a symbolic link, it never writes through one.
func writeAtomic(root *os.Root, name string, data []byte) error {
	var tmp string
	var f *os.File
	for i := 0; ; i++ {
		tmp = fmt.Sprintf(".%s.wod-%d-%d", name, os.Getpid(), i)
		var err error
		f, err = root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o644)
		if err == nil {
			break
		}
		if !errors.Is(err, fs.ErrExist) || i >= 100 {
			return err
		}
	}
	_, err := f.Write(data)
	if err == nil {
		err = f.Chmod(0o644) // past the umask: the students' servers read it
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = root.Rename(tmp, name)
	}
	if err != nil {
		root.Remove(tmp)
		return fmt.Errorf("writing %s: %w", name, err)
	}
	return nil
}

// mkdirAll makes dir and its missing parents readable by everyone (the
// students' servers look there), whatever the umask.
func mkdirAll(dir string) error {
	if _, err := os.Lstat(dir); err == nil {
		return nil
	}
	if parent := filepath.Dir(dir); parent != dir {
		if err := mkdirAll(parent); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return os.Chmod(dir, 0o755)
}

// safeDir refuses a directory that is a symbolic link or, for root, one
// that another user could change under it.
func safeDir(path string, fi fs.FileInfo) error {
	if fi.Mode()&fs.ModeSymlink != 0 {
		return fmt.Errorf("%s is a symbolic link: refused", path)
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory", path)
	}
	if os.Geteuid() != 0 {
		return nil
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if ok && st.Uid != 0 {
		return fmt.Errorf("%s belongs to uid %d, not root: refused (a user could swap what the servers run)", path, st.Uid)
	}
	if fi.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("%s is writable by group or others (%v): refused", path, fi.Mode().Perm())
	}
	return nil
}

// Found is an installed kernel: its name and the kernels directory that
// provides it.
type Found struct {
	Name string
	Dir  string
}

// kernelName is what Jupyter accepts as a kernel's directory name.
var kernelName = regexp.MustCompile(`^[a-z0-9._-]+$`)

// Scan lists the kernels of the kernels directories, in Jupyter's order of
// precedence (the first directory that has a name provides it), sorted by
// name. Names are lower-cased, as Jupyter does; a directory counts when it
// holds a kernel.json. Unreadable or missing directories are skipped.
func Scan(dirs []string) []Found {
	seen := map[string]bool{}
	var found []Found
	for _, d := range dirs {
		entries, err := os.ReadDir(d)
		if err != nil {
			continue
		}
		for _, e := range entries {
			name := strings.ToLower(e.Name())
			if seen[name] || !kernelName.MatchString(name) {
				continue
			}
			if fi, err := os.Stat(filepath.Join(d, e.Name(), "kernel.json")); err != nil || !fi.Mode().IsRegular() {
				continue
			}
			seen[name] = true
			found = append(found, Found{Name: name, Dir: d})
		}
	}
	slices.SortFunc(found, func(a, b Found) int { return strings.Compare(a.Name, b.Name) })
	return found
}

// Names are the names of the kernels found.
func Names(found []Found) []string {
	names := make([]string, 0, len(found))
	for _, f := range found {
		names = append(names, f.Name)
	}
	return names
}

// Pending says what Install(dir, binary) would do with each kernel,
// writing nothing (wod install --dry-run).
func Pending(dir, binary string) []Installed {
	var out []Installed
	for _, p := range ProvidedKernels() {
		in := Installed{Name: p.Name, Path: filepath.Join(dir, p.Name, "kernel.json"), Action: Created}
		want, _ := json.MarshalIndent(p.Spec(binary), "", " ")
		old, err := os.ReadFile(in.Path)
		switch {
		case err != nil:
		case bytes.Equal(old, append(want, '\n')):
			in.Action = Unchanged
		default:
			var s Spec
			if json.Unmarshal(old, &s) != nil || !s.runsWod(p.Name) {
				in.Action = SiteKernel
			} else {
				in.Action = Updated
			}
		}
		out = append(out, in)
	}
	return out
}
