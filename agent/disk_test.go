package agent

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/wod-dev/wod/agent/btrfstest"
)

// writeAs writes mib MiB into path as the student, with dd, and returns
// its error output.
func writeAs(t *testing.T, a Account, path string, mib int) (string, error) {
	t.Helper()
	cmd := exec.Command("dd", "if=/dev/zero", "of="+path, "bs=1M", "count="+strconv.Itoa(mib))
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(a.UID), Gid: uint32(a.GID)}}
	cmd.Dir = "/"
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	return stderr.String(), err
}

func runAs(t *testing.T, a Account, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(a.UID), Gid: uint32(a.GID)}}
	cmd.Dir = "/"
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %v as %s: %v: %s", name, args, a.Name, err, out)
	}
}

// TestDiskLimitBtrfs: on a btrfs student root every home is a subvolume
// with a qgroup limit; a student stops at it while another still writes;
// the wipe gives a fresh, empty, limited home; a plain home becomes a
// subvolume at its wipe; subvolumes a student makes to escape the limit are
// frozen, and deleted at the wipe, even read-only ones, without following
// links out of the home.
func TestDiskLimitBtrfs(t *testing.T) {
	root := filepath.Join(btrfstest.Mount(t), "student")
	ctx := context.Background()
	const limit = 20 << 20
	h := &Host{Root: root, UIDBase: 50000, GIDBase: 50000, Group: "wodtest-students", DiskLimit: limit}
	seatA, seatB := testSeat+10, testSeat+11
	t.Cleanup(func() {
		for _, n := range []int{seatA, seatB} {
			if err := h.RemoveAccount(context.Background(), n); err != nil {
				t.Errorf("remove account %d: %v", n, err)
			}
		}
		exec.Command("groupdel", h.Group).Run()
	})
	if q := DetectDiskQuota(ctx, root); q.Kind != DiskQuotaBtrfs || q.Enabled {
		t.Fatalf("fresh btrfs: %+v", q)
	}

	// B's home exists before, as a plain directory: it stays one until
	// its wipe, which makes it a subvolume.
	b := h.Account(seatB)
	if err := os.MkdirAll(b.Home, 0o700); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(b.Home, "old.txt"), []byte("old"), 0o644)

	a, err := h.EnsureAccount(ctx, seatA)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.EnsureAccount(ctx, seatB); err != nil {
		t.Fatal(err)
	}
	if sub, err := isSubvolume(a.Home); err != nil || !sub {
		t.Fatalf("A's home is not a subvolume: %v %v", sub, err)
	}
	if sub, _ := isSubvolume(b.Home); sub {
		t.Fatal("B's plain home became a subvolume before its wipe")
	}
	if err := h.ApplyDiskLimit(ctx, b, 0); err == nil || !strings.Contains(err.Error(), "not a btrfs subvolume") {
		t.Fatalf("limit on a plain home: %v", err)
	}
	if err := h.Wipe(ctx, b); err != nil {
		t.Fatal(err)
	}
	assertFreshHome(t, b)
	if q := DetectDiskQuota(ctx, root); !q.Enabled {
		t.Fatalf("quotas not enabled by the first limit: %+v", q)
	}

	// A is stopped at the limit; B still writes.
	msg, err := writeAs(t, a, filepath.Join(a.Home, "big"), 50)
	if err == nil || !strings.Contains(msg, "Disk quota exceeded") {
		t.Fatalf("A wrote 50 MiB past a 20 MiB limit: %v %s", err, msg)
	}
	if info, err := os.Stat(filepath.Join(a.Home, "big")); err != nil || info.Size() > limit {
		t.Fatalf("A's file: %v %v", info, err)
	}
	if msg, err := writeAs(t, b, filepath.Join(b.Home, "mine"), 10); err != nil {
		t.Fatalf("B cannot write while A is at the limit: %v %s", err, msg)
	}
	// A full home's limit can still be raised.
	if err := h.ApplyDiskLimit(ctx, a, 30<<20); err != nil {
		t.Fatalf("raise the limit of a full home: %v", err)
	}
	if msg, err := writeAs(t, a, filepath.Join(a.Home, "after-raise"), 5); err != nil {
		t.Fatalf("A cannot write after the raise: %v %s", err, msg)
	}

	// The wipe deletes the subvolume and makes a fresh one: A writes again.
	if err := h.Wipe(ctx, a); err != nil {
		t.Fatal(err)
	}
	assertFreshHome(t, a)
	if msg, err := writeAs(t, a, filepath.Join(a.Home, "again"), 10); err != nil {
		t.Fatalf("A cannot write after the wipe: %v %s", err, msg)
	}
	// The workshop's own limit replaces the site's.
	if err := h.ApplyDiskLimit(ctx, a, 12<<20); err != nil {
		t.Fatal(err)
	}
	if msg, err := writeAs(t, a, filepath.Join(a.Home, "more"), 10); err == nil || !strings.Contains(msg, "Disk quota exceeded") {
		t.Fatalf("A wrote past a 12 MiB limit: %v %s", err, msg)
	}
	if err := h.Wipe(ctx, a); err != nil {
		t.Fatal(err)
	}

	// A escapes the home's qgroup with subvolumes of their own, nested and
	// read-only, and a link out of the home.
	outside := filepath.Join(filepath.Dir(root), "precious")
	os.MkdirAll(outside, 0o755)
	os.WriteFile(filepath.Join(outside, "keep.txt"), []byte("keep"), 0o644)
	os.Symlink(outside, filepath.Join(a.Home, "link-out"))
	os.Symlink(b.Home, filepath.Join(a.Home, "link-b"))
	s, inner := filepath.Join(a.Home, "work", "s"), filepath.Join(a.Home, "work", "s", "t")
	runAs(t, a, "mkdir", filepath.Join(a.Home, "work"))
	runAs(t, a, "btrfs", "subvolume", "create", s)
	runAs(t, a, "btrfs", "subvolume", "create", inner)
	if msg, err := writeAs(t, a, filepath.Join(inner, "escape"), 30); err != nil {
		t.Fatalf("the escape itself failed (the kernel changed?): %v %s", err, msg)
	}
	runAs(t, a, "btrfs", "subvolume", "snapshot", a.Home, filepath.Join(a.Home, "snap"))
	runAs(t, a, "btrfs", "property", "set", "-ts", s, "ro", "true")

	frozen, err := h.FreezeNestedSubvolumes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(frozen) != 3 {
		t.Fatalf("frozen: %+v, want A's s, s/t and snap", frozen)
	}
	for _, f := range frozen {
		if f.Student != a.Name {
			t.Fatalf("froze a subvolume of %s: %+v", f.Student, frozen)
		}
	}
	if again, err := h.FreezeNestedSubvolumes(ctx); err != nil || len(again) != 0 {
		t.Fatalf("second sweep: %+v %v", again, err)
	}
	if msg, err := writeAs(t, a, filepath.Join(inner, "more"), 1); err == nil || !strings.Contains(msg, "Disk quota exceeded") {
		t.Fatalf("A still writes in a frozen subvolume: %v %s", err, msg)
	}
	// B's home is not touched by the sweep.
	if msg, err := writeAs(t, b, filepath.Join(b.Home, "still"), 5); err != nil {
		t.Fatalf("B cannot write after the sweep: %v %s", err, msg)
	}

	if err := h.Wipe(ctx, a); err != nil {
		t.Fatal(err)
	}
	assertFreshHome(t, a)
	if _, err := os.Stat(filepath.Join(outside, "keep.txt")); err != nil {
		t.Fatal("the wipe followed a link out of the home")
	}
	if _, err := os.Stat(filepath.Join(b.Home, "still")); err != nil {
		t.Fatal("the wipe of A reached B's home")
	}
	if out, _ := exec.Command("btrfs", "subvolume", "list", "-o", filepath.Dir(root)).CombinedOutput(); bytes.Contains(out, []byte(a.Name+"/")) {
		t.Fatalf("subvolumes of A survive the wipe:\n%s", out)
	}
}

