package legacy

import (
	"reflect"
	"strings"
	"testing"

	"github.com/wod-dev/wod"
)

func TestParseMessage(t *testing.T) {
	for _, tc := range []struct {
		name, raw string
		want      []Command
		err       string // part of the error; "" for success
	}{
		{name: "the original's CREATE: LF, no blank line",
			raw:  "Subject: CREATE 12 345 ann@example.org\nWKSHP-API101\n.\n",
			want: []Command{{Verb: Create, Student: 12, Customer: 345, Notebook: "WKSHP-API101"}}},
		{name: "a proper mail with headers and CRLF",
			raw:  "From: wod@example.org\r\nTo: wod@backend\r\nSubject: CLEANUP 3 7\r\nMessage-ID: <x@y>\r\n\r\nCHLG-Python\r\n",
			want: []Command{{Verb: Cleanup, Student: 3, Customer: 7, Notebook: "CHLG-Python"}}},
		{name: "folded subject",
			raw:  "Subject: PURGE\n 4 9\n\nWKSHP-K8S\n",
			want: []Command{{Verb: Purge, Student: 4, Customer: 9, Notebook: "WKSHP-K8S"}}},
		{name: "a PURGE needs no notebook",
			raw:  "Subject: PURGE 4 9\n",
			want: []Command{{Verb: Purge, Student: 4, Customer: 9}}},
		{name: "the test helper's customer 0",
			raw:  "Subject: RESET 5 0\n\nWKSHP-API101\n",
			want: []Command{{Verb: Reset, Student: 5, Customer: 0, Notebook: "WKSHP-API101"}}},
		{name: "a RESET range",
			raw: "Subject: RESET 1,3 8\nWKSHP-OneView\n",
			want: []Command{{Verb: Reset, Student: 1, Customer: 8, Notebook: "WKSHP-OneView"},
				{Verb: Reset, Student: 2, Customer: 8, Notebook: "WKSHP-OneView"},
				{Verb: Reset, Student: 3, Customer: 8, Notebook: "WKSHP-OneView"}}},
		{name: "the original's unawaited promise", raw: "Subject: PURGE [object Promise] 42\nWKSHP-API101\n",
			err: "want CREATE|CLEANUP|RESET|PURGE"},
		{name: "unknown verb", raw: "Subject: PDF 3 0\nWKSHP-API101\n", err: "want CREATE"},
		{name: "no subject", raw: "From: a@b\n\nWKSHP-API101\n", err: "no Subject"},
		{name: "student 0", raw: "Subject: CREATE 0 1 a@b.c\nWKSHP-API101\n", err: "start at 1"},
		{name: "range on CREATE", raw: "Subject: CREATE 1,2 1 a@b.c\nWKSHP-API101\n", err: "only RESET"},
		{name: "range backwards", raw: "Subject: RESET 5,2 1\nWKSHP-API101\n", err: "start at 1"},
		{name: "no notebook", raw: "Subject: CREATE 1 2 a@b.c\n\n\n", err: "names no notebook"},
		{name: "a path for a notebook", raw: "Subject: CLEANUP 1 2\n../../etc\n", err: "not a workshop folder"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseMessage([]byte(tc.raw))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("got %v, %v; want an error with %q", got, err, tc.err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

func TestCommandWorkshop(t *testing.T) {
	c := Command{Notebook: "CHLG-Python"}
	if c.Workshop() != "WKSHP-Python" || c.SessionType() != wod.SessionChallenge {
		t.Errorf("challenge: %s %s", c.Workshop(), c.SessionType())
	}
	c = Command{Notebook: "WKSHP-Python"}
	if c.Workshop() != "WKSHP-Python" || c.SessionType() != wod.SessionWorkshop {
		t.Errorf("workshop: %s %s", c.Workshop(), c.SessionType())
	}
}
