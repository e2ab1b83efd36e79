package apidbimport

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wod-dev/wod"
)

// Store is what the import writes to.
type Store interface {
	wod.LocationService
	wod.WorkshopService
	wod.UserService
	wod.LegacyImportService
}

// Options tune an import.
type Options struct {
	// DryRun reads and maps everything and writes nothing.
	DryRun bool
	// Now tells a live customer from one the original forgot: a live one
	// whose end passed a day ago is history.
	Now time.Time
	// Live takes over the customers still running on the original (the
	// session goes on, on the same student account); without it they are
	// counted and left to finish there.
	Live bool
	// Encrypt seals a live customer's student password with wod's key;
	// required with Live.
	Encrypt func(plaintext string) ([]byte, error)
}

// Report is what an import did, would do (dry run) or could not map.
type Report struct {
	DryRun bool
	// Done lists what was (or would be) created or updated, one line each.
	Done []string
	// Skipped counts rows imported by an earlier run.
	Skipped int
	// Live counts the customers still running on the original that were
	// not taken over: they are left there to finish and a later run
	// imports them as history.
	Live int
	// Unmapped lists the rows that could not be brought over, and why.
	Unmapped []string
}

func (r *Report) did(format string, args ...any) {
	verb := ""
	if r.DryRun {
		verb = "would "
	}
	r.Done = append(r.Done, verb+fmt.Sprintf(format, args...))
}

func (r *Report) unmapped(format string, args ...any) {
	r.Unmapped = append(r.Unmapped, fmt.Sprintf(format, args...))
}

// Print writes the report for an operator.
func (r *Report) Print(w io.Writer) {
	for _, l := range r.Done {
		fmt.Fprintln(w, l)
	}
	fmt.Fprintf(w, "%d rows already imported by an earlier run\n", r.Skipped)
	if r.Live > 0 {
		fmt.Fprintf(w, "%d customers are still live on the original: let the site drain them (close its registrations "+
			"and wait for their end), then run the import again to bring them over as history\n", r.Live)
	}
	if len(r.Unmapped) > 0 {
		fmt.Fprintf(w, "%d rows could not be mapped:\n", len(r.Unmapped))
		for _, l := range r.Unmapped {
			fmt.Fprintln(w, "  "+l)
		}
	}
}

// Import reads the original api-db at dsn and brings it into st.
func Import(ctx context.Context, dsn string, st Store, opt Options) (*Report, error) {
	src, err := read(ctx, dsn)
	if err != nil {
		return nil, err
	}
	im := &importer{st: st, src: src, opt: opt, rep: &Report{DryRun: opt.DryRun},
		locations: map[string]*wod.Location{}, workshops: map[string]*wod.Workshop{}}
	if opt.Live && opt.Encrypt == nil {
		return nil, fmt.Errorf("import the original: taking over live customers needs wod's encryption key")
	}
	if opt.Now.IsZero() {
		im.opt.Now = time.Now()
	}
	for _, step := range []func(context.Context) error{im.importLocations, im.importWorkshops, im.importCustomers, im.importUsers} {
		if err := step(ctx); err != nil {
			return im.rep, err
		}
	}
	return im.rep, nil
}

type importer struct {
	st  Store
	src *source
	opt Options
	rep *Report
	// locations by the original's name (the backend's FQDN); workshops by
	// the original's workshop name, the key its customers join on.
	locations map[string]*wod.Location
	workshops map[string]*wod.Workshop
}

func (im *importer) imported(ctx context.Context, kind wod.LegacyKind) (map[int64]int64, error) {
	return im.st.LegacyImported(ctx, kind)
}

func (im *importer) record(ctx context.Context, kind wod.LegacyKind, legacyID, wodID int64) error {
	if im.opt.DryRun {
		return nil
	}
	return im.st.RecordLegacy(ctx, kind, legacyID, wodID)
}

