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
	"strconv"
	"strings"
	"syscall"
)

// DiskQuotaKind names how the student root limits each home's disk use.
type DiskQuotaKind string

// The mechanisms, by filesystem of the student root.
const (
	// DiskQuotaNone: the filesystem has nothing wod can use; homes are
	// not limited.
	DiskQuotaNone DiskQuotaKind = "none"
	// DiskQuotaBtrfs: every home is a btrfs subvolume whose qgroup
	// limits the bytes it holds, like Callysto's ZFS refquota.
	DiskQuotaBtrfs DiskQuotaKind = "btrfs"
	// DiskQuotaUser: user quotas (ext4, XFS) with block limits set by
	// setquota, per student uid.
	DiskQuotaUser DiskQuotaKind = "user"
)

// DiskQuota is what the filesystem of the student root offers.
type DiskQuota struct {
	Kind   DiskQuotaKind
	FSType string // btrfs, ext4, xfs, tmpfs…
	// Mount is the mount point that holds the student root.
	Mount string
	// Enabled: btrfs quotas are on (else the first limit turns them on).
	Enabled bool
	// Why explains a Kind of none.
	Why string
}

// Filesystem magic numbers (linux/magic.h) of the statfs type field.
var fsTypes = map[uint32]string{
	btrfsSuperMagic: "btrfs",
	0xEF53:          "ext4",
	0x58465342:      "xfs",
	0x01021994:      "tmpfs",
	0x794c7630:      "overlayfs",
	0x2fc12fc1:      "zfs",
	0x6969:          "nfs",
	0xff534d42:      "cifs",
}

// DetectDiskQuota finds which mechanism limits the homes under root (or,
// while root does not exist yet, its nearest existing parent). It changes
// nothing.
func DetectDiskQuota(ctx context.Context, root string) DiskQuota {
	path := root
	for {
		if _, err := os.Stat(path); err == nil || path == filepath.Dir(path) {
			break
		}
		path = filepath.Dir(path)
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return DiskQuota{Kind: DiskQuotaNone, Why: fmt.Sprintf("%s: %v", path, err)}
	}
	q := DiskQuota{Kind: DiskQuotaNone, FSType: fsTypes[uint32(st.Type)], Mount: mountPoint(path)}
	if q.FSType == "" {
		q.FSType = fmt.Sprintf("filesystem type %#x", uint32(st.Type))
	}
	switch q.FSType {
	case "btrfs":
		if _, err := exec.LookPath("btrfs"); err != nil {
			q.Why = "the student root is on btrfs, but btrfs-progs is not installed (apt-get install btrfs-progs)"
			return q
		}
		q.Kind = DiskQuotaBtrfs
		// Listing qgroups fails while quotas are off.
		q.Enabled = exec.CommandContext(ctx, "btrfs", "qgroup", "show", path).Run() == nil
	case "ext4", "xfs":
		if _, err := exec.LookPath("setquota"); err != nil {
			q.Why = fmt.Sprintf("the student root is on %s, and the quota package is not installed (apt-get install quota)", q.FSType)
			return q
		}
		out, err := exec.CommandContext(ctx, "quotaon", "-p", "-u", q.Mount).CombinedOutput()
		if !strings.Contains(string(out), "is on") {
			if err != nil && len(out) == 0 {
				out = []byte(err.Error())
			}
			q.Why = fmt.Sprintf("user quotas are off on %s (%s): mount it with usrquota, then quotacheck -cum and quotaon -u",
				q.Mount, strings.TrimSpace(string(out)))
			return q
		}
		q.Kind = DiskQuotaUser
		q.Enabled = true
	default:
		q.Why = fmt.Sprintf("the student root is on %s, which has no per-student limit wod can set", q.FSType)
	}
	return q
}

// String says what limits the homes, for logs and wod check.
func (q DiskQuota) String() string {
	switch q.Kind {
	case DiskQuotaBtrfs:
		state := "quotas on"
		if !q.Enabled {
			state = "quotas turned on at the first limit (btrfs quota enable)"
		}
		return fmt.Sprintf("btrfs at %s: every home a subvolume with a qgroup limit; %s", q.Mount, state)
	case DiskQuotaUser:
		return fmt.Sprintf("%s at %s: user quotas (setquota), per student uid", q.FSType, q.Mount)
	}
	return "no disk limit: " + q.Why + "; put the student root on btrfs or enable quotas"
}

