package operator_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/store"
	"github.com/wod-dev/wod/store/storetest"
)

func TestImportContentIsAllOrNone(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		ctx := context.Background()
		ops := catalogService(db, clock)
		mustLocation(t, db, "hub1", 10)
		dir := writeContent(t, map[string][2]string{
			"WKSHP-Good":   {"name: Good\nrange: [1,5]\nactive: true\n", notebook("hello student{{ STDID }}")},
			"WKSHP-Broken": {"name: Broken\nrange: [6,10]\n", notebook("port {{ HTTPPORT }}")},
		})

		_, err := ops.ImportContent(ctx, boss, []string{dir}, "")
		var we *wod.Error
		if wod.ErrorCode(err) != wod.EINVALID || !errors.As(err, &we) || len(we.Fields) == 0 ||
			we.Fields[0].Field != "WKSHP-Broken" || !strings.Contains(we.Fields[0].Message, `undefined variable "HTTPPORT"`) ||
			!strings.Contains(we.Message, "--content-check warn") {
			t.Fatalf("strict import of a broken workshop: %v", err)
		}
		if _, n, _ := db.FindWorkshops(ctx, wod.WorkshopFilter{}); n != 0 {
			t.Fatalf("a refused import left %d workshops", n)
		}
		if es := auditOf(t, db, "workshop.import"); len(es) != 0 {
			t.Fatalf("a refused import is audited: %v", es)
		}

		// The store refuses the batch as a whole: a seat range beyond the
		// location's students.
		tooBig := writeContent(t, map[string][2]string{
			"WKSHP-Good": {"name: Good\nrange: [1,5]\n", ""},
			"WKSHP-Big":  {"name: Big\nrange: [1,30]\n", ""},
		})
		if _, err := ops.ImportContent(ctx, boss, []string{tooBig}, ""); wod.ErrorCode(err) != wod.EINVALID {
			t.Fatalf("import beyond the location's seats: %v", err)
		}
		if _, n, _ := db.FindWorkshops(ctx, wod.WorkshopFilter{}); n != 0 {
			t.Fatalf("a refused batch left %d workshops", n)
		}

		// Warned, the same content goes in, and the operator's import is
		// audited.
		ops.StrictContent = false
		res, err := ops.ImportContent(ctx, boss, []string{dir}, "")
		if err != nil || len(res) != 2 || res[0].Action != "created" || res[1].Action != "created" {
			t.Fatalf("import with warnings: %+v %v", res, err)
		}
		es := auditOf(t, db, "workshop.import")
		if len(es) != 1 || es[0].Actor != "boss" || es[0].Subject != "content" || es[0].Detail != "" {
			t.Fatalf("audit of the import: %+v", es)
		}
		// The platform's own import (at start, after a sync) leaves no event.
		if _, err := ops.ImportContent(ctx, nil, []string{dir}, ""); err != nil {
			t.Fatal(err)
		}
		if es := auditOf(t, db, "workshop.import"); len(es) != 1 {
			t.Fatalf("the platform's import is audited: %+v", es)
		}
	})
}

