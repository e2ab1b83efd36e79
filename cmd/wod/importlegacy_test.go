package main

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/wod-dev/wod/legacy/apidbimport/originaltest"
	"github.com/wod-dev/wod/store/storetest"
)

func TestImportLegacyCommand(t *testing.T) {
	for _, d := range storetest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			legacy, _ := originaltest.Original(t, time.Now())
			common := []string{"--data", t.TempDir(), "--db", storetest.DSN(t, d), "--log-level", "warn"}

			if code, _, errOut := runWod(t, "", append([]string{"import-legacy", "mysql://x"}, common...)...); code == 0 ||
				!strings.Contains(errOut, "postgres://") {
				t.Fatalf("a bad address: %d %q", code, errOut)
			}
			code, out, errOut := runWod(t, "", append([]string{"import-legacy", "--dry-run", legacy}, common...)...)
			if code != 0 || !strings.Contains(out, "would create location be1.example.org") ||
				!strings.Contains(out, "would create operator hackshack (admin)") {
				t.Fatalf("--dry-run: %d %q %q", code, out, errOut)
			}
			code, out, errOut = runWod(t, "", append([]string{"import-legacy", legacy}, common...)...)
			if code != 0 || !strings.Contains(out, "create location be2.example.org") ||
				!strings.Contains(out, "2 customers are still live on the original") ||
				!strings.Contains(out, "no valid student id") {
				t.Fatalf("import: %d %q %q", code, out, errOut)
			}
			code, out, errOut = runWod(t, "", append([]string{"import-legacy", "--live", legacy}, common...)...)
			if code != 0 || !strings.Contains(out, "take over live customer 6 (eve@example.org)") ||
				!strings.Contains(out, "1 customers are still live") {
				t.Fatalf("--live: %d %q %q", code, out, errOut)
			}
			code, out, errOut = runWod(t, "", append([]string{"import-legacy", "--live", legacy}, common...)...)
			if code != 0 || regexp.MustCompile(`(?m)^(create|adopt|update|import|take over) `).MatchString(out) {
				t.Fatalf("a second run did something: %d %q %q", code, out, errOut)
			}
		})
	}
}
