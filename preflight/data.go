package preflight

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/wod-dev/wod/lti"
	"github.com/wod-dev/wod/secret"
)

// checkData checks the data directory, its disk and the keys in it.
func (c *Checker) checkData(add addCheck) {
	dir := c.Config.Data
	info, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		add("data", OK, "%s does not exist yet: created at the first start", dir)
		return
	case err != nil:
		add("data", Fail, "%s: %v", dir, err)
		return
	case !info.IsDir():
		add("data", Fail, "%s is not a directory", dir)
		return
	}
	f, err := os.CreateTemp(dir, ".wod-check-")
	if err != nil {
		add("data", Fail, "%s is not writable: %v", dir, err)
		return
	}
	f.Close()
	os.Remove(f.Name())
	add("data", OK, "%s is writable", dir)
	checkDisk(add, "disk (data)", dir)
	for _, name := range []string{secret.SigningKeyFile, secret.EncryptionKeyFile, lti.KeyFile} {
		info, err := os.Stat(filepath.Join(dir, name))
		switch {
		case errors.Is(err, fs.ErrNotExist):
			add("keys", OK, "%s: generated at the first start", name)
		case err != nil:
			add("keys", Fail, "%s: %v", name, err)
		case info.Mode().Perm()&0o077 != 0:
			add("keys", Fail, "%s has mode %v: others can read it (chmod 600)", name, info.Mode().Perm())
		default:
			add("keys", OK, "%s: present, mode %v", name, info.Mode().Perm())
		}
	}
}
