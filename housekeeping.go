package wod

import (
	"context"
	"time"
)

// Pruned counts what housekeeping removed from the history.
type Pruned struct {
	// MailBodies are the texts of sent, kept or failed mails emptied (the
	// outbox row stays, for the audit and so that no mail goes twice).
	MailBodies int `json:"mail_bodies"`
	// Jobs are finished jobs deleted.
	Jobs int `json:"jobs"`
	// Events are audit events deleted.
	Events int `json:"events"`
	// WebhookDeliveries are finished deliveries (delivered or failed)
	// deleted.
	WebhookDeliveries int `json:"webhook_deliveries"`
	// LoginFailures are stale login-throttle records deleted.
	LoginFailures int `json:"login_failures"`
	// Notebooks are participants' notebooks past their retention, deleted.
	Notebooks int `json:"notebooks"`
}

// Total is how many rows were touched.
func (p Pruned) Total() int {
	return p.MailBodies + p.Jobs + p.Events + p.LoginFailures + p.Notebooks + p.WebhookDeliveries
}

// HousekeepingService prunes history older than a time: mail bodies,
// finished jobs, audit events. Registrations are kept (statistics, badges).
type HousekeepingService interface {
	Prune(ctx context.Context, before time.Time) (Pruned, error)
	// PruneNotebooks deletes the participants' notebooks kept since before.
	PruneNotebooks(ctx context.Context, before time.Time) (int, error)
}