// mountPoint is the mount point holding path, from /proc/self/mountinfo:
// the longest mount point that is a prefix of path.
func mountPoint(path string) string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return "/"
	}
	defer f.Close()
	abs, err := filepath.Abs(path)
	if err != nil {
		return "/"
	}
	if p, err := filepath.EvalSymlinks(abs); err == nil {
		abs = p
	}
	best := "/"
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		mp := unescapeMount(fields[4])
		if (abs == mp || strings.HasPrefix(abs, strings.TrimSuffix(mp, "/")+"/")) && len(mp) > len(best) {
			best = mp
		}
	}
	return best
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// diskQuota is the mechanism of the student root, found once: a
// filesystem's quota support does not change under a running agent
// (restart it after enabling quotas).
func (h *Host) diskQuota(ctx context.Context) DiskQuota {
	h.diskMu.Lock()
	defer h.diskMu.Unlock()
	if h.disk == nil {
		q := DetectDiskQuota(ctx, h.root())
		h.disk = &q
	}
	return *h.disk
}

// DiskQuota reports how this host limits the homes.
func (h *Host) DiskQuota(ctx context.Context) DiskQuota { return h.diskQuota(ctx) }

// ApplyDiskLimit limits the bytes student a can keep in their home (bytes
// ≤ 0: the site's DiskLimit; both 0: no limit). On btrfs the limit is the
// home subvolume's qgroup, and quotas are turned on the first time; with
// user quotas it is the uid's block hard limit. Where the filesystem has
// neither, the home is not limited and this returns nil: the agent says so
// at start and wod check too.
func (h *Host) ApplyDiskLimit(ctx context.Context, a Account, bytes int64) error {
	if bytes <= 0 {
		bytes = h.DiskLimit
	}
	return h.setDiskLimit(ctx, a, bytes)
}

// setDiskLimit sets a's limit to bytes, 0 for none.
func (h *Host) setDiskLimit(ctx context.Context, a Account, bytes int64) error {
	q := h.diskQuota(ctx)
	switch q.Kind {
	case DiskQuotaBtrfs:
		return h.limitSubvolume(ctx, a, bytes)
	case DiskQuotaUser:
		kib := "0"
		if bytes > 0 {
			kib = strconv.FormatInt((bytes+1023)/1024, 10)
		}
		// Soft and hard block limits alike: no grace period to write past it.
		if err := run(ctx, nil, "setquota", "-u", a.Name, kib, kib, "0", "0", q.Mount); err != nil {
			return fmt.Errorf("disk limit of %s: %w", a.Name, err)
		}
	}
	return nil
}

func (h *Host) limitSubvolume(ctx context.Context, a Account, bytes int64) error {
	sub, err := isSubvolume(a.Home)
	if err != nil {
		return fmt.Errorf("disk limit of %s: %w", a.Name, err)
	}
	if !sub {
		return fmt.Errorf("disk limit of %s: %s is not a btrfs subvolume (it becomes one at the next wipe)", a.Name, a.Home)
	}
	home, err := os.Open(a.Home)
	if err != nil {
		return fmt.Errorf("disk limit of %s: %w", a.Name, err)
	}
	id, err := subvolumeID(home)
	home.Close()
	if err != nil {
		return fmt.Errorf("disk limit of %s: %w", a.Name, err)
	}
	size := "none"
	if bytes > 0 {
		if err := h.enableQuota(ctx); err != nil {
			return err
		}
		size = strconv.FormatInt(bytes, 10)
	} else if !h.quotaEnabled(ctx) {
		return nil // nothing limits it
	}
	// By qgroup id through the student root: a change made through the
	// home itself would be refused once the home is full.
	qgroup := "0/" + strconv.FormatUint(id, 10)
	if err := btrfsCLI(ctx, "qgroup", "limit", size, qgroup, h.root()); err != nil {
		return fmt.Errorf("disk limit of %s: %w", a.Name, err)
	}
	return nil
}

