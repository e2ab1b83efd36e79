package main

import (
	"strings"
	"testing"

	"github.com/wod-dev/wod/store"
	"github.com/wod-dev/wod/store/storetest"
)

// TestRehearseRefused: the CLI fails with the server's words when the
// workshop does not exist or no operator token is given (a whole rehearsal
// on a real hub is TestRehearsalOnRealHub).
func TestRehearseRefused(t *testing.T) {
	data := t.TempDir()
	dsn := storetest.DSN(t, store.SQLite)
	admin := setup(t, dsn, data)
	p := startPlatform(t, "--data", data, "--db", dsn)
	p.admin = admin
	p.prepare("2h", 3)
	code, _, errOut := runWod(t, "", "workshop", "rehearse", "WKSHP-Nope", "--server", p.base, "--token", admin)
	if code != 1 || !strings.Contains(errOut, "404") || !strings.Contains(errOut, "WKSHP-Nope") {
		t.Fatalf("rehearse: %d %s", code, errOut)
	}
	code, _, errOut = runWod(t, "", "workshop", "rehearse", "WKSHP-Short", "--server", p.base)
	if code == 0 || !strings.Contains(errOut, "needs an operator token") {
		t.Fatalf("without a token: %d %s", code, errOut)
	}
}
