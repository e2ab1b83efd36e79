package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/agent"
	"github.com/wod-dev/wod/content"
	"github.com/wod-dev/wod/gitcontent"
	"github.com/wod-dev/wod/gitcontent/gittest"
)

const gitWorkshopYML = `name: 'TITLE'
description: 'From git'
active: true
capacity: 5
range: [1,5]
duration: 2
category: ['Beginner']
`

func gitNotebook(text string) *string {
	return gittest.Text(`{"cells": [{"cell_type": "markdown", "metadata": {}, "source": ["` + text +
		`"]}], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}`)
}

// TestContentFromGit runs wod up (server only) on a public repository
// (file://) and a private overlay reached over HTTP with a token (git
// http-backend), and follows them: pushes announced by GitHub's and
// GitLab's webhooks re-import, a broken commit keeps the last good content
// and alerts, and an agent with clones of its own deploys the commit the
// server imported while the repository has moved on.
func TestContentFromGit(t *testing.T) {
	pub := gittest.New(t)
	pub.Commit("public", map[string]*string{
		"WKSHP-Git/wod.yml":     gittest.Text(strings.Replace(gitWorkshopYML, "TITLE", "Public title", 1)),
		"WKSHP-Git/1-Lab.ipynb": gitNotebook("public notebook"),
	})
	priv := gittest.New(t)
	priv.Commit("private 1", map[string]*string{
		"WKSHP-Git/wod.yml":     gittest.Text(strings.Replace(gitWorkshopYML, "TITLE", "Private one", 1)),
		"WKSHP-Git/1-Lab.ipynb": gitNotebook("private one"),
	})
	privURL := priv.ServeHTTP(t, "forge-token")
	secrets := t.TempDir()
	tokenFile := filepath.Join(secrets, "token")
	os.WriteFile(tokenFile, []byte("forge-token\n"), 0o600)

	data := t.TempDir()
	common := []string{"--data", data, "--log-level", "warn"}
	if code, _, errOut := runWod(t, "", append([]string{"migrate"}, common...)...); code != 0 {
		t.Fatal(errOut)
	}
	_, tok, _ := runWod(t, "", append([]string{"token", "create", "--role", "admin"}, common...)...)
	admin := strings.TrimSpace(tok)
	addr := freeAddr(t)
	base := "http://" + addr
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	var upErr bytes.Buffer
	go func() {
		done <- run(ctx, append([]string{"up", "--agent=false", "--addr", addr, "--content-sync", "1h", "--alert-to", "ops@example.org",
			"--content-repo", pub.FileURL(), "--content-repo", privURL + "#main token-file=" + tokenFile}, common...),
			func(string) string { return "" }, strings.NewReader(""), &bytes.Buffer{}, &upErr)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	waitReady(t, base+"/readyz")

	call := func(method, path string, body []byte, hdr map[string]string) (int, []byte) {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, b
	}
	bearer := map[string]string{"Authorization": "Bearer " + admin}
	title := func() string {
		_, b := call("GET", "/api/v1/workshops/WKSHP-Git", nil, bearer)
		var w wod.Workshop
		json.Unmarshal(b, &w)
		return w.Title
	}
	repos := func() []*wod.ContentRepo {
		_, b := call("GET", "/api/v1/content", nil, bearer)
		var out struct{ Repos []*wod.ContentRepo }
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatalf("content repos: %v %s", err, b)
		}
		return out.Repos
	}
	waitTitle := func(want string) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for title() != want {
			if time.Now().After(deadline) {
				t.Fatalf("the catalogue never showed %q (has %q): %+v\n%s", want, title(), repos()[1], upErr.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	// Cloned and imported at start: the private overlay wins.
	if got := title(); got != "Private one" {
		t.Fatalf("imported at start: %q\n%s", got, upErr.String())
	}
	rs := repos()
	if len(rs) != 2 || rs[0].Commit == "" || rs[1].Commit == "" || rs[1].URL != strings.TrimSuffix(privURL, "") {
		t.Fatalf("repositories: %+v", rs)
	}

	// The admin page shows each repository's commit and, to an admin,
	// the webhook's secret.
	pw, _ := os.ReadFile(filepath.Join(data, "initial-admin-password"))
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	if code, _, err := postLogin(browser, base, "admin", strings.TrimSpace(string(pw))); err != nil || code != 200 {
		t.Fatalf("login: %d %v", code, err)
	}
	res, err := browser.Get(base + "/admin/workshops")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	m := regexp.MustCompile(`id="content-hook-secret">([^<]+)<`).FindSubmatch(page)
	if m == nil || !bytes.Contains(page, []byte(rs[1].Commit[:12])) || !bytes.Contains(page, []byte("/api/v1/content/hook")) {
		t.Fatalf("admin workshops page: %s", page)
	}
	secret := string(m[1])
	if strings.Contains(upErr.String(), secret) || strings.Contains(upErr.String(), "forge-token") {
		t.Fatal("a secret in the log")
	}

	// The push webhook: refused without the secret, accepted with it.
	priv.Commit("private 2", map[string]*string{"WKSHP-Git/wod.yml": gittest.Text(strings.Replace(gitWorkshopYML, "TITLE", "Private two", 1))})
	push := []byte(`{"ref":"refs/heads/main"}`)
	sign := func(key string, body []byte) string {
		mac := hmac.New(sha256.New, []byte(key))
		mac.Write(body)
		return "sha256=" + hex.EncodeToString(mac.Sum(nil))
	}
	for name, hdr := range map[string]map[string]string{
		"unsigned":               nil,
		"GitHub, another secret": {"X-Hub-Signature-256": sign("not-the-secret", push)},
		"GitHub, another body":   {"X-Hub-Signature-256": sign(secret, []byte(`{}`))},
		"GitHub, not hex":        {"X-Hub-Signature-256": "sha256=zz"},
		"GitLab, another token":  {"X-Gitlab-Token": "not-the-secret"},
	} {
		if code, b := call("POST", "/api/v1/content/hook", push, hdr); code != http.StatusUnauthorized {
			t.Fatalf("%s: %d %s", name, code, b)
		}
	}
	if title() != "Private one" {
		t.Fatal("a refused hook synced")
	}
	if code, b := call("POST", "/api/v1/content/hook", push, map[string]string{"X-Hub-Signature-256": sign(secret, push),
		"X-GitHub-Event": "push"}); code != http.StatusAccepted {
		t.Fatalf("GitHub push: %d %s", code, b)
	}
	waitTitle("Private two")
	third := priv.Commit("private 3", map[string]*string{"WKSHP-Git/wod.yml": gittest.Text(strings.Replace(gitWorkshopYML, "TITLE", "Private three", 1)),
		"WKSHP-Git/1-Lab.ipynb": gitNotebook("private three")})
	if code, b := call("POST", "/api/v1/content/hook", push, map[string]string{"X-Gitlab-Token": secret,
		"X-Gitlab-Event": "Push Hook"}); code != http.StatusAccepted {
		t.Fatalf("GitLab push: %d %s", code, b)
	}
	waitTitle("Private three")
	// The syncer records the repositories' commits just after the import
	// that changed the catalogue: wait for that record too.
	for deadline := time.Now().Add(30 * time.Second); repos()[1].Commit != third; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the content state never recorded %s: %+v", third, repos()[1])
		}
	}
	live := repos()[1].Commit

	// A participant registers; the repository moves on before the agent
	// claims the job: the job names the commit the catalogue has, and an
	// agent with clones of its own deploys that one.
	code, b := call("POST", "/api/v1/locations/local/agent-token", nil, bearer)
	if code >= 300 {
		t.Fatalf("agent token: %d %s", code, b)
	}
	var at struct{ Token string }
	json.Unmarshal(b, &at)
	if code, b := call("POST", "/api/v1/registrations", []byte(`{"workshop":"WKSHP-Git","name":"Ann","email":"ann@example.com"}`), nil); code >= 300 {
		t.Fatalf("register: %d %s", code, b)
	}
	moved := priv.Commit("private 4", map[string]*string{"WKSHP-Git/1-Lab.ipynb": gitNotebook("private four, not imported")})
	client := &agent.Client{BaseURL: base, Token: at.Token}
	job, err := client.Claim(context.Background(), 5*time.Second)
	if err != nil || job == nil || job.Kind != wod.JobCreate {
		t.Fatalf("claim: %+v %v", job, err)
	}
	specs, err := gitcontent.ParseSpecs([]string{pub.FileURL(), privURL + "#main token-file=" + tokenFile})
	if err != nil {
		t.Fatal(err)
	}
	agentData := t.TempDir()
	src := &gitcontent.Source{}
	for _, sp := range specs {
		src.Repos = append(src.Repos, gitcontent.Open(agentData, sp))
	}
	if len(job.Content) != 2 || job.Content[1].Commit != live || job.Content[1].Commit == moved {
		t.Fatalf("the job's commits: %+v (live %s, moved %s)", job.Content, live, moved)
	}
	jctx, err := agent.WithJobContent(context.Background(), src, job)
	if err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	ws := &agent.ContentWorkshops{Renderer: content.NewRenderer()}
	if err := ws.Deploy(jctx, job.Workshop, home, map[string]any{"WORKSHOP": job.Workshop}); err != nil {
		t.Fatal(err)
	}
	nb, err := os.ReadFile(filepath.Join(home, "WKSHP-Git", "1-Lab.ipynb"))
	if err != nil || !strings.Contains(string(nb), "private three") {
		t.Fatalf("deployed notebook, want the server's commit: %s %v", nb, err)
	}
	// A job naming no commit of a repository the agent follows is refused.
	if _, err := agent.WithJobContent(context.Background(), src, &wod.AgentJob{ID: 1}); err == nil {
		t.Fatal("a job without the server's commits")
	}

	// A broken commit: wod workshop sync fails with the reason, the last
	// good content stays live, the operators get one alert.
	priv.Commit("broken", map[string]*string{"WKSHP-Git/wod.yml": gittest.Text(strings.Replace(gitWorkshopYML, "TITLE", "Broken", 1)),
		"WKSHP-Git/1-Lab.ipynb": gitNotebook("{{ NOT_DEFINED }}")})
	code, out, errOut := runWod(t, "", "workshop", "sync", "--server", base, "--token", admin)
	if code == 0 || !strings.Contains(errOut, "NOT_DEFINED") {
		t.Fatalf("wod workshop sync of a broken commit: %d %q %q", code, out, errOut)
	}
	if got := title(); got != "Private three" {
		t.Fatalf("the last good content stays: %q", got)
	}
	rs = repos()
	if rs[1].Commit != live || !strings.Contains(rs[1].Error, "NOT_DEFINED") || rs[1].Head == live {
		t.Fatalf("recorded after the broken commit: %+v", rs[1])
	}
	_, b = call("GET", "/api/v1/mails?kind=alert", nil, bearer)
	var mails struct{ Items []wod.Mail }
	json.Unmarshal(b, &mails)
	if len(mails.Items) != 1 || !strings.Contains(mails.Items[0].Text, "NOT_DEFINED") {
		t.Fatalf("one alert: %s", b)
	}
	// Fixed: wod workshop sync imports it and prints the commits.
	fixed := priv.Commit("fixed", map[string]*string{"WKSHP-Git/1-Lab.ipynb": gitNotebook("fixed")})
	code, out, errOut = runWod(t, "", "workshop", "sync", "--server", base, "--token", admin)
	if code != 0 || !strings.Contains(out, fixed) || title() != "Broken" {
		t.Fatalf("wod workshop sync: %d %q %q", code, out, errOut)
	}
}
