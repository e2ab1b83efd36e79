package agent

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"unsafe"
)

// A btrfs student root gives every home a subvolume of its own, limited by
// the qgroup of that subvolume (Callysto's ZFS refquota, in btrfs): a wipe
// is a subvolume delete and re-create, which also starts the usage from
// zero. The btrfs CLI (btrfs-progs) does what root decides on paths root
// owns: quotas, creating and deleting a home, its limit. What happens inside
// a home, where the student chose every name, goes through ioctls on file
// descriptors opened without following links.

// Constants of linux/btrfs.h and linux/magic.h.
const (
	btrfsSuperMagic = 0x9123683E
	// btrfsFirstFreeObjectID is the inode number of a subvolume's root
	// directory: a directory with it is a subvolume (or the top level).
	btrfsFirstFreeObjectID = 256
	btrfsSubvolRdonly      = 1 << 1

	btrfsIocSnapDestroy    = 0x5000940f // _IOW(0x94, 15, struct btrfs_ioctl_vol_args)
	btrfsIocTreeSearch     = 0xd0009411 // _IOWR(0x94, 17, struct btrfs_ioctl_search_args)
	btrfsIocInoLookup      = 0xd0009412 // _IOWR(0x94, 18, struct btrfs_ioctl_ino_lookup_args)
	btrfsIocSubvolGetflags = 0x80089419 // _IOR(0x94, 25, __u64)
	btrfsIocSubvolSetflags = 0x4008941a // _IOW(0x94, 26, __u64)
	btrfsIocQgroupLimit    = 0x8030942b // _IOR(0x94, 43, struct btrfs_ioctl_qgroup_limit_args)

	btrfsRootTreeObjectID   = 1
	btrfsRootBackrefKey     = 144
	btrfsQgroupLimitMaxRfer = 1 << 0
)

func ioctl(fd int, req uintptr, arg unsafe.Pointer) error {
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), req, uintptr(arg)); errno != 0 {
		return errno
	}
	return nil
}

// isBtrfs tells whether path lies on btrfs.
func isBtrfs(path string) (bool, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return false, err
	}
	return uint32(st.Type) == btrfsSuperMagic, nil
}

// isSubvolume tells whether the directory at path (not followed if a
// link) is the root of a btrfs subvolume.
func isSubvolume(path string) (bool, error) {
	info, err := os.Lstat(path)
	if err != nil {
		return false, err
	}
	if !info.IsDir() {
		return false, nil
	}
	if ok, err := isBtrfs(path); err != nil || !ok {
		return false, err
	}
	return info.Sys().(*syscall.Stat_t).Ino == btrfsFirstFreeObjectID, nil
}

// subvolumeID is the id of the subvolume holding the open directory.
func subvolumeID(dir *os.File) (uint64, error) {
	var args struct {
		treeID   uint64
		objectID uint64
		name     [4080]byte
	}
	args.objectID = btrfsFirstFreeObjectID
	if err := ioctl(int(dir.Fd()), btrfsIocInoLookup, unsafe.Pointer(&args)); err != nil {
		return 0, fmt.Errorf("subvolume of %s: %w", dir.Name(), err)
	}
	return args.treeID, nil
}

// btrfsCLI runs the btrfs command, with its output in the error.
func btrfsCLI(ctx context.Context, args ...string) error {
	return run(ctx, nil, "btrfs", args...)
}

// createSubvolume makes path a new subvolume; root's path, never a
// student's.
func createSubvolume(ctx context.Context, path string) error {
	return btrfsCLI(ctx, "subvolume", "create", path)
}

// destroyNestedAt deletes every subvolume below the directory at path.
func destroyNestedAt(path string) error {
	// Limits change through the directory above the home, root's: a
	// transaction started in a frozen subvolume would be refused.
	ctl, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer ctl.Close()
	fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0)
	if err != nil {
		return &fs.PathError{Op: "open", Path: path, Err: err}
	}
	dir := os.NewFile(uintptr(fd), path)
	defer dir.Close()
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return &fs.PathError{Op: "stat", Path: path, Err: err}
	}
	if st.Ino == btrfsFirstFreeObjectID {
		if err := unlock(ctl, dir); err != nil {
			return err
		}
	}
	return destroyNested(ctl, dir)
}

// destroyNested deletes every subvolume below dir, the deepest first (a
// subvolume holding another cannot go). A student can make subvolumes in
// their home, snapshot it, and mark their subvolumes read-only, which
// would keep the ones inside from being deleted: root clears that flag.
// Directories are opened relative to their parent and never through a
// link, so nothing outside dir is touched whatever names the student
// chose.
func destroyNested(ctl, dir *os.File) error {
	entries, err := dir.ReadDir(-1)
	if err != nil {
		return fmt.Errorf("read %s: %w", dir.Name(), err)
	}
	parent := int(dir.Fd())
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		name := dir.Name() + "/" + e.Name()
		fd, err := syscall.Openat(parent, e.Name(), syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0)
		if errors.Is(err, syscall.ENOTDIR) || errors.Is(err, syscall.ELOOP) || errors.Is(err, syscall.ENOENT) {
			continue
		}
		if err != nil {
			return &fs.PathError{Op: "open", Path: name, Err: err}
		}
		child := os.NewFile(uintptr(fd), name)
		var st syscall.Stat_t
		if err := syscall.Fstat(fd, &st); err != nil {
			child.Close()
			return &fs.PathError{Op: "stat", Path: name, Err: err}
		}
		sub := st.Ino == btrfsFirstFreeObjectID
		if sub {
			err = unlock(ctl, child)
		}
		if err == nil {
			err = destroyNested(ctl, child)
		}
		child.Close()
		if err != nil {
			return err
		}
		if sub {
			if err := snapDestroy(parent, e.Name()); err != nil {
				return fmt.Errorf("delete the subvolume %s: %w", name, err)
			}
		}
	}
	return nil
}