func (h *Host) quotaEnabled(ctx context.Context) bool {
	h.diskMu.Lock()
	defer h.diskMu.Unlock()
	return h.disk != nil && h.disk.Enabled
}

// enableQuota turns btrfs quotas on for the student root's filesystem,
// once, and waits for the scan of what it already holds: until it ends the
// usage the limits compare with is not exact.
func (h *Host) enableQuota(ctx context.Context) error {
	h.diskMu.Lock()
	defer h.diskMu.Unlock()
	if h.disk != nil && h.disk.Enabled {
		return nil
	}
	if err := btrfsCLI(ctx, "quota", "enable", h.root()); err != nil {
		return fmt.Errorf("disk limits: %w", err)
	}
	if err := btrfsCLI(ctx, "quota", "rescan", "-w", h.root()); err != nil {
		return fmt.Errorf("disk limits: %w", err)
	}
	if h.disk != nil {
		h.disk.Enabled = true
	}
	return nil
}

// makeHome creates a's home: a subvolume on btrfs, a directory elsewhere,
// owned by the student, mode 0700, with the site's disk limit.
func (h *Host) makeHome(ctx context.Context, a Account) error {
	if h.diskQuota(ctx).Kind == DiskQuotaBtrfs {
		if err := createSubvolume(ctx, a.Home); err != nil {
			return fmt.Errorf("home of %s: %w", a.Name, err)
		}
	} else if err := os.Mkdir(a.Home, 0o700); err != nil {
		return fmt.Errorf("home of %s: %w", a.Name, err)
	}
	if err := os.Lchown(a.Home, a.UID, a.GID); err != nil {
		return fmt.Errorf("home of %s: %w", a.Name, err)
	}
	// Homes are never readable by other students.
	if err := os.Chmod(a.Home, 0o700); err != nil {
		return fmt.Errorf("home of %s: %w", a.Name, err)
	}
	return h.ApplyDiskLimit(ctx, a, 0)
}

// removeHome deletes a's home and everything in it. On btrfs the
// subvolumes the student made go first, then the home (a subvolume delete
// when it is one); nothing is followed out of the home.
func (h *Host) removeHome(ctx context.Context, a Account) error {
	info, err := os.Lstat(a.Home)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("remove the home of %s: %w", a.Name, err)
	}
	if !info.IsDir() {
		return fmt.Errorf("remove the home of %s: %s is not a directory", a.Name, a.Home)
	}
	if ok, err := isBtrfs(a.Home); err == nil && ok {
		if err := destroyNestedAt(a.Home); err != nil {
			return fmt.Errorf("remove the home of %s: %w", a.Name, err)
		}
		if info.Sys().(*syscall.Stat_t).Ino == btrfsFirstFreeObjectID {
			if err := btrfsCLI(ctx, "subvolume", "delete", a.Home); err != nil {
				return fmt.Errorf("remove the home of %s: %w", a.Name, err)
			}
			if h.quotaEnabled(ctx) {
				// Kernels before 6.8 keep the qgroup of a deleted subvolume;
				// the ones whose subvolume is gone by now go here. Best
				// effort: a stale qgroup costs a row, not a limit.
				_ = btrfsCLI(ctx, "qgroup", "clear-stale", h.root())
			}
			return nil
		}
	}
	if err := os.RemoveAll(a.Home); err != nil {
		return fmt.Errorf("remove the home of %s: %w", a.Name, err)
	}
	return nil
}

// PlainHomes counts the homes under a btrfs root that are not subvolumes
// yet (they become ones at their next wipe); 0 elsewhere.
func PlainHomes(root string) int {
	if ok, err := isBtrfs(root); err != nil || !ok {
		return 0
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		return 0
	}
	n := 0
	for _, e := range entries {
		if !e.IsDir() || !studentHome.MatchString(e.Name()) {
			continue
		}
		if sub, err := isSubvolume(filepath.Join(root, e.Name())); err == nil && !sub {
			n++
		}
	}
	return n
}
