package agent

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"syscall"
	"time"
)

// A student can create btrfs subvolumes in their home (the kernel lets
// anyone who may write a directory do it) and snapshot it. The data of
// such a subvolume counts in its own qgroup, not the home's: left alone it
// would take the disk past the home's limit. Nothing stops the creation,
// so the agent looks for them every few seconds and limits each to zero
// bytes; the wipe deletes them with the home.

var studentHome = regexp.MustCompile(`^student[0-9]+$`)

// NestedSubvolume is a subvolume found inside a student's home.
type NestedSubvolume struct {
	Student string // the home's account
	ID      uint64 // subvolume id; its qgroup is 0/ID
}

// FreezeNestedSubvolumes limits every subvolume that students made inside
// their homes to zero bytes, and returns the ones it froze now (each is
// frozen once). It does nothing unless the homes are btrfs subvolumes
// with quotas on.
func (h *Host) FreezeNestedSubvolumes(ctx context.Context) ([]NestedSubvolume, error) {
	if q := h.diskQuota(ctx); q.Kind != DiskQuotaBtrfs || !h.quotaEnabled(ctx) {
		return nil, nil
	}
	root, err := os.Open(h.root())
	if err != nil {
		return nil, fmt.Errorf("student root: %w", err)
	}
	defer root.Close()
	names, err := root.Readdirnames(-1)
	if err != nil {
		return nil, fmt.Errorf("student root: %w", err)
	}
	// The homes, by subvolume id: names the agent made, opened without
	// following links.
	homes := map[uint64]string{}
	for _, name := range names {
		if !studentHome.MatchString(name) {
			continue
		}
		fd, err := syscall.Openat(int(root.Fd()), name, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0)
		if err != nil {
			continue // not a directory, or gone
		}
		home := os.NewFile(uintptr(fd), name)
		var st syscall.Stat_t
		if syscall.Fstat(fd, &st) == nil && st.Ino == btrfsFirstFreeObjectID {
			if id, err := subvolumeID(home); err == nil {
				homes[id] = name
			}
		}
		home.Close()
	}
	parents, err := subvolumeParents(root)
	if err != nil {
		return nil, err
	}
	var frozen []NestedSubvolume
	for id := range parents {
		student := homeOf(id, homes, parents)
		if student == "" {
			continue
		}
		h.diskMu.Lock()
		done := h.frozen[id]
		h.diskMu.Unlock()
		if done {
			continue
		}
		if err := limitQgroup(root, id, 0); err != nil {
			return frozen, fmt.Errorf("freeze a subvolume of %s: %w", student, err)
		}
		h.diskMu.Lock()
		if h.frozen == nil {
			h.frozen = map[uint64]bool{}
		}
		h.frozen[id] = true // ids are never reused
		h.diskMu.Unlock()
		frozen = append(frozen, NestedSubvolume{Student: student, ID: id})
	}
	return frozen, nil
}

// homeOf is the student whose home holds subvolume id below it ("" for a
// home itself or a subvolume outside the homes).
func homeOf(id uint64, homes map[uint64]string, parents map[uint64]uint64) string {
	for seen := 0; seen < len(parents); seen++ {
		parent, ok := parents[id]
		if !ok {
			return ""
		}
		if name, ok := homes[parent]; ok {
			return name
		}
		id = parent
	}
	return ""
}

// DiskGuard freezes the subvolumes students make in their homes (see
// FreezeNestedSubvolumes) and reports each to the server.
type DiskGuard struct {
	Host   *Host
	Server GuardServer
	Logger *slog.Logger
	// Every is the interval (default 10 s): what a student writes into a
	// subvolume of their own before it is frozen is not limited.
	Every time.Duration
}

// Run watches until ctx ends; it does nothing where homes are not btrfs
// subvolumes.
func (g *DiskGuard) Run(ctx context.Context) {
	if g.Host.DiskQuota(ctx).Kind != DiskQuotaBtrfs {
		return
	}
	every := g.Every
	if every <= 0 {
		every = 10 * time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		frozen, err := g.Host.FreezeNestedSubvolumes(ctx)
		if err != nil && ctx.Err() == nil {
			g.Logger.WarnContext(ctx, "disk guard", "error", err)
		}
		for _, f := range frozen {
			detail := fmt.Sprintf("%s made a subvolume (id %d) in their home, outside its disk limit: frozen at 0 bytes until the wipe", f.Student, f.ID)
			g.Logger.WarnContext(ctx, "disk guard", "student", f.Student, "subvolume", f.ID, "action", "frozen")
			if g.Server != nil {
				if err := g.Server.Event(ctx, "guard.subvolume", detail); err != nil {
					g.Logger.WarnContext(ctx, "disk guard: report", "error", err)
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