// unlock readies the subvolume of dir for what its deletion writes: no
// limit (a frozen or full subvolume refuses even the change of a flag,
// and the removal of what it holds), and not read-only.
func unlock(ctl, dir *os.File) error {
	id, err := subvolumeID(dir)
	if err != nil {
		return err
	}
	// ENOTCONN: quotas are off; ENOENT: the subvolume has no qgroup.
	if err := limitQgroup(ctl, id, -1); err != nil && !errors.Is(err, syscall.ENOTCONN) && !errors.Is(err, syscall.ENOENT) {
		return err
	}
	return clearReadOnly(dir)
}

// clearReadOnly makes the subvolume of dir writable.
func clearReadOnly(dir *os.File) error {
	var flags uint64
	if err := ioctl(int(dir.Fd()), btrfsIocSubvolGetflags, unsafe.Pointer(&flags)); err != nil {
		return fmt.Errorf("flags of the subvolume %s: %w", dir.Name(), err)
	}
	if flags&btrfsSubvolRdonly == 0 {
		return nil
	}
	flags &^= btrfsSubvolRdonly
	if err := ioctl(int(dir.Fd()), btrfsIocSubvolSetflags, unsafe.Pointer(&flags)); err != nil {
		return fmt.Errorf("make the subvolume %s writable: %w", dir.Name(), err)
	}
	return nil
}

// snapDestroy deletes the subvolume name in the open directory parent.
func snapDestroy(parent int, name string) error {
	var args struct {
		fd   int64
		name [4088]byte
	}
	if len(name) >= len(args.name) {
		return syscall.ENAMETOOLONG
	}
	copy(args.name[:], name)
	return ioctl(parent, btrfsIocSnapDestroy, unsafe.Pointer(&args))
}

// subvolumeParents maps every subvolume of the filesystem of dir to the
// subvolume it sits in, from the root tree's back references: ids only, no
// path a student could have shaped.
func subvolumeParents(dir *os.File) (map[uint64]uint64, error) {
	type searchKey struct {
		treeID, minObjectID, maxObjectID, minOffset, maxOffset, minTransID, maxTransID uint64
		minType, maxType, nrItems, unused                                              uint32
		unused1, unused2, unused3, unused4                                             uint64
	}
	var args struct {
		key searchKey
		buf [4096 - unsafe.Sizeof(searchKey{})]byte
	}
	parents := map[uint64]uint64{}
	args.key = searchKey{treeID: btrfsRootTreeObjectID, maxObjectID: ^uint64(0), maxOffset: ^uint64(0),
		maxTransID: ^uint64(0), minType: btrfsRootBackrefKey, maxType: btrfsRootBackrefKey}
	for {
		args.key.nrItems = 4096
		if err := ioctl(int(dir.Fd()), btrfsIocTreeSearch, unsafe.Pointer(&args)); err != nil {
			return nil, fmt.Errorf("list the subvolumes of %s: %w", dir.Name(), err)
		}
		if args.key.nrItems == 0 {
			return parents, nil
		}
		var objectID, offset uint64
		var typ uint32
		b := args.buf[:]
		for i := uint32(0); i < args.key.nrItems; i++ {
			if len(b) < 32 {
				return nil, fmt.Errorf("list the subvolumes of %s: short search result", dir.Name())
			}
			objectID = binary.NativeEndian.Uint64(b[8:])
			offset = binary.NativeEndian.Uint64(b[16:])
			typ = binary.NativeEndian.Uint32(b[24:])
			n := binary.NativeEndian.Uint32(b[28:])
			if typ == btrfsRootBackrefKey {
				parents[objectID] = offset
			}
			if uint64(len(b)) < 32+uint64(n) {
				return nil, fmt.Errorf("list the subvolumes of %s: short search result", dir.Name())
			}
			b = b[32+n:]
		}
		// Resume after the last key.
		args.key.minObjectID, args.key.minType, args.key.minOffset = objectID, typ, offset
		switch {
		case args.key.minOffset < ^uint64(0):
			args.key.minOffset++
		case args.key.minType < 0xff:
			args.key.minType++
			args.key.minOffset = 0
		default:
			if args.key.minObjectID == ^uint64(0) {
				return parents, nil
			}
			args.key.minObjectID++
			args.key.minOffset = 0
		}
	}
}

// limitQgroup sets the referenced-bytes limit of the level-0 qgroup of
// subvolume id (0: none), through the filesystem of dir.
func limitQgroup(dir *os.File, id uint64, bytes int64) error {
	var args struct {
		qgroupID                                  uint64
		flags, maxRfer, maxExcl, rsvRfer, rsvExcl uint64
	}
	args.qgroupID = id
	args.flags = btrfsQgroupLimitMaxRfer
	args.maxRfer = ^uint64(0) // none
	if bytes >= 0 {
		args.maxRfer = uint64(bytes)
	}
	if err := ioctl(int(dir.Fd()), btrfsIocQgroupLimit, unsafe.Pointer(&args)); err != nil {
		return fmt.Errorf("limit qgroup 0/%s: %w", strconv.FormatUint(id, 10), err)
	}
	return nil
}
