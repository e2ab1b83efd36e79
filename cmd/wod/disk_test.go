package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/agent/btrfstest"
	"github.com/wod-dev/wod/jupyterhub"
)

// The disk limit test's seats: apart from the other tests' (9001-9003,
// 9101-, 9201, 9301-9303).
const diskSeat = 9401

// writeCell writes mib MiB into the home from a notebook kernel, as a
// participant would, and says how far it got.
func writeCell(name string, mib int) string {
	return fmt.Sprintf(`import os
fd = os.open(os.path.expanduser("~/%s"), os.O_WRONLY | os.O_CREAT, 0o644)
done = 0
try:
    for _ in range(%d):
        os.write(fd, b"\0" * (1 << 20))
        done += 1
    os.fsync(fd)
    print("wrote", done)
except OSError as e:
    print("stopped after", done, "MiB:", e.strerror)
`, name, mib)
}

// TestDiskLimitOnHub: with the student root on btrfs, a participant's
// kernel on the real hub is stopped at --student-disk while another
// participant's still writes.
func TestDiskLimitOnHub(t *testing.T) {
	mnt := btrfstest.Mount(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	p, hubURL, _ := startRealPlatform(t, diskSeat, map[string]string{},
		"--student-root", filepath.Join(mnt, "student"), "--student-disk", "40M")
	defer p.stop()

	var sessions []*jupyterhub.Participant
	for i, who := range []string{"ann", "bob"} {
		reg := p.api("POST", "/api/v1/registrations", map[string]any{"workshop": "WKSHP-Welcome101", "name": who,
			"email": who + "@example.com"})
		r := p.waitState(int64(reg["id"].(float64)), wod.StateReady, 90*time.Second)
		username, password := r["username"].(string), r["password"].(string)
		home := filepath.Join(mnt, "student", username)
		if info, err := os.Stat(home); err != nil || info.Sys().(*syscall.Stat_t).Ino != 256 {
			t.Fatalf("participant %d's home %s is not a btrfs subvolume: %v", i, home, err)
		}
		s := jupyterhub.NewParticipant(hubURL, username)
		if ok, err := s.Login(ctx, password); err != nil || !ok {
			t.Fatalf("login of %s: %v %v", username, ok, err)
		}
		if err := s.Open(ctx); err != nil {
			t.Fatal(err)
		}
		sessions = append(sessions, s)
	}
	ann, bob := sessions[0], sessions[1]
	if _, out, err := ann.Execute(ctx, writeCell("big", 100)); err != nil || !strings.Contains(out, "Disk quota exceeded") {
		t.Fatalf("ann wrote 100 MiB past a 40 MiB limit: %q %v", out, err)
	}
	if _, out, err := bob.Execute(ctx, writeCell("mine", 10)); err != nil || !strings.Contains(out, "wrote 10") {
		t.Fatalf("bob cannot write while ann is at her limit: %q %v", out, err)
	}
}
