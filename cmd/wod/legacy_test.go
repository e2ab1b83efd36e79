package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wod-dev/wod/content"
	"github.com/wod-dev/wod/jupyterhub"
	"github.com/wod-dev/wod/legacy"
	"github.com/wod-dev/wod/legacy/apidbtest"
	"github.com/wod-dev/wod/mail/smtptest"
)

// The legacy test's seat: apart from the end-to-end test's (9001-9003)
// and the agent tests' (9101-); its uid is 64700.
const (
	legacySeat    = 9201
	legacyUIDBase = 64700 - legacySeat
)

// TestLegacyAgent puts `wod agent --legacy-api` where the original's
// backend was: the original api-db's command mails, sent the way it sends
// them, provision a real student on a real JupyterHub, and the api-db
// hears back what the original backend would have told it.
func TestLegacyAgent(t *testing.T) {
	students := realHost(t, legacySeat, legacySeat)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	contentDir := t.TempDir()
	if err := content.ExtractSample(contentDir); err != nil {
		t.Fatal(err)
	}

	const base = 1000
	api := apidbtest.New(t, []legacy.Workshop{{ID: 1, Name: "Welcome", Notebook: "WKSHP-Welcome101",
		Location: "backend.test", Compile: "null", Range: []int{legacySeat, legacySeat + 2}}}, base, legacySeat+2)
	pwFile := filepath.Join(t.TempDir(), "apidb-password")
	os.WriteFile(pwFile, []byte(api.Password+"\n"), 0o600)

	// The site's SMTP relay, for the participant mails the api-db sends
	// through its backend when it has no SendGrid key.
	relay := smtptest.Start(t)
	mailAddr, hubAddr := freeAddr(t), freeAddr(t)
	hubURL := "http://" + hubAddr
	logs := &lockedLog{}
	cmd := exec.Command(binary, "agent", "--legacy-api", api.URL, "--legacy-api-password-file", pwFile,
		"--legacy-mail-addr", mailAddr, "--legacy-mail-from", "wod@example.org",
		"--legacy-base-student-id", fmt.Sprint(base), "--legacy-students", fmt.Sprint(legacySeat+2),
		"--content", contentDir, "--data", t.TempDir(), "--hub-addr", hubAddr, "--student-root", students,
		"--smtp-host", relay.Host, "--smtp-port", fmt.Sprint(relay.Port), "--smtp-security", "none",
		"--uid-base", fmt.Sprint(legacyUIDBase), "--log-level", "info",
		// wod's kernelspecs beside the test, not into the machine's Jupyter.
		"--kernelspec-dir", filepath.Join(t.TempDir(), "kernels"))
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(40 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Log("agent log:\n" + logs.String())
		}
	})
	for {
		if c, err := net.Dial("tcp", mailAddr); err == nil {
			c.Close()
			break
		}
		select {
		case <-exited:
			t.Fatalf("the agent exited:\n%s", logs)
		case <-ctx.Done():
			t.Fatalf("the intake never listened:\n%s", logs)
		case <-time.After(100 * time.Millisecond):
		}
	}

	// The api-db assigns the seat at registration, then mails CREATE,
	// exactly as it writes it.
	api.SetAssigned(base+legacySeat, true)
	rawCommand(t, mailAddr, fmt.Sprintf("Subject: CREATE %d 77 ann@example.org\nWKSHP-Welcome101\n.\n", legacySeat))
	student := fmt.Sprintf("/api/student/%d", base+legacySeat)
	put := waitPut(ctx, t, api, "/api/customer/77", "active")
	if put["active"] != "true" {
		t.Fatalf("customer after CREATE: %v", put)
	}
	password := waitPut(ctx, t, api, student, "password")["password"]
	username := fmt.Sprintf("student%d", legacySeat)
	s := jupyterhub.NewParticipant(hubURL, username)
	if ok, err := s.Login(ctx, password); err != nil || !ok {
		t.Fatalf("login with the password the api-db got: %v %v", ok, err)
	}
	if err := s.Open(ctx); err != nil {
		t.Fatal(err)
	}
	readme, err := s.Notebook(ctx, "WKSHP-Welcome101/0-ReadMeFirst.ipynb")
	if err != nil {
		t.Fatalf("%v\n%s", err, seatState(filepath.Join(students, username), e2eUIDBase+legacySeat))
	}
	raw, _ := json.Marshal(readme)
	if !strings.Contains(string(raw), password) {
		t.Fatalf("the notebook is not personalised: %s", raw)
	}

	// The api-db's credentials mail, sent through this backend as the
	// original's Postfix relayed it, reaches the participant.
	rawMail(t, mailAddr, "ann@example.org", "Subject: HPE Workshops-on-Demand credentials\nThe clock has started!\n"+
		fmt.Sprintf("User Name: %s\nPassword: %s\n.\n", fmt.Sprintf("student%d", legacySeat), password))
	got := relay.Wait(t, 1, time.Minute)
	if got[0].To[0] != "ann@example.org" || got[0].Subject != "HPE Workshops-on-Demand credentials" ||
		!strings.Contains(got[0].Text, "Password: "+password) {
		t.Errorf("relayed: to %v, subject %q, text %q", got[0].To, got[0].Subject, got[0].Text)
	}

	// The participant has a shell here: their PURGE over loopback, which
	// --legacy-mail-allow admits by default, is refused and logged.
	uid := legacyUIDBase + legacySeat
	if out := commandAsUID(t, uid, mailAddr, fmt.Sprintf("Subject: PURGE %d 77\nWKSHP-Welcome101\n.\n", legacySeat)); !strings.HasPrefix(out, "554 ") {
		t.Errorf("the student's PURGE was answered %q", out)
	}
	// Nor can they relay mail through the backend, whoever they claim to be.
	if out := commandAsUID(t, uid, mailAddr, "Subject: Your prize\nClaim it now.\n.\n"); !strings.HasPrefix(out, "554 ") {
		t.Errorf("the student's relay attempt was answered %q", out)
	}
	if !strings.Contains(logs.String(), `msg="legacy command mail refused"`) ||
		!strings.Contains(logs.String(), fmt.Sprintf("uid=%d user=%s", uid, username)) {
		t.Errorf("the refusal is not logged:\n%s", logs)
	}
	if ok, err := jupyterhub.NewParticipant(hubURL, username).Login(ctx, password); err != nil || !ok {
		t.Fatalf("the seat did not survive the student's PURGE: %v %v", ok, err)
	}

	// CLEANUP: measured, locked, wiped, reported.
	rawCommand(t, mailAddr, fmt.Sprintf("Subject: CLEANUP %d 77\nWKSHP-Welcome101\n.\n", legacySeat))
	waitPut(ctx, t, api, "/api/customer/77", "cleaned")
	var completion string
	for _, p := range api.Puts() {
		if v, ok := p.Fields["completionPercentage"]; ok && p.Path == "/api/customer/77" {
			completion = v
		}
	}
	if completion != "0" {
		t.Errorf("completion %q, want 0 (no cell run)", completion)
	}
	if assigned := waitPut(ctx, t, api, student, "assigned")["assigned"]; assigned != "false" {
		t.Errorf("student after CLEANUP: assigned %q", assigned)
	}
	if ok, _ := jupyterhub.NewParticipant(hubURL, username).Login(ctx, password); ok {
		t.Error("the old password still logs in")
	}
	// The api-db hears of the password the cleanup rotated to, as from
	// procmail-action.sh: its row no longer holds the participant's.
	if pws := fieldPuts(api, student, "password"); len(pws) != 2 || pws[1] == "" || pws[1] == password {
		t.Errorf("passwords reported: %q, want the create's then the cleanup's", pws)
	} else if ok, err := jupyterhub.NewParticipant(hubURL, username).Login(ctx, pws[1]); err != nil || !ok {
		t.Errorf("the password reported at cleanup is not the seat's: %v %v", ok, err)
	}
	if entries, err := os.ReadDir(filepath.Join(students, username)); err != nil || len(entries) != 0 {
		t.Errorf("home not wiped: %v %v", entries, err)
	}
	if pids := uidProcesses(legacyUIDBase + legacySeat); len(pids) != 0 {
		t.Errorf("processes of %s survive: %v", username, pids)
	}
}

