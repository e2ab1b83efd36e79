package legacy

import (
	"fmt"
	"testing"

	"github.com/wod-dev/wod/testenv"
)

// FuzzParseMessage feeds the command-mail parser what an SMTP client on the
// intake's port may send. Whatever the bytes, it returns an error or
// commands that the bridge can run as they are: a known verb, students from
// 1 within one RESET range, a workshop folder (or none, for a PURGE). A
// command written back as the original's mail reads back the same.
func FuzzParseMessage(f *testing.F) {
	for _, seed := range []string{
		"Subject: CREATE 12 345 ann@example.org\nWKSHP-API101\n.\n",
		"From: wod@example.org\r\nTo: wod@backend\r\nSubject: CLEANUP 3 7\r\nMessage-ID: <x@y>\r\n\r\nCHLG-Python\r\n",
		"Subject: PURGE\n 4 9\n\nWKSHP-K8S\n",
		"Subject: PURGE 4 9\n",
		"Subject: RESET 5 0\n\nWKSHP-API101\n",
		"Subject: RESET 1,3 8\nWKSHP-OneView\n",
		"Subject: PURGE [object Promise] 42\nWKSHP-API101\n",
		"Subject: =?utf-8?q?CREATE_1_2?=\nWKSHP-X\n",
		"From: a@b\n\nWKSHP-API101\n",
		"Subject: RESET 1,99999999999999999999 8\nWKSHP-OneView\n",
		"Subject: CLEANUP 1 2\n../../etc\n",
		"\n\n",
		"",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		defer testenv.StopHang(raw)()
		cmds, err := ParseMessage(raw)
		if err != nil {
			if cmds != nil {
				t.Fatalf("an error (%v) with commands %v", err, cmds)
			}
			return
		}
		if len(cmds) == 0 || len(cmds) > MaxRange {
			t.Fatalf("%d commands from one mail", len(cmds))
		}
		first := cmds[0]
		for i, c := range cmds {
			switch c.Verb {
			case Create, Cleanup, Reset, Purge:
			default:
				t.Fatalf("unknown verb %q", c.Verb)
			}
			if c.Student != first.Student+i || c.Student < 1 || c.Customer < 0 {
				t.Fatalf("command %d: %+v", i, c)
			}
			if c.Verb != first.Verb || c.Customer != first.Customer || c.Notebook != first.Notebook {
				t.Fatalf("one mail, different commands: %+v and %+v", first, c)
			}
			if len(cmds) > 1 && c.Verb != Reset {
				t.Fatalf("a range of %s", c.Verb)
			}
			if c.Notebook == "" && c.Verb != Purge || c.Notebook != "" && !notebookRE.MatchString(c.Notebook) {
				t.Fatalf("notebook %q for %s", c.Notebook, c.Verb)
			}
		}
		// The original's own form of the first command reads back the same.
		again, err := ParseMessage(fmt.Appendf(nil, "Subject: %s %d %d\n%s\n.\n", first.Verb, first.Student, first.Customer, first.Notebook))
		if err != nil || len(again) != 1 || again[0] != first {
			t.Fatalf("%+v written as a mail reads back as %+v, %v", first, again, err)
		}
	})
}
