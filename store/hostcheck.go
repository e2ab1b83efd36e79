package store

import (
	"context"
	"fmt"

	"github.com/wod-dev/wod"
)

// RecordHostChecks replaces the scope's verdicts with a run's results (a
// check the run no longer made goes) and returns the checks that failed
// now and did not at the run before: each is recorded as a
// wod.EventCheckFailed audit event (which queues its webhooks), and alert,
// when it returns a mail for them, queues it — all in the transaction
// that records the verdicts, so a failure is announced once, however many
// replicas or restarts run the checks. alert must not use the store.
func (db *DB) RecordHostChecks(ctx context.Context, scope, actor string, results []wod.CheckResult,
	alert func(newFailures []*wod.HostCheck) (*wod.Mail, error)) (newFailures []*wod.HostCheck, err error) {
	err = db.transact(ctx, func(tx *Tx) error {
		newFailures = nil
		if tx.db.dialect == Postgres {
			// Two replicas recording the first run of a scope would both
			// find no row: one at a time (a daily write, on a small table).
			if _, err := tx.exec(`LOCK TABLE host_checks IN SHARE ROW EXCLUSIVE MODE`); err != nil {
				return err
			}
		}
		before, err := queryAll(tx, scanHostCheck, `SELECT `+hostCheckColumns+` FROM host_checks WHERE scope = $1 ORDER BY position`, scope)
		if err != nil {
			return err
		}
		prev := make(map[string]*wod.HostCheck, len(before))
		for _, c := range before {
			prev[c.Name] = c
		}
		if _, err := tx.exec(`DELETE FROM host_checks WHERE scope = $1`, scope); err != nil {
			return err
		}
		seen := map[string]bool{}
		for i, r := range results {
			if seen[r.Name] {
				continue // one verdict per name: the first, as the report lists it
			}
			seen[r.Name] = true
			c := &wod.HostCheck{Scope: scope, CheckResult: r, Since: tx.now, CheckedAt: tx.now}
			if p := prev[r.Name]; p != nil && p.Status == r.Status {
				c.Since = p.Since
			}
			if _, err := tx.exec(`INSERT INTO host_checks (scope, name, position, status, detail, since, checked_at)
				VALUES ($1, $2, $3, $4, $5, $6, $7)`, scope, r.Name, i, r.Status, r.Detail, c.Since.UTC(),
				c.CheckedAt.UTC()); err != nil {
				return err
			}
			if r.Status == wod.CheckFail && (prev[r.Name] == nil || prev[r.Name].Status != wod.CheckFail) {
				newFailures = append(newFailures, c)
			}
		}
		for _, c := range newFailures {
			if err := recordEvent(tx, &wod.Event{Actor: actor, Kind: wod.EventCheckFailed, Subject: scope,
				Detail: c.Name + ": " + c.Detail}); err != nil {
				return err
			}
		}
		if len(newFailures) == 0 || alert == nil {
			return nil
		}
		m, err := alert(newFailures)
		if err != nil || m == nil {
			return err
		}
		return insertMail(tx, m)
	})
	if err != nil {
		return nil, fmt.Errorf("store: recording the checks of %s: %w", scope, err)
	}
	return newFailures, nil
}

// FindHostChecks implements wod.HostCheckService.
func (db *DB) FindHostChecks(ctx context.Context) (cs []*wod.HostCheck, err error) {
	err = db.read(ctx, func(tx *Tx) error {
		cs, err = queryAll(tx, scanHostCheck, `SELECT `+hostCheckColumns+` FROM host_checks ORDER BY scope, position`)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("store: finding the host checks: %w", err)
	}
	return cs, nil
}

const hostCheckColumns = `scope, name, status, detail, since, checked_at`

func scanHostCheck(row scanner) (*wod.HostCheck, error) {
	var c wod.HostCheck
	if err := row.Scan(&c.Scope, &c.Name, &c.Status, &c.Detail, &c.Since, &c.CheckedAt); err != nil {
		return nil, err
	}
	c.Since, c.CheckedAt = c.Since.UTC(), c.CheckedAt.UTC()
	return &c, nil
}