// fieldPuts are the values of field the api-db got for path, in order.
func fieldPuts(api *apidbtest.Server, path, field string) []string {
	var out []string
	for _, p := range api.Puts() {
		if v, ok := p.Fields[field]; ok && p.Path == path {
			out = append(out, v)
		}
	}
	return out
}

// rawCommand sends a command mail the way the original api-db does: all at
// once, LF line ends, hanging up when the greeting arrives.
func rawCommand(t *testing.T, addr, mail string) {
	t.Helper()
	rawMail(t, addr, "wod@backend.example.org", mail)
}

// rawMail sends a mail to rcpt the way the original api-db does.
func rawMail(t *testing.T, addr, rcpt, mail string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("HELO apidb.example.org\nMAIL FROM: wod@example.org\nRCPT TO: " + rcpt + "\nDATA\n" + mail)); err != nil {
		t.Fatal(err)
	}
	c.Read(make([]byte, 1))
}

// lockedLog is a process's output the test reads while it runs.
type lockedLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// commandAsUID sends a command mail as rawCommand does, from a process of
// uid (a shell's /dev/tcp), and returns the answer.
func commandAsUID(t *testing.T, uid int, addr, mail string) string {
	t.Helper()
	host, port, _ := net.SplitHostPort(addr)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", fmt.Sprintf("exec 3<>/dev/tcp/%s/%s || exit 1\nprintf '%%s' \"$MAIL\" >&3\ncat <&3\n", host, port))
	cmd.Env = []string{"PATH=/usr/bin:/bin", "MAIL=HELO apidb.example.org\nMAIL FROM: wod@example.org\nRCPT TO: wod@backend.example.org\nDATA\n" + mail + "QUIT\n"}
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(uid)}}
	out, _ := cmd.CombinedOutput()
	return string(out)
}

