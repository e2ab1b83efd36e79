package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/wod-dev/wod"
)

const workshopColumns = `w.id, w.slug, w.title, w.description, w.categories, w.duration_seconds, w.capacity,
	w.seat_min, w.seat_max, w.location_id, l.name, w.active, w.beta, w.priority, w.reset, w.ldap, w.varpass,
	w.compile, w.appliance, w.session_type, w.presenter, w.presenter_role, w.avatar, w.image, w.badge_image,
	w.replay_id, w.replay_link, w.prerequisite, w.content_dir, w.overrides, w.created_at, w.updated_at,
	w.memory_bytes, w.cpus, w.tasks, w.disk_bytes, w.warm, w.content_version, w.extend_seconds,
	w.opens_at, w.closes_at,
	` + workshopLocationsSQL + `,
	(SELECT COUNT(*) FROM registrations r WHERE r.workshop_id = w.id AND r.rehearsal_id IS NULL AND r.state IN ` + holdingSQL + `),
	` + freeSeatsSQL

// workshopSettingsColumns are workshopColumns without the seat counts
// (they read 0): a workshop as each step of a registration reads it, which
// counting its seats and participants every time would only slow down.
var workshopSettingsColumns = workshopColumns[:strings.Index(workshopColumns, workshopLocationsSQL)+len(workshopLocationsSQL)] + `, 0, 0`

const workshopFrom = `workshops w JOIN locations l ON l.id = w.location_id`

func scanWorkshop(row scanner) (*wod.Workshop, error) {
	var w wod.Workshop
	var categories, compile, overrides stringList
	var seconds, extend int64
	var held, free int
	var warm string
	var opens, closes sql.NullTime
	var locations sql.NullString
	err := row.Scan(&w.ID, &w.Slug, &w.Title, &w.Description, &categories, &seconds, &w.Capacity,
		&w.SeatMin, &w.SeatMax, &w.LocationID, &w.Location, &w.Active, &w.Beta, &w.Priority, &w.Reset, &w.LDAP,
		&w.VarPass, &compile, &w.Appliance, &w.SessionType, &w.Presenter, &w.PresenterRole, &w.Avatar, &w.Image,
		&w.BadgeImage, &w.ReplayID, &w.ReplayLink, &w.Prerequisite, &w.ContentDir, &overrides, &w.CreatedAt,
		&w.UpdatedAt, &w.Limits.Memory, &w.Limits.CPUs, &w.Limits.Tasks, &w.Limits.Disk, &warm, &w.ContentVersion, &extend,
		&opens, &closes, &locations, &held, &free)
	if err != nil {
		return nil, err
	}
	if err := parseWorkshopLocations(&w, locations.String); err != nil {
		return nil, err
	}
	if w.Warm, err = wod.ParseWarmPool(warm); err != nil {
		return nil, fmt.Errorf("workshop %s: %w", w.Slug, err)
	}
	w.Categories, w.Compile, w.Overrides = categories, compile, overrides
	w.Duration = wod.Duration(time.Duration(seconds) * time.Second)
	w.Extend = wod.Duration(time.Duration(extend) * time.Second)
	w.Opens, w.Closes = dateOf(opens), dateOf(closes)
	w.CreatedAt, w.UpdatedAt = w.CreatedAt.UTC(), w.UpdatedAt.UTC()
	w.SeatsFree = max(0, min(w.Capacity-held, free))
	return &w, nil
}

// FindWorkshops lists workshops by priority, then slug.
func (db *DB) FindWorkshops(ctx context.Context, f wod.WorkshopFilter) (ws []*wod.Workshop, n int, err error) {
	err = db.read(ctx, func(tx *Tx) error {
		ws, n, err = findWorkshops(tx, f)
		if err != nil {
			return err
		}
		return markPopular(tx, ws)
	})
	if err != nil {
		return nil, 0, fmt.Errorf("find workshops: %w", err)
	}
	return ws, n, nil
}

func findWorkshops(tx *Tx, f wod.WorkshopFilter) ([]*wod.Workshop, int, error) {
	var w where
	if f.Slug != nil {
		w.add("w.slug = ?", *f.Slug)
	}
	if f.Active != nil {
		w.add("w.active = ?", *f.Active)
	}
	if f.LocationID != nil {
		w.add("EXISTS (SELECT 1 FROM workshop_locations wl WHERE wl.workshop_id = w.id AND wl.location_id = ?)", *f.LocationID)
	}
	if f.OfferedAt != nil {
		w.add("(w.closes_at IS NULL OR w.closes_at > ?)", f.OfferedAt.UTC())
	}
	if f.Category != nil {
		// categories is a JSON array of strings; match one element exactly,
		// ignoring case (the original's filter was case-sensitive: a defect).
		w.add("LOWER(w.categories) LIKE ?", "%"+jsonText(strings.ToLower(*f.Category))+"%")
	}
	total, err := count(tx, workshopFrom, &w)
	if err != nil {
		return nil, 0, err
	}
	ws, err := queryAll(tx, scanWorkshop, `SELECT `+workshopColumns+` FROM `+workshopFrom+w.String()+
		` ORDER BY w.priority, w.slug`+w.page(f.Page), w.args...)
	if err != nil {
		return nil, 0, err
	}
	return ws, total, nil
}

