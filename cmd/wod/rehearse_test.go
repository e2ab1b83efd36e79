package main

import (
	"strings"
	"testing"

	"github.com/wod-dev/wod/store"
	"github.com/wod-dev/wod/store/storetest"
)

// TestRehearseWithoutExecutor: a server without a hub executor answers
// the CLI's request plainly, and the CLI fails with its words.
func TestRehearseWithoutExecutor(t *testing.T) {
	data := t.TempDir()
	dsn := storetest.DSN(t, store.SQLite)
	admin := setup(t, dsn, data)
	p := startPlatform(t, "--data", data, "--db", dsn)
	p.admin = admin
	p.prepare("2h", 3)
	code, _, errOut := runWod(t, "", "workshop", "rehearse", "WKSHP-Short", "--server", p.base, "--token", admin)
	if code != 1 || !strings.Contains(errOut, "503") || !strings.Contains(errOut, "rehearsals need a hub executor") {
		t.Fatalf("rehearse: %d %s", code, errOut)
	}
	code, _, errOut = runWod(t, "", "workshop", "rehearse", "WKSHP-Short", "--server", p.base)
	if code == 0 || !strings.Contains(errOut, "needs an operator token") {
		t.Fatalf("without a token: %d %s", code, errOut)
	}
}
