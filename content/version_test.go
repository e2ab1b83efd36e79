package content

import (
	"os"
	"path/filepath"
	"testing"
)

// TestContentVersion: the version a warm seat is made from follows the
// workshop's files, notebooks included, not only its wod.yml.
func TestContentVersion(t *testing.T) {
	dir := t.TempDir()
	if err := ExtractSample(dir); err != nil {
		t.Fatal(err)
	}
	version := func() string {
		t.Helper()
		ws, err := Load([]string{dir})
		if err != nil || len(ws) == 0 || ws[0].ContentVersion == "" {
			t.Fatalf("load: %v %v", ws, err)
		}
		return ws[0].ContentVersion
	}
	v1 := version()
	if v := version(); v != v1 {
		t.Fatalf("the same content has two versions: %s %s", v1, v)
	}
	matches, _ := filepath.Glob(filepath.Join(dir, "WKSHP-*", "*.ipynb"))
	if len(matches) == 0 {
		t.Fatal("no notebook in the sample")
	}
	b, _ := os.ReadFile(matches[0])
	if err := os.WriteFile(matches[0], append(b, ' '), 0o644); err != nil {
		t.Fatal(err)
	}
	if v := version(); v == v1 {
		t.Fatal("a changed notebook left the version as it was")
	}
}