func TestImportContentChoosesTheLocation(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		ctx := context.Background()
		ops := catalogService(db, clock)
		dir := writeContent(t, map[string][2]string{"WKSHP-A": {"name: A\nrange: [1,3]\n", ""}})

		_, err := ops.ImportContent(ctx, boss, []string{dir}, "")
		if wod.ErrorCode(err) != wod.EINVALID || !strings.Contains(wod.ErrorMessage(err), "no location") ||
			!strings.Contains(wod.ErrorMessage(err), "wod up") {
			t.Fatalf("import with no location: %v", err)
		}

		one := mustLocation(t, db, "hub1", 10)
		if _, err := ops.ImportContent(ctx, boss, []string{dir}, ""); err != nil {
			t.Fatalf("import with one location: %v", err)
		}
		if w, err := db.FindWorkshop(ctx, "WKSHP-A"); err != nil || w.LocationID != one.ID {
			t.Fatalf("the workshop is not at the only location: %+v %v", w, err)
		}

		two := mustLocation(t, db, "hub2", 10)
		other := writeContent(t, map[string][2]string{"WKSHP-B": {"name: B\nrange: [1,3]\n", ""}})
		_, err = ops.ImportContent(ctx, boss, []string{other}, "")
		if wod.ErrorCode(err) != wod.EINVALID || !strings.Contains(wod.ErrorMessage(err), "there are 2 locations") ||
			!strings.Contains(wod.ErrorMessage(err), "--location") {
			t.Fatalf("import with two locations: %v", err)
		}
		if _, err := ops.ImportContent(ctx, boss, []string{other}, "nowhere"); wod.ErrorCode(err) != wod.ENOTFOUND {
			t.Fatalf("import to an unknown location: %v", err)
		}
		if _, err := ops.ImportContent(ctx, boss, []string{other}, "hub2"); err != nil {
			t.Fatalf("import to a named location: %v", err)
		}
		if w, err := db.FindWorkshop(ctx, "WKSHP-B"); err != nil || w.LocationID != two.ID {
			t.Fatalf("the workshop is not at the named location: %+v %v", w, err)
		}
		// Several, hub1 with its own range: new workshops are offered at
		// each; existing ones keep their locations (the operators').
		third := writeContent(t, map[string][2]string{"WKSHP-C": {"name: C\nrange: [1,3]\n", ""},
			"WKSHP-B": {"name: B again\nrange: [1,3]\n", ""}})
		if _, err := ops.ImportContent(ctx, boss, []string{third}, "hub2, hub1:4-6"); err != nil {
			t.Fatalf("import to two locations: %v", err)
		}
		if w, err := db.FindWorkshop(ctx, "WKSHP-C"); err != nil || w.LocationID != two.ID ||
			strings.Join(w.Locations, " ") != "hub2 hub1:4-6" {
			t.Fatalf("the workshop is not at both locations: %+v %v", w, err)
		}
		if w, err := db.FindWorkshop(ctx, "WKSHP-B"); err != nil || strings.Join(w.Locations, " ") != "hub2" {
			t.Fatalf("a re-imported workshop's locations changed: %+v %v", w, err)
		}
		if _, err := ops.ImportContent(ctx, boss, []string{third}, "hub2,hub1:6-4"); wod.ErrorCode(err) != wod.EINVALID {
			t.Fatalf("a bad range: %v", err)
		}
	})
}

func TestReimportContent(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		ctx := context.Background()
		ops := catalogService(db, clock)
		mustLocation(t, db, "hub1", 10)
		if ops.HasContent() {
			t.Fatal("a server without --content has content")
		}
		if _, err := ops.ReimportContent(ctx, boss); wod.ErrorCode(err) != wod.EINVALID ||
			!strings.Contains(wod.ErrorMessage(err), "--content") {
			t.Fatalf("reimport without content: %v", err)
		}
		ops.ContentDirs = []string{writeContent(t, map[string][2]string{"WKSHP-A": {"name: A\nrange: [1,3]\n", ""}})}
		if res, err := ops.ReimportContent(ctx, boss); err != nil || len(res) != 1 || res[0].Slug != "WKSHP-A" {
			t.Fatalf("reimport: %+v %v", res, err)
		}
	})
}

// TestImportWarnsOfMissingKernels: the import says which kernels a
// workshop's notebooks need that its location lacks, once the location's
// agent has reported its kernels (before, nobody knows: no warning).
func TestImportWarnsOfMissingKernels(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		ctx := context.Background()
		ops := catalogService(db, clock)
		l := mustLocation(t, db, "local", 10)
		nb := `{"cells":[],"metadata":{"kernelspec":{"name":"gophernotes","display_name":"Go","language":"go"}},"nbformat":4,"nbformat_minor":4}`
		dir := writeContent(t, map[string][2]string{"WKSHP-GO101": {"name: Go\nrange: [1,5]\n", nb}})
		res, err := ops.ImportContent(ctx, boss, []string{dir}, "")
		if err != nil || len(res) != 1 || len(res[0].Warnings) != 0 {
			t.Fatalf("kernels unknown: %+v %v", res, err)
		}
		if err := db.SetLocationKernels(ctx, l.ID, []string{"bash", "python3"}); err != nil {
			t.Fatal(err)
		}
		res, err = ops.ImportContent(ctx, boss, []string{dir}, "")
		if err != nil || len(res) != 1 || len(res[0].Warnings) != 1 ||
			res[0].Warnings[0] != "WKSHP-GO101: kernel gophernotes is not installed on local (1 notebook)" {
			t.Fatalf("kernel missing: %+v %v", res, err)
		}
		if err := db.SetLocationKernels(ctx, l.ID, []string{"bash", "gophernotes"}); err != nil {
			t.Fatal(err)
		}
		if res, err = ops.ImportContent(ctx, boss, []string{dir}, ""); err != nil || len(res[0].Warnings) != 0 {
			t.Fatalf("kernel installed: %+v %v", res, err)
		}
	})
}
