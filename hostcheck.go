package wod

import (
	"context"
	"time"
)

// A host check is one verdict of `wod check` (the preflight package),
// run by each role every --check-every and kept per scope: the platform
// (the server's own checks) or a location (its agent's). The store keeps
// the last verdict of each check and since when it holds, so that a
// failure is announced once, when it starts, not at every run.

// Check verdicts, as `wod check` prints them.
const (
	CheckOK   = "ok"
	CheckWarn = "warn"
	CheckFail = "FAIL"
	CheckSkip = "skip"
)

// CheckScopePlatform is the scope of the server's own checks; a
// location's checks are in the scope CheckScope(name).
const CheckScopePlatform = "platform"

// CheckScope is the scope (and the audit subject) of a location's checks.
func CheckScope(location string) string { return "location:" + location }

// CheckResult is what one check found in one run.
type CheckResult struct {
	Name   string `json:"name" maxLength:"64"`
	Status string `json:"status" enum:"ok,warn,FAIL,skip"`
	Detail string `json:"detail" maxLength:"4000"`
}

// HostCheck is the last verdict of a check in a scope. Since is when the
// check entered its status (the first run that found a failure);
// CheckedAt the last run.
type HostCheck struct {
	Scope string `json:"scope"`
	CheckResult
	Since     time.Time `json:"since"`
	CheckedAt time.Time `json:"checked_at"`
}

// HostCheckService keeps the checks' verdicts.
type HostCheckService interface {
	// FindHostChecks lists the verdicts of every scope, by scope and in
	// the order the checks ran.
	FindHostChecks(ctx context.Context) ([]*HostCheck, error)
}
