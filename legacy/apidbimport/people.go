package apidbimport

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/wod-dev/wod"
)

// importCustomers brings the original's finished customers over as past
// registrations, with the badge each one earned, so that statistics and
// badge counts continue. Live ones stay on the original (Report.Live).
func (im *importer) importCustomers(ctx context.Context) error {
	done, err := im.imported(ctx, wod.LegacyCustomer)
	if err != nil {
		return err
	}
	levels := im.badgeLevels()
	created := 0
	for _, c := range im.src.customers {
		if _, ok := done[c.ID]; ok {
			im.rep.Skipped++
			continue
		}
		if im.live(c) {
			if !im.opt.Live {
				im.rep.Live++
				continue
			}
			if err := im.takeOver(ctx, c); err != nil {
				return err
			}
			continue
		}
		w, ok := im.workshops[c.SessionName]
		if !ok {
			im.rep.unmapped("customer %d: its workshop %q (sessionName) is not imported", c.ID, c.SessionName)
			continue
		}
		p := &wod.PastRegistration{LegacyID: c.ID, WorkshopID: w.ID, Name: strings.TrimSpace(c.Name),
			Email: strings.ToLower(strings.TrimSpace(c.Email)), Company: c.Company, State: wod.StateDone,
			CreatedAt: c.CreatedAt, EndsAt: c.EndDate}
		if p.Name == "" {
			p.Name = "(no name)"
		}
		if c.LastEmailSent.String == "error" {
			p.State = wod.StateFailed
		}
		if c.Completion.Valid {
			pct := min(max(int(c.Completion.Int64), 0), 100)
			p.Completion = &pct
		}
		// The student tells the location; a customer without a valid one
		// (the original's NaN or null studentId) keeps its own location
		// column, then its workshop's.
		locName := c.Location
		if st, ok := im.src.students[c.StudentID.Int64]; ok && c.StudentID.Valid && c.StudentID.Int64 > 0 {
			locName = st.Location
			if loc, ok := im.locations[st.Location]; ok {
				p.Student = int(st.ID) - loc.BaseStudentID
			}
		} else {
			im.rep.unmapped("customer %d: no valid student id (%s); imported without a student number", c.ID, studentID(c))
		}
		if loc, ok := im.locations[locName]; ok {
			p.LocationID = loc.ID
		} else if w.LocationID != 0 {
			p.LocationID = w.LocationID
		} else {
			im.rep.unmapped("customer %d: neither it nor its workshop has an imported location", c.ID)
			continue
		}
		if c.SpecialBadgeID.Valid && c.SpecialBadgeID.Int64 > 0 {
			if lvl, ok := levels[c.SpecialBadgeID.Int64]; ok {
				p.BadgeLevel = lvl
			} else {
				im.rep.unmapped("customer %d: special badge %d is not one of wod's badges", c.ID, c.SpecialBadgeID.Int64)
			}
		}
		created++
		if im.opt.DryRun {
			continue
		}
		if _, _, err := im.st.ImportPastRegistration(ctx, p); err != nil {
			return err
		}
	}
	if created > 0 {
		im.rep.did("import %d finished customers as past registrations", created)
	}
	im.leakedStudents()
	return nil
}

// leakedStudents reports the students the original keeps assigned with
// no live customer (its expiry crash and malformed PURGE leave them so):
// their seats are free in wod.
func (im *importer) leakedStudents() {
	held := map[int64]bool{}
	for _, c := range im.src.customers {
		if im.live(c) && c.StudentID.Valid {
			held[c.StudentID.Int64] = true
		}
	}
	for _, s := range im.src.students {
		if s.Assigned && !held[s.ID] {
			im.rep.unmapped("student %d: assigned on the original with no live customer (the original's leak); its seat is free in wod", s.ID)
		}
	}
}

