// Package btrfstest mounts a throwaway btrfs filesystem for tests: a loop
// mounted image file, made with Debian's btrfs-progs.
package btrfstest

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/wod-dev/wod/testenv"
)

// RequireEnv makes a missing btrfs a failure rather than a skip
// (scripts/test sets it).
const RequireEnv = "WOD_TEST_REQUIRE_BTRFS"

// Mount makes a 300 MB btrfs image, loop-mounts it and returns the mount
// point, in a directory others may traverse (students reach their homes
// below it). The unmount (which detaches the loop device) and the image's
// removal happen when the test ends, whatever happened. Without root or
// btrfs-progs the test skips, or fails under WOD_TEST_REQUIRE_BTRFS.
func Mount(t testing.TB) string {
	t.Helper()
	skip := func(format string, args ...any) {
		t.Helper()
		testenv.Missing(t, RequireEnv, format, args...)
	}
	if os.Geteuid() != 0 {
		skip("a btrfs filesystem is mounted: run the tests as root (CI does)")
	}
	for _, cmd := range []string{"mkfs.btrfs", "btrfs", "mount", "umount"} {
		if _, err := exec.LookPath(cmd); err != nil {
			skip("%s is not installed (apt-get install btrfs-progs)", cmd)
		}
	}
	// Not under t.TempDir(): its 0700 parent would keep students out.
	dir, err := os.MkdirTemp("", "wod-btrfs")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	t.Cleanup(func() { os.RemoveAll(dir) })
	image, mnt := filepath.Join(dir, "image"), filepath.Join(dir, "mnt")
	if err := os.WriteFile(image, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(image, 300<<20); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mkfs.btrfs", "-q", image).CombinedOutput(); err != nil {
		t.Fatalf("mkfs.btrfs: %v: %s", err, out)
	}
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-o", "loop", image, mnt).CombinedOutput(); err != nil {
		skip("mount -o loop (no loop devices here?): %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", mnt, err, out)
			exec.Command("umount", "-l", mnt).Run()
		}
	})
	return mnt
}
