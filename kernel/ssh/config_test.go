package ssh

import (
	"path/filepath"
	"reflect"
	"testing"
)

func TestReadConfigFollowsTheSimpleKeywords(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config")
	writeFile(t, path, `User early
Host *.lab !bad.lab
  HostName=%h.example
  Port 2200
  IdentityFile "~/.ssh/lab key"
Match host x
  User matched
Host app?.lab
  User student
  Port 2300
  IdentityFile id_app
Host *
  User fallback
`, 0o600)
	got, err := readConfig(path, "app1.lab")
	if err != nil {
		t.Fatal(err)
	}
	want := hostConfig{HostName: "%h.example", User: "early", Port: 2200, IdentityFiles: []string{"~/.ssh/lab key", "id_app"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("app1.lab: %+v, want %+v", got, want)
	}
	if got, _ := readConfig(path, "bad.lab"); got.HostName != "" || got.Port != 0 {
		t.Errorf("a negated host matched: %+v", got)
	}
	if got, _ := readConfig(filepath.Join(t.TempDir(), "none"), "x"); !reflect.DeepEqual(got, hostConfig{}) {
		t.Errorf("no file: %+v", got)
	}
	if p := expandPath("~/.ssh/%r@%h", "/home/s", "s", "h", "u"); p != "/home/s/.ssh/u@h" {
		t.Errorf("expandPath: %s", p)
	}
	if p := expandPath("id_app", "/home/s", "s", "h", "u"); p != "/home/s/.ssh/id_app" {
		t.Errorf("relative: %s", p)
	}
}
