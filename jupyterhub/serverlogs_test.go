package jupyterhub

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestCapServerLogs: a log past the limit is cut to nothing, and the
// server's descriptor (O_APPEND) goes on writing at the new end; smaller
// logs, the previous generation and other files are left alone.
func TestCapServerLogs(t *testing.T) {
	dir := filepath.Join(t.TempDir(), serverLogsDir)
	if err := makeServerLogDir(dir); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(dir); err != nil || st.Mode().Perm() != 0o700 {
		t.Fatalf("the directory: %v, %v", st, err)
	}
	write := func(name string, n int) {
		if err := os.WriteFile(filepath.Join(dir, name), make([]byte, n), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("student1.log", 100)
	write("student2.log.1", 5000)
	write("notes", 5000)
	// student3's server holds its log open for appending, as the spawner
	// leaves it.
	f, err := os.OpenFile(filepath.Join(dir, "student3.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(make([]byte, 2000)); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(t.TempDir(), "elsewhere")
	if err := os.WriteFile(target, make([]byte, 5000), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, filepath.Join(dir, "student4.log")); err != nil {
		t.Fatal(err)
	}

	cut, err := capServerLogs(dir, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cut, []string{"student3"}) {
		t.Errorf("cut %v, want only student3", cut)
	}
	if _, err := f.WriteString("after\n"); err != nil {
		t.Fatal(err)
	}
	size := func(name string) int64 {
		st, err := os.Lstat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return st.Size()
	}
	if got := size("student3.log"); got != int64(len("after\n")) {
		t.Errorf("the cut log is %d bytes after the server wrote on, want its new line only", got)
	}
	for name, want := range map[string]int64{"student1.log": 100, "student2.log.1": 5000, "notes": 5000} {
		if got := size(name); got != want {
			t.Errorf("%s: %d bytes, want %d (left alone)", name, got, want)
		}
	}
	if st, err := os.Stat(target); err != nil || st.Size() != 5000 {
		t.Errorf("a symlink was followed: its target is %v, %v", st, err)
	}
}