// takeOver makes a live customer a running wod registration on its
// student's seat, once the original has given it its credentials; one
// still being set up is left to the original (counted in Live).
func (im *importer) takeOver(ctx context.Context, c oldCustomer) error {
	last := c.LastEmailSent.String
	st, hasStudent := im.src.students[c.StudentID.Int64]
	if !c.Active || (last != "credentials" && last != "expiring") || !hasStudent || !c.StudentID.Valid {
		im.rep.Live++
		im.rep.unmapped("customer %d: live but not running yet on the original (%s); let it finish there", c.ID, cmpOr(last, "just registered"))
		return nil
	}
	w, ok := im.workshops[c.SessionName]
	loc, okLoc := im.locations[st.Location]
	if !ok || !okLoc {
		im.rep.Live++
		im.rep.unmapped("customer %d: live, but its workshop %q or location %q is not imported", c.ID, c.SessionName, st.Location)
		return nil
	}
	enc, err := im.opt.Encrypt(st.Password)
	if err != nil {
		return fmt.Errorf("encrypt customer %d's student password: %w", c.ID, err)
	}
	l := &wod.LiveRegistration{LegacyID: c.ID, WorkshopID: w.ID, LocationID: loc.ID, Name: cmpOr(strings.TrimSpace(c.Name), "(no name)"),
		Email: strings.ToLower(strings.TrimSpace(c.Email)), Company: c.Company, State: wod.StateReady,
		Student: int(st.ID) - loc.BaseStudentID, PasswordEnc: enc, CreatedAt: c.CreatedAt, EndsAt: c.EndDate}
	// The original warns an hour before the end.
	if remind := c.EndDate.Add(-time.Hour); last == "credentials" && remind.After(im.opt.Now) {
		l.RemindAt = &remind
	} else {
		l.State = wod.StateExpiring
	}
	im.rep.did("take over live customer %d (%s) on %s student %d until %s", c.ID, l.Email, loc.Name, l.Student,
		l.EndsAt.UTC().Format(time.RFC3339))
	if im.opt.DryRun {
		return nil
	}
	_, _, err = im.st.ImportLiveRegistration(ctx, l)
	if wod.ErrorCode(err) == wod.ECONFLICT {
		im.rep.Live++
		im.rep.unmapped("customer %d: %v", c.ID, err)
		return nil
	}
	return err
}

func studentID(c oldCustomer) string {
	if !c.StudentID.Valid {
		return "null"
	}
	return "id " + itoa(c.StudentID.Int64) + " is no student"
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// badgeLevels maps the original's special_badges ids to wod's badge
// levels by name (the original seeds the same five).
func (im *importer) badgeLevels() map[int64]int {
	m := map[int64]int{}
	for id, name := range im.src.badges {
		found := false
		for _, b := range wod.Badges {
			if strings.EqualFold(strings.TrimSpace(name), b.Name) {
				m[id], found = b.Level, true
			}
		}
		if !found {
			im.rep.unmapped("special badge %d %q: wod has no badge of that name", id, name)
		}
	}
	return m
}

// importUsers brings the original's admins and moderators over as wod
// operators with their bcrypt hashes, which wod accepts at login and
// replaces by argon2id then. Plain users have no wod counterpart.
func (im *importer) importUsers(ctx context.Context) error {
	done, err := im.imported(ctx, wod.LegacyUser)
	if err != nil {
		return err
	}
	for _, ou := range im.src.users {
		if _, ok := done[ou.ID]; ok {
			im.rep.Skipped++
			continue
		}
		u := &wod.User{Username: ou.Username, Email: strings.ToLower(strings.TrimSpace(ou.Email)), PasswordHash: ou.Password}
		switch {
		case contains(ou.Roles, "admin"):
			u.Role = wod.RoleAdmin
		case contains(ou.Roles, "moderator"):
			u.Role = wod.RoleModerator
		default:
			im.rep.unmapped("user %d %q: neither admin nor moderator (roles %v); wod has no such operator", ou.ID, ou.Username, ou.Roles)
			continue
		}
		if !strings.HasPrefix(ou.Password, "$2") {
			im.rep.unmapped("user %d %q: no bcrypt password; create the operator with wod user create", ou.ID, ou.Username)
			continue
		}
		if u.Email != "" && !wod.ValidEmail(u.Email) {
			u.Email = ""
		}
		if err := u.Validate(); err != nil {
			im.rep.unmapped("user %d %q: %v", ou.ID, ou.Username, err)
			continue
		}
		if existing, err := im.st.FindUserByName(ctx, u.Username); err == nil && existing.PasswordHash == ou.Password {
			// Created by a run that stopped before recording it.
			im.rep.did("adopt operator %s (already in wod with the original's password)", u.Username)
			if err := im.record(ctx, wod.LegacyUser, ou.ID, existing.ID); err != nil {
				return err
			}
			continue
		} else if err == nil {
			im.rep.unmapped("user %d %q: wod already has an operator of that name; left as it is", ou.ID, ou.Username)
			continue
		} else if wod.ErrorCode(err) != wod.ENOTFOUND {
			return err
		}
		im.rep.did("create operator %s (%s) with the original's password", u.Username, u.Role)
		if im.opt.DryRun {
			continue
		}
		if err := im.st.CreateUser(ctx, u); err != nil {
			return err
		}
		if err := im.record(ctx, wod.LegacyUser, ou.ID, u.ID); err != nil {
			return err
		}
	}
	return nil
}

func contains(roles []string, r string) bool {
	for _, x := range roles {
		if strings.EqualFold(x, r) {
			return true
		}
	}
	return false
}
