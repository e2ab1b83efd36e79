package kernel

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// DefaultSpecDir is where wod installs its kernelspecs: on Jupyter's
// system path, so every server of the host finds them.
const DefaultSpecDir = "/usr/local/share/jupyter/kernels"

// systemDirs are jupyter_core's SYSTEM_JUPYTER_PATH on Linux.
var systemDirs = [...]string{"/usr/local/share/jupyter", "/usr/share/jupyter"}

// Paths are what Jupyter's data path (jupyter_core's jupyter_path) is
// made of, highest precedence first: $JUPYTER_PATH, the user's data
// directory, the Python environment's <sys.prefix>/share/jupyter (before
// the user's with $JUPYTER_PREFER_ENV_PATH), then the system directories.
type Paths struct {
	// JupyterPath is $JUPYTER_PATH: directories separated by ':'.
	JupyterPath string
	// UserDirs are the user's data directories ($JUPYTER_DATA_DIR, else
	// ~/.local/share/jupyter); none for the host as a whole.
	UserDirs []string
	// Prefixes are the sys.prefix of the Python that runs the servers.
	Prefixes []string
	// PreferEnv is $JUPYTER_PREFER_ENV_PATH.
	PreferEnv bool
}

// DataDirs are the data directories, in Jupyter's order.
func (p Paths) DataDirs() []string {
	var dirs []string
	for _, d := range strings.Split(p.JupyterPath, string(os.PathListSeparator)) {
		if d = strings.TrimRight(d, "/"); d != "" {
			dirs = append(dirs, d)
		}
	}
	var env []string
	for _, pre := range p.Prefixes {
		d := filepath.Join(pre, "share", "jupyter")
		if !slices.Contains(systemDirs[:], d) {
			env = append(env, d)
		}
	}
	if p.PreferEnv {
		dirs = append(append(dirs, env...), p.UserDirs...)
	} else {
		dirs = append(append(dirs, p.UserDirs...), env...)
	}
	dirs = append(dirs, systemDirs[:]...)
	var out []string
	for _, d := range dirs {
		if d = filepath.Clean(d); !slices.Contains(out, d) {
			out = append(out, d)
		}
	}
	return out
}

// KernelDirs are the kernels directories of DataDirs.
func (p Paths) KernelDirs() []string {
	var ks []string
	for _, d := range p.DataDirs() {
		ks = append(ks, filepath.Join(d, "kernels"))
	}
	return ks
}

// Has says whether the kernels directory dir is on the path.
func (p Paths) Has(dir string) bool {
	return slices.Contains(p.KernelDirs(), filepath.Clean(dir))
}

// HubPrefix guesses the sys.prefix of the Python environment that runs
// the hub command: <prefix>/bin/jupyterhub (a venv's, or Debian's /usr).
// "" when the command is not found.
func HubPrefix(command string) string {
	p, err := exec.LookPath(command)
	if err != nil {
		return ""
	}
	if r, err := filepath.EvalSymlinks(p); err == nil {
		p = r
	}
	if p, err = filepath.Abs(p); err != nil {
		return ""
	}
	return filepath.Dir(filepath.Dir(p))
}

// HostPaths are the paths the students' servers of a managed hub see:
// no user directory (each student has their own, which the host does not
// provide), the hub's Python environment, and jupyterPath, which the hub
// passes on (JupyterPathFor).
func HostPaths(hubCommand, jupyterPath string) Paths {
	p := Paths{JupyterPath: jupyterPath}
	if pre := HubPrefix(hubCommand); pre != "" {
		p.Prefixes = []string{pre}
	}
	return p
}

// JupyterPathFor is the JUPYTER_PATH the servers need to find the kernels
// directory specDir: "" when it is on their standard path already, else
// the data directory that holds it (specDir must end in /kernels).
func JupyterPathFor(specDir, hubCommand string) string {
	if HostPaths(hubCommand, "").Has(specDir) {
		return ""
	}
	return filepath.Dir(filepath.Clean(specDir))
}
