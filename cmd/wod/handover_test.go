package main

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/jupyterhub"
)

// handoverSeat is the seat both participants of TestSeatHandover get, one
// after the other (seats go lowest-free-first).
const handoverSeat = 9011

// TestSeatHandover plays the attack of a participant who keeps their way
// in after their session: A keeps the hub's login cookie, makes an API
// token, and leaves a crontab, an at job, a file in /tmp and a
// shared-memory segment behind. The seat goes to B. None of it reaches B's
// session.
func TestSeatHandover(t *testing.T) {
	for _, tool := range []string{"crontab", "at", "ipcmk", "runuser"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (scripts/test installs cron, at and util-linux)", tool)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	p, hubURL, students := startRealPlatform(t, handoverSeat, map[string]string{})
	defer p.stop()
	const nbPath = "WKSHP-Welcome101/0-ReadMeFirst.ipynb"

	// A's session, and what A keeps.
	regA := p.api("POST", "/api/v1/registrations", map[string]any{"workshop": "WKSHP-Welcome101", "name": "Ann", "email": "ann@example.com"})
	idA := int64(regA["id"].(float64))
	rA := p.waitState(idA, wod.StateReady, 90*time.Second)
	seat := rA["username"].(string)
	if seat != fmt.Sprintf("student%d", handoverSeat) {
		t.Fatalf("A got %s", seat)
	}
	uid := e2eUIDBase + handoverSeat
	t.Cleanup(func() { removePlanted(seat, uid) })
	a := jupyterhub.NewParticipant(hubURL, seat)
	if ok, err := a.Login(ctx, rA["password"].(string)); err != nil || !ok {
		t.Fatalf("A's login: %v %v", ok, err)
	}
	if err := a.Open(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Notebook(ctx, nbPath); err != nil {
		t.Fatalf("A reads their notebook: %v\n%s\nwod up:\n%s", err, seatState(filepath.Join(students, seat), uid), p.logs)
	}
	token, err := a.CreateToken(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if code := tokenGet(ctx, t, hubURL+"/hub/api/user", token); code != http.StatusOK {
		t.Fatalf("A's token does not work on the hub API even now: %d", code)
	}
	// What A leaves on the host, as A (the notebook terminal runs as the
	// student just like this).
	asStudent(t, seat, `echo '* * * * * touch /tmp/wod-handover-cron' | crontab -`)
	asStudent(t, seat, `echo 'touch /tmp/wod-handover-at' | at now + 1 hour 2>/dev/null`)
	asStudent(t, seat, `echo planted > /tmp/wod-handover-file; mkdir -p /var/tmp/wod-handover-dir; echo x > /dev/shm/wod-handover-shm`)
	asStudent(t, seat, `ipcmk -M 4096 >/dev/null`)
	if !ownsSysVShm(t, uid) || !exists("/var/spool/cron/crontabs/"+seat) || len(atJobsOf(t, uid)) == 0 {
		t.Fatal("the traces were not planted")
	}

	// And in the home, for the cleanup: a FIFO in place of a notebook
	// (reading it the usual way blocks forever, and with it the cleanup and
	// then every worker of the location), and a root-owned file holding
	// credentials (as a compiled script does) moved into the workshop
	// folder, for the archive to hand out.
	home := filepath.Join(students, seat)
	if err := os.WriteFile(filepath.Join(home, "login.x"), []byte("root's credentials"), 0o711); err != nil {
		t.Fatal(err)
	}
	asStudent(t, seat, `cd ~/WKSHP-Welcome101 && rm 1-WKSHP-First-Steps.ipynb && mkfifo 1-WKSHP-First-Steps.ipynb && mv ~/login.x .`)

	// A's session ends; B gets the same seat.
	p.api("POST", fmt.Sprintf("/api/v1/registrations/%d/end", idA), nil)
	doneA := p.waitState(idA, wod.StateDone, 90*time.Second)
	if files := zipNames(ctx, t, doneA["status_url"].(string)+"/notebooks.zip"); strings.Contains(strings.Join(files, " "), "login.x") ||
		!strings.Contains(strings.Join(files, " "), "0-ReadMeFirst.ipynb") {
		t.Fatalf("A's notebooks zip holds %v: want A's notebook, not root's file", files)
	}
	regB := p.api("POST", "/api/v1/registrations", map[string]any{"workshop": "WKSHP-Welcome101", "name": "Bob", "email": "bob@example.com"})
	idB := int64(regB["id"].(float64))
	rB := p.waitState(idB, wod.StateReady, 90*time.Second)
	if rB["username"] != seat {
		t.Fatalf("B got %v, not A's seat %s: the test needs the same seat", rB["username"], seat)
	}
	b := jupyterhub.NewParticipant(hubURL, seat)
	if ok, err := b.Login(ctx, rB["password"].(string)); err != nil || !ok {
		t.Fatalf("B's login: %v %v", ok, err)
	}
	if err := b.Open(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Notebook(ctx, nbPath); err != nil {
		t.Fatalf("B reads their notebook: %v\n%s\nwod up:\n%s", err, seatState(filepath.Join(students, seat), uid), p.logs)
	}

	// A's cookie opens nothing of B's: not the server's API directly, and
	// not through the hub's OAuth dance a browser follows (the hub's login
	// cookie would have the hub hand A a fresh token for B's server).
	if nb, err := a.Notebook(ctx, nbPath); err == nil {
		t.Fatalf("A's kept cookie reads B's notebook: %.200v", nb)
	}
	openCtx, cancelOpen := context.WithTimeout(ctx, 10*time.Second)
	err = a.Open(openCtx)
	cancelOpen()
	if err == nil {
		nb, err := a.Notebook(ctx, nbPath)
		t.Fatalf("A's kept hub cookie opens B's server (and reads B's notebook: %v %.100v)", err, nb)
	}
	// Nor does A's token: not on the hub API, not on B's server.
	if code := tokenGet(ctx, t, hubURL+"/hub/api/user", token); code != http.StatusForbidden {
		t.Fatalf("A's token on the hub API after the handover: %d, want 403", code)
	}
	if code := tokenGet(ctx, t, hubURL+"/user/"+seat+"/api/contents/"+nbPath, token); code == http.StatusOK {
		t.Fatal("A's token reads B's notebook")
	}

	// Nothing of A's is left outside the home.
	for _, f := range []string{"/var/spool/cron/crontabs/" + seat, "/tmp/wod-handover-file", "/var/tmp/wod-handover-dir",
		"/dev/shm/wod-handover-shm"} {
		if exists(f) {
			t.Errorf("%s survives the handover", f)
		}
	}
	if jobs := atJobsOf(t, uid); len(jobs) != 0 {
		t.Errorf("A's at jobs survive: %v", jobs)
	}
	if ownsSysVShm(t, uid) {
		t.Error("A's shared-memory segment survives")
	}
}

// asStudent runs a shell command as the student, as their terminal would.
func asStudent(t *testing.T, name, script string) {
	t.Helper()
	cmd := exec.Command("runuser", "-u", name, "--", "sh", "-c", "cd /tmp && "+script)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("as %s: %s: %v: %s", name, script, err, out)
	}
}

// tokenGet answers the status of a GET with an API token.
func tokenGet(ctx context.Context, t *testing.T, url, token string) int {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	req.Header.Set("Authorization", "token "+token)
	req.Header.Set("Accept", "application/json")
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

// zipNames downloads a zip and lists its files.
func zipNames(ctx context.Context, t *testing.T, url string) []string {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if res.StatusCode != http.StatusOK || err != nil {
		t.Fatalf("GET %s: %s %v", url, res.Status, err)
	}
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
	}
	return names
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

// atJobsOf lists the at jobs the uid queued (Debian: files of the uid).
func atJobsOf(t *testing.T, uid int) []string {
	t.Helper()
	var jobs []string
	entries, _ := os.ReadDir("/var/spool/cron/atjobs")
	for _, e := range entries {
		if fi, err := e.Info(); err == nil && int(fi.Sys().(*syscall.Stat_t).Uid) == uid {
			jobs = append(jobs, e.Name())
		}
	}
	return jobs
}

// ownsSysVShm says whether a System V shared-memory segment of the uid
// exists.
func ownsSysVShm(t *testing.T, uid int) bool {
	t.Helper()
	b, err := os.ReadFile("/proc/sysvipc/shm")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	header := strings.Fields(lines[0])
	col := -1
	for i, h := range header {
		if h == "uid" {
			col = i
		}
	}
	for _, l := range lines[1:] {
		if f := strings.Fields(l); len(f) > col && f[col] == strconv.Itoa(uid) {
			return true
		}
	}
	return false
}

// removePlanted removes the traces if the test failed before wod did.
func removePlanted(name string, uid int) {
	os.Remove("/var/spool/cron/crontabs/" + name)
	os.Remove("/tmp/wod-handover-file")
	os.Remove("/tmp/wod-handover-cron")
	os.RemoveAll("/var/tmp/wod-handover-dir")
	os.Remove("/dev/shm/wod-handover-shm")
	entries, _ := os.ReadDir("/var/spool/cron/atjobs")
	for _, e := range entries {
		if fi, err := e.Info(); err == nil && int(fi.Sys().(*syscall.Stat_t).Uid) == uid {
			os.Remove(filepath.Join("/var/spool/cron/atjobs", e.Name()))
		}
	}
	exec.Command("sh", "-c", fmt.Sprintf("ipcs -m | awk '$3 == \"%s\" {print $2}' | xargs -r -n1 ipcrm -m", name)).Run()
}
