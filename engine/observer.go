package engine

import (
	"time"

	"github.com/wod-dev/wod"
)

// Observer hears what the engine and the outbox do, for monitoring and
// benchmarks. Its methods run on the hot paths: they must be quick and safe
// for concurrent use.
type Observer interface {
	// Registered: a registration request was booked (err nil) or refused.
	Registered(err error)
	// TimerFired: a timer ran, late after its due time.
	TimerFired(kind wod.JobKind, late time.Duration)
	// JobReported: an agent reported the outcome of a job, which took
	// the time it says.
	JobReported(kind wod.JobKind, ok bool, took time.Duration)
	// MailFinished: a delivery attempt ended in the state (sent, kept,
	// failed, or queued again for a retry).
	MailFinished(kind wod.MailKind, state wod.MailState)
}

// NopObserver hears nothing; embed it to observe only some events.
type NopObserver struct{}

func (NopObserver) Registered(error)                             {}
func (NopObserver) TimerFired(wod.JobKind, time.Duration)        {}
func (NopObserver) JobReported(wod.JobKind, bool, time.Duration) {}
func (NopObserver) MailFinished(wod.MailKind, wod.MailState)     {}

func observer(o Observer) Observer {
	if o == nil {
		return NopObserver{}
	}
	return o
}