// importLocations creates a location per backend, with the original's
// basestdid so that global student ids stay the same, and as many seats
// as the backend had students.
func (im *importer) importLocations(ctx context.Context) error {
	done, err := im.imported(ctx, wod.LegacyLocation)
	if err != nil {
		return err
	}
	students := map[string]int{} // highest local number per location
	for _, l := range im.src.locations {
		if !l.BaseStdID.Valid {
			continue
		}
		for _, s := range im.src.students {
			if s.Location == l.Name {
				students[l.Name] = max(students[l.Name], int(s.ID-l.BaseStdID.Int64))
			}
		}
	}
	for _, l := range im.src.locations {
		name := strings.ToLower(strings.TrimSpace(l.Name))
		if existing, err := im.st.FindLocation(ctx, name); err == nil {
			if _, ok := done[l.ID]; ok {
				im.locations[l.Name] = existing
				im.rep.Skipped++
				continue
			}
			if !l.BaseStdID.Valid || int64(existing.BaseStudentID) != l.BaseStdID.Int64 {
				// Student numbers computed with another base would put
				// history and seats on the wrong accounts.
				im.rep.unmapped("location %d %q: wod already has it with base student id %d, the original %s",
					l.ID, l.Name, existing.BaseStudentID, nullInt(l.BaseStdID))
				continue
			}
			im.locations[l.Name] = existing
			im.rep.did("adopt location %s (already in wod)", name)
			if err := im.record(ctx, wod.LegacyLocation, l.ID, existing.ID); err != nil {
				return err
			}
			continue
		} else if wod.ErrorCode(err) != wod.ENOTFOUND {
			return err
		}
		if !l.BaseStdID.Valid {
			im.rep.unmapped("location %d %q: no basestdid (the original refuses registrations there too)", l.ID, l.Name)
			continue
		}
		loc := &wod.Location{Name: name, BaseStudentID: int(l.BaseStdID.Int64), Students: max(students[l.Name], 1),
			HubURL: hubURL(name, l.Proto.String, l.Port.String)}
		loc.Normalize() // as the store will: a wod agent serves it unless an operator says otherwise
		if err := loc.Validate(); err != nil {
			im.rep.unmapped("location %d %q: %v", l.ID, l.Name, err)
			continue
		}
		im.rep.did("create location %s: base student id %d, %d students, hub %s", name, loc.BaseStudentID, loc.Students, loc.HubURL)
		im.locations[l.Name] = loc
		if im.opt.DryRun {
			continue
		}
		if err := im.st.CreateLocation(ctx, loc); err != nil {
			return err
		}
		if err := im.record(ctx, wod.LegacyLocation, l.ID, loc.ID); err != nil {
			return err
		}
	}
	for _, s := range im.src.students {
		if _, ok := im.locations[s.Location]; !ok {
			im.rep.unmapped("student %d: its location %q is not imported", s.ID, s.Location)
		}
	}
	return nil
}

func hubURL(host, proto, port string) string {
	if proto != "http" {
		proto = "https"
	}
	if port = strings.TrimSpace(port); port != "" && port != "443" && port != "80" {
		host += ":" + port
	}
	return proto + "://" + host
}