// PopularCount is how many workshops carry the "popular" mark: those with
// the most distinct participants, as in the original.
const PopularCount = 10

func markPopular(tx *Tx, ws []*wod.Workshop) error {
	if len(ws) == 0 {
		return nil
	}
	ids, err := queryAll(tx, scanOne[int64], `SELECT workshop_id FROM registrations WHERE rehearsal_id IS NULL GROUP BY workshop_id
		ORDER BY COUNT(DISTINCT email) DESC, workshop_id LIMIT $1`, PopularCount)
	if err != nil {
		return err
	}
	popular := map[int64]bool{}
	for _, id := range ids {
		popular[id] = true
	}
	for _, w := range ws {
		w.Popular = popular[w.ID]
	}
	return nil
}

// FindWorkshop returns the workshop with the slug. Popularity is a
// property of the catalogue and is only marked by FindWorkshops.
func (db *DB) FindWorkshop(ctx context.Context, slug string) (w *wod.Workshop, err error) {
	// One statement, its locations included: every booking, claim and
	// report reads a workshop, so this is one round trip, not a transaction.
	err = db.readStatement(ctx, func(tx *Tx) error {
		w, err = findWorkshop(tx, slug)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("find workshop %q: %w", slug, err)
	}
	return w, nil
}

// FindWorkshopSettings returns the workshop with the slug as FindWorkshop
// does, but without counting its seats (SeatsFree is 0): the engine reads
// the workshop at every step of every registration, and never its free
// seats, which the booking counts under the workshop's lock.
func (db *DB) FindWorkshopSettings(ctx context.Context, slug string) (w *wod.Workshop, err error) {
	err = db.readStatement(ctx, func(tx *Tx) error {
		w, err = scanWorkshop(tx.queryRow(`SELECT `+workshopSettingsColumns+` FROM `+workshopFrom+` WHERE w.slug = $1`, slug))
		if errors.Is(err, sql.ErrNoRows) {
			return wod.Errorf(wod.ENOTFOUND, "workshop %s not found", slug)
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("find workshop %q: %w", slug, err)
	}
	return w, nil
}

func findWorkshop(tx *Tx, slug string) (*wod.Workshop, error) {
	w, err := scanWorkshop(tx.queryRow(`SELECT `+workshopColumns+` FROM `+workshopFrom+` WHERE w.slug = $1`, slug))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, wod.Errorf(wod.ENOTFOUND, "workshop %s not found", slug)
	}
	return w, err
}

// CreateWorkshop adds a workshop.
func (db *DB) CreateWorkshop(ctx context.Context, w *wod.Workshop) error {
	err := db.transact(ctx, func(tx *Tx) error { return createWorkshop(tx, w) })
	if err != nil {
		return fmt.Errorf("create workshop %q: %w", w.Slug, err)
	}
	return nil
}

func createWorkshop(tx *Tx, w *wod.Workshop) error {
	if err := checkWorkshop(tx, w); err != nil {
		return err
	}
	w.CreatedAt, w.UpdatedAt = tx.now, tx.now
	err := tx.queryRow(`INSERT INTO workshops (slug, title, description, categories, duration_seconds, capacity,
		seat_min, seat_max, location_id, active, beta, priority, reset, ldap, varpass, compile, appliance,
		session_type, presenter, presenter_role, avatar, image, badge_image, replay_id, replay_link,
		prerequisite, content_dir, overrides, created_at, updated_at, memory_bytes, cpus, tasks, disk_bytes,
		warm, content_version, extend_seconds, opens_at, closes_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20,
		$21, $22, $23, $24, $25, $26, $27, $28, $29, $29, $30, $31, $32, $33, $34, $35, $36, $37, $38) RETURNING id`,
		w.Slug, w.Title, w.Description, jsonText(nonNil(w.Categories)), int64(w.Duration.Std()/time.Second),
		w.Capacity, w.SeatMin, w.SeatMax, w.LocationID, w.Active, w.Beta, w.Priority, w.Reset, w.LDAP, w.VarPass,
		jsonText(nonNil(w.Compile)), w.Appliance, w.SessionType, w.Presenter, w.PresenterRole, w.Avatar,
		w.Image, w.BadgeImage, w.ReplayID, w.ReplayLink, w.Prerequisite, w.ContentDir,
		jsonText(nonNil(w.Overrides)), tx.now,
		w.Limits.Memory, w.Limits.CPUs, w.Limits.Tasks, w.Limits.Disk, w.Warm.String(), w.ContentVersion,
		int64(w.Extend.Std()/time.Second), nullDate(w.Opens), nullDate(w.Closes)).Scan(&w.ID)
	if isUniqueViolation(err, "workshops_slug_key") {
		return wod.Errorf(wod.ECONFLICT, "workshop %s already exists", w.Slug)
	}
	if err != nil {
		return err
	}
	return saveWorkshopLocations(tx, w)
}

// checkWorkshop validates w and that its seat range fits each of its
// locations (the same range is used at every one).
func checkWorkshop(tx *Tx, w *wod.Workshop) error {
	w.NormalizeLocations(wod.WorkshopUpdate{})
	if err := w.Validate(); err != nil {
		return err
	}
	names := make([]string, 0, len(w.LocationIDs))
	for i, id := range w.LocationIDs {
		var name string
		var students int
		err := tx.queryRow(`SELECT name, students FROM locations WHERE id = $1`, id).Scan(&name, &students)
		if errors.Is(err, sql.ErrNoRows) {
			return &wod.Error{Code: wod.EINVALID, Message: "the workshop is not valid",
				Fields: []wod.FieldError{{Field: "location", Message: fmt.Sprintf("location %d does not exist", id)}}}
		}
		if err != nil {
			return err
		}
		field, r := "seat_max", w.SeatsAt(id)
		if !w.LocationRanges[i].IsZero() {
			field = "locations"
		}
		if r.Max > students {
			return &wod.Error{Code: wod.EINVALID, Message: "the workshop is not valid",
				Fields: []wod.FieldError{{Field: field, Message: fmt.Sprintf(
					"seat range %d..%d goes beyond location %s, which has students 1..%d (raise the location's students)",
					r.Min, r.Max, name, students)}}}
		}
		names = append(names, wod.LocationSpec(name, w.LocationRanges[i]))
	}
	w.Locations = names
	w.Location, _, _ = strings.Cut(names[0], ":")
	return nil
}

// UpdateWorkshop applies an operator's change and records the fields it
// sets in the workshop's overrides, so that a re-import keeps them.
func (db *DB) UpdateWorkshop(ctx context.Context, slug string, upd wod.WorkshopUpdate) (w *wod.Workshop, err error) {
	err = db.transact(ctx, func(tx *Tx) error {
		w, err = findWorkshop(tx, slug)
		if err != nil {
			return err
		}
		w.Apply(upd)
		w.NormalizeLocations(upd)
		if upd.ClearOverrides {
			w.Overrides = nil
		}
		for _, f := range upd.UpdatedFields() {
			if !slices.Contains(w.Overrides, f) {
				w.Overrides = append(w.Overrides, f)
			}
		}
		slices.Sort(w.Overrides)
		if err := updateWorkshop(tx, w); err != nil {
			return err
		}
		w, err = findWorkshop(tx, slug)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("update workshop %q: %w", slug, err)
	}
	return w, nil
}

func updateWorkshop(tx *Tx, w *wod.Workshop) error {
	if err := checkWorkshop(tx, w); err != nil {
		return err
	}
	w.UpdatedAt = tx.now
	_, err := tx.exec(`UPDATE workshops SET title = $1, description = $2, categories = $3, duration_seconds = $4,
		capacity = $5, seat_min = $6, seat_max = $7, location_id = $8, active = $9, beta = $10, priority = $11,
		reset = $12, ldap = $13, varpass = $14, compile = $15, appliance = $16, session_type = $17,
		presenter = $18, presenter_role = $19, avatar = $20, image = $21, badge_image = $22, replay_id = $23,
		replay_link = $24, prerequisite = $25, content_dir = $26, overrides = $27, updated_at = $28,
		memory_bytes = $30, cpus = $31, tasks = $32, disk_bytes = $33, warm = $34, content_version = $35,
		extend_seconds = $36, opens_at = $37, closes_at = $38 WHERE id = $29`,
		w.Title, w.Description, jsonText(nonNil(w.Categories)), int64(w.Duration.Std()/time.Second), w.Capacity,
		w.SeatMin, w.SeatMax, w.LocationID, w.Active, w.Beta, w.Priority, w.Reset, w.LDAP, w.VarPass,
		jsonText(nonNil(w.Compile)), w.Appliance, w.SessionType, w.Presenter, w.PresenterRole, w.Avatar, w.Image,
		w.BadgeImage, w.ReplayID, w.ReplayLink, w.Prerequisite, w.ContentDir, jsonText(nonNil(w.Overrides)),
		tx.now, w.ID, w.Limits.Memory, w.Limits.CPUs, w.Limits.Tasks, w.Limits.Disk, w.Warm.String(), w.ContentVersion,
		int64(w.Extend.Std()/time.Second), nullDate(w.Opens), nullDate(w.Closes))
	if err != nil {
		return err
	}
	if err := saveWorkshopLocations(tx, w); err != nil {
		return err
	}
	return workshopChanged(tx, w)
}

// DeleteWorkshop removes a workshop that has no registration at all;
// history is kept, so a workshop that was ever booked is deactivated instead.
func (db *DB) DeleteWorkshop(ctx context.Context, slug string) error {
	err := db.transact(ctx, func(tx *Tx) error {
		w, err := findWorkshop(tx, slug)
		if err != nil {
			return err
		}
		var n int
		if err := tx.queryRow(`SELECT COUNT(*) FROM registrations WHERE workshop_id = $1`, w.ID).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return wod.Errorf(wod.ECONFLICT,
				"workshop %s has %d registrations; deactivate it instead (its history is kept)", slug, n)
		}
		_, err = tx.exec(`DELETE FROM workshops WHERE id = $1`, w.ID)
		return err
	})
	if err != nil {
		return fmt.Errorf("delete workshop %q: %w", slug, err)
	}
	return nil
}

// ImportWorkshops creates or updates workshops from content in one
// transaction: either all of them land or none does.
func (db *DB) ImportWorkshops(ctx context.Context, ws []*wod.Workshop) (results []wod.ImportResult, err error) {
	return db.importWorkshops(ctx, ws, nil)
}

// ImportWorkshopsFrom implements wod.WorkshopService.
func (db *DB) ImportWorkshopsFrom(ctx context.Context, ws []*wod.Workshop, repos []*wod.ContentRepo) ([]wod.ImportResult, error) {
	if repos == nil {
		repos = []*wod.ContentRepo{} // none: the record is emptied, not left alone
	}
	return db.importWorkshops(ctx, ws, repos)
}

// importWorkshops imports ws and, unless repos is nil, records the content
// repositories' state in the same transaction.
func (db *DB) importWorkshops(ctx context.Context, ws []*wod.Workshop, repos []*wod.ContentRepo) (results []wod.ImportResult, err error) {
	err = db.transact(ctx, func(tx *Tx) error {
		results = results[:0]
		for _, in := range ws {
			r, err := importWorkshop(tx, in)
			if err != nil {
				return fmt.Errorf("%s: %w", in.Slug, err)
			}
			results = append(results, r)
		}
		if repos != nil {
			return saveContentRepos(tx, repos)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("import workshops: %w", err)
	}
	return results, nil
}

func importWorkshop(tx *Tx, in *wod.Workshop) (wod.ImportResult, error) {
	res := wod.ImportResult{Slug: in.Slug}
	cur, err := findWorkshop(tx, in.Slug)
	if wod.ErrorCode(err) == wod.ENOTFOUND {
		w := *in
		w.Overrides = nil
		res.Action = "created"
		return res, createWorkshop(tx, &w)
	}
	if err != nil {
		return res, err
	}
	res.Changed, res.Kept = cur.Merge(in)
	newVersion := in.ContentVersion != "" && cur.ContentVersion != in.ContentVersion
	if newVersion {
		// The notebooks changed even if wod.yml did not: warm seats made
		// from the old ones are rebuilt (the pool keeper compares versions).
		if cur.ContentVersion != "" {
			res.Changed = append(res.Changed, "content")
		}
		cur.ContentVersion = in.ContentVersion
	}
	if len(res.Changed) == 0 && cur.ContentDir == in.ContentDir && !newVersion {
		res.Action = "unchanged"
		return res, nil
	}
	res.Action = "updated"
	cur.ContentDir = in.ContentDir
	return res, updateWorkshop(tx, cur)
}

// dateOf reads a workshop date; NULL is none (the zero time).
func dateOf(t sql.NullTime) time.Time {
	if !t.Valid {
		return time.Time{}
	}
	return wod.NormalizeDate(t.Time)
}

// nullDate writes a workshop date; none is NULL.
func nullDate(t time.Time) sql.NullTime {
	if t.IsZero() {
		return sql.NullTime{}
	}
	return sql.NullTime{Time: wod.NormalizeDate(t), Valid: true}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