// assertFreshHome: an empty subvolume, the student's, mode 0700.
func assertFreshHome(t *testing.T, a Account) {
	t.Helper()
	if sub, err := isSubvolume(a.Home); err != nil || !sub {
		t.Fatalf("%s's home is not a subvolume: %v %v", a.Name, sub, err)
	}
	info, err := os.Stat(a.Home)
	if err != nil {
		t.Fatal(err)
	}
	if st := info.Sys().(*syscall.Stat_t); info.Mode().Perm() != 0o700 || int(st.Uid) != a.UID || int(st.Gid) != a.GID {
		t.Fatalf("%s's home: mode %v owner %d:%d", a.Name, info.Mode().Perm(), st.Uid, st.Gid)
	}
	if entries, _ := os.ReadDir(a.Home); len(entries) != 0 {
		t.Fatalf("%s's home is not empty: %v", a.Name, entries)
	}
}

// TestDiskQuotaNone: a student root on a filesystem without quotas (tmpfs)
// is reported as unlimited, with the reason and the way out; limits are
// then no-ops, not failures, and a wipe still empties the home.
func TestDiskQuotaNone(t *testing.T) {
	h := testHost(t)
	if err := os.MkdirAll(h.Root, 0o711); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=16m,mode=0711", "wodtest", h.Root).CombinedOutput(); err != nil {
		t.Skipf("mount tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", h.Root).Run() })
	ctx := context.Background()
	q := DetectDiskQuota(ctx, h.Root)
	if q.Kind != DiskQuotaNone || q.FSType != "tmpfs" || q.Mount != h.Root ||
		!strings.Contains(q.String(), "no disk limit: the student root is on tmpfs") ||
		!strings.Contains(q.String(), "put the student root on btrfs or enable quotas") {
		t.Fatalf("tmpfs: %+v %q", q, q)
	}
	h.DiskLimit = 1 << 20
	a, err := h.EnsureAccount(ctx, testSeat)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.ApplyDiskLimit(ctx, a, 0); err != nil {
		t.Fatalf("a limit where none can be set: %v", err)
	}
	os.WriteFile(filepath.Join(a.Home, "f"), []byte("x"), 0o644)
	if err := h.Wipe(ctx, a); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(a.Home); len(entries) != 0 {
		t.Fatalf("home not empty after the wipe: %v", entries)
	}
	if err := h.RemoveAccount(ctx, testSeat); err != nil {
		t.Fatal(err)
	}
}