// importWorkshops applies the original's settings (active, capacity, the
// student range, the location, the priority and the flags) to the workshop
// of the same notebook imported from content, as an operator's changes
// that a content import keeps. A notebook without content is created
// inactive from the original's metadata, so that its history has a home.
func (im *importer) importWorkshops(ctx context.Context) error {
	done, err := im.imported(ctx, wod.LegacyWorkshop)
	if err != nil {
		return err
	}
	live := im.liveCounts()
	seen := map[string]bool{}
	for _, ow := range im.src.workshops {
		if seen[ow.Notebook] {
			im.rep.unmapped("workshop %d %q: notebook %s is already another workshop of the original", ow.ID, ow.Name, ow.Notebook)
			continue
		}
		seen[ow.Notebook] = true
		existing, err := im.st.FindWorkshop(ctx, ow.Notebook)
		if err != nil && wod.ErrorCode(err) != wod.ENOTFOUND {
			return err
		}
		if _, ok := done[ow.ID]; ok && existing != nil {
			im.workshops[ow.Name] = existing
			im.rep.Skipped++
			continue
		}
		if !wod.ValidSlug(ow.Notebook) {
			im.rep.unmapped("workshop %d %q: notebook %q is not a valid folder name", ow.ID, ow.Name, ow.Notebook)
			continue
		}
		w := im.mapWorkshop(ow, live[ow.Name])
		if existing == nil && w.LocationID == 0 {
			im.rep.unmapped("workshop %d %q: no content and no location; not created", ow.ID, ow.Name)
			continue
		}
		if existing == nil {
			w.Active = false
			if err := w.Validate(); err != nil {
				im.rep.unmapped("workshop %d %q: %v", ow.ID, ow.Name, err)
				continue
			}
			im.rep.did("create workshop %s (inactive: no content has this notebook; import the content to run it)", w.Slug)
			im.workshops[ow.Name] = w
			if im.opt.DryRun {
				continue
			}
			if err := im.st.CreateWorkshop(ctx, w); err != nil {
				return err
			}
			if err := im.record(ctx, wod.LegacyWorkshop, ow.ID, w.ID); err != nil {
				return err
			}
			continue
		}
		upd := wod.WorkshopUpdate{Active: &w.Active, Capacity: &w.Capacity, Priority: &w.Priority, Reset: &w.Reset,
			LDAP: &w.LDAP, VarPass: &w.VarPass, Compile: &w.Compile, Appliance: &w.Appliance, Beta: &w.Beta,
			SessionType: &w.SessionType}
		if w.SeatMin > 0 {
			upd.SeatMin, upd.SeatMax = &w.SeatMin, &w.SeatMax
		}
		if w.LocationID != 0 {
			upd.LocationID = &w.LocationID
		}
		im.rep.did("update workshop %s from the original: active %t, capacity %d, seats %d-%d, location %s",
			w.Slug, w.Active, w.Capacity, w.SeatMin, w.SeatMax, orNone(w.Location))
		im.workshops[ow.Name] = existing
		if im.opt.DryRun {
			continue
		}
		updated, err := im.st.UpdateWorkshop(ctx, ow.Notebook, upd)
		if wod.ErrorCode(err) == wod.EINVALID {
			im.rep.unmapped("workshop %d %q: %v", ow.ID, ow.Name, err)
			continue
		}
		if err != nil {
			return err
		}
		im.workshops[ow.Name] = updated
		if err := im.record(ctx, wod.LegacyWorkshop, ow.ID, updated.ID); err != nil {
			return err
		}
	}
	return nil
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// mapWorkshop turns the original's row into wod's workshop. The
// original's capacity counts the seats left, so the seats its live
// customers hold are added back.
func (im *importer) mapWorkshop(ow oldWorkshop, live int) *wod.Workshop {
	w := &wod.Workshop{Slug: ow.Notebook, Title: cmpOr(ow.Name, ow.Notebook), Description: ow.Description,
		Categories: nonNil(ow.Category), Duration: wod.Duration(time.Duration(cmpOr64(ow.Duration.Int64, 4)) * time.Hour),
		Capacity: max(int(ow.Capacity.Int64)+live, 0), Active: ow.Active, Beta: ow.Beta, Priority: int(ow.Priority.Int64),
		Reset: ow.Reset, LDAP: ow.LDAP, VarPass: ow.VarPass, Appliance: wod.ApplianceNone, SessionType: wod.SessionWorkshop,
		Presenter: ow.Presenter, PresenterRole: ow.Role, Avatar: ow.Avatar, Image: ow.WorkshopImg, BadgeImage: ow.BadgeImg,
		ReplayID: int(ow.ReplayID.Int64), ReplayLink: ow.ReplayLink, Prerequisite: ow.PreRequisite, Compile: []string{}}
	switch {
	case ow.Mono:
		w.Appliance = wod.ApplianceMono
	case ow.Multi:
		w.Appliance = wod.ApplianceMulti
	}
	if strings.EqualFold(ow.SessionType, "Coding Challenge") {
		w.SessionType = wod.SessionChallenge
	}
	if c := strings.TrimSpace(ow.Compile); c != "" && c != "false" && c != "null" {
		for _, f := range strings.Split(c, ",") {
			if f = strings.TrimSpace(f); f != "" {
				w.Compile = append(w.Compile, f)
			}
		}
	}
	if len(ow.Range) == 2 {
		lo, ok1 := atoi(ow.Range[0])
		hi, ok2 := atoi(ow.Range[1])
		if ok1 && ok2 && lo >= 1 && hi >= lo {
			w.SeatMin, w.SeatMax = lo, hi
		}
	}
	if w.SeatMin == 0 {
		im.rep.unmapped("workshop %d %q: student range %v is not [min,max]; wod's range is kept", ow.ID, ow.Name, ow.Range)
		w.SeatMin, w.SeatMax = 1, 1
	}
	if loc, ok := im.locations[ow.Location]; ok {
		w.LocationID, w.Location = loc.ID, loc.Name
	} else {
		im.rep.unmapped("workshop %d %q: its location %q is missing; wod's location is kept", ow.ID, ow.Name, ow.Location)
	}
	return w
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func cmpOr64(a, b int64) int64 {
	if a > 0 {
		return a
	}
	return b
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// liveStates are the original's lastEmailSent values of a customer still
// running (null is one too: just registered).
var liveStates = []string{"welcome", "credentials", "expiring"}

// live reports whether a customer still runs on the original. One whose
// end passed a day ago is not: the original's defects leave such rows
// behind (a crashed expiry), and nobody is using them.
func (im *importer) live(c oldCustomer) bool {
	if c.LastEmailSent.Valid && !slices.Contains(liveStates, c.LastEmailSent.String) {
		return false
	}
	return c.EndDate.After(im.opt.Now.Add(-24 * time.Hour))
}

func (im *importer) liveCounts() map[string]int {
	n := map[string]int{}
	for _, c := range im.src.customers {
		if im.live(c) {
			n[c.SessionName]++
		}
	}
	return n
}

func nullInt(n sql.NullInt64) string {
	if !n.Valid {
		return "has none"
	}
	return strconv.FormatInt(n.Int64, 10)
}