// An allow-list that would take the participants' commands stops the
// agent before it listens.
func TestLegacyAgentRefusesAllowListsThatAdmitStudents(t *testing.T) {
	for _, args := range [][]string{
		{"--legacy-mail-allow", "0.0.0.0/0"},
		{"--legacy-mail-allow", "10.0.0.0/24", "--var", "IP-WKSHP-Docker101=10.0.0.20"},
	} {
		cmd := exec.Command(binary, append([]string{"agent", "--legacy-api", "http://127.0.0.1:1/api",
			"--legacy-api-password", "x", "--content", t.TempDir(), "--data", t.TempDir(), "--legacy-mail-addr", freeAddr(t)}, args...)...)
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), "would take students' commands") {
			t.Errorf("%v: %v\n%s", args, err, out)
		}
	}
}

// Relaying the api-db's participant mails needs its sender named: without
// it, anyone on the allowed networks could relay through the backend.
func TestLegacyAgentRelaysOnlyForANamedSender(t *testing.T) {
	cmd := exec.Command(binary, "agent", "--legacy-api", "http://127.0.0.1:1/api", "--legacy-api-password", "x",
		"--content", t.TempDir(), "--data", t.TempDir(), "--legacy-mail-addr", freeAddr(t),
		"--smtp-host", "127.0.0.1", "--smtp-security", "none")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "--legacy-mail-from") {
		t.Errorf("--smtp-host without --legacy-mail-from: %v\n%s", err, out)
	}
}

// waitPut waits for a PUT to path that sets field, and returns its fields.
func waitPut(ctx context.Context, t *testing.T, api *apidbtest.Server, path, field string) map[string]string {
	t.Helper()
	for {
		for _, p := range api.Puts() {
			if _, ok := p.Fields[field]; ok && p.Path == path {
				return p.Fields
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no PUT %s with %s; the api-db got %v", path, field, api.Puts())
		case <-time.After(100 * time.Millisecond):
		}
	}
}
