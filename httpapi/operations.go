package httpapi

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/wod-dev/wod"
)

type listSeatsInput struct {
	Location string `query:"location"`
	State    string `query:"state" enum:"free,assigned,dirty,warming,warm,"`
	Paging
}

type listJobsInput struct {
	State        string `query:"state" enum:"queued,running,done,failed,cancelled,"`
	Kind         string `query:"kind" enum:"create,cleanup,reset,purge,warm,remind,expire,watchdog,grade,wait-notice,wait-expire,"`
	Registration int64  `query:"registration"`
	Paging
}

// JobParam is a job id in the path.
type JobParam struct {
	ID int64 `path:"id"`
}

type listMailsInput struct {
	Registration int64  `query:"registration"`
	State        string `query:"state" enum:"queued,sent,failed,kept,"`
	Kind         string `query:"kind" enum:"welcome,waiting,wait-expired,credentials,reminder,extended,goodbye,apology,alert,badge,"`
	Paging
}

type listEventsInput struct {
	Kind    string `query:"kind"`
	Subject string `query:"subject"`
	Paging
}

func (s *Server) registerOperations() {
	tags := []string{"Operations"}
	register(s, huma.Operation{OperationID: "list-seats", Method: http.MethodGet, Path: APIPrefix + "/seats",
		Summary: "List seats", Tags: tags,
		Description: "Student accounts by location and number, with their state and holder."},
		wod.RoleModerator, s.listSeats)
	register(s, huma.Operation{OperationID: "list-jobs", Method: http.MethodGet, Path: APIPrefix + "/jobs",
		Summary: "List jobs", Tags: tags,
		Description: "Agent operations and timers, the latest due first, with attempts, errors and results."},
		wod.RoleModerator, s.listJobs)
	register(s, huma.Operation{OperationID: "dismiss-job", Method: http.MethodPost, Path: APIPrefix + "/jobs/{id}/dismiss",
		Summary: "Dismiss a failed job", Tags: tags,
		Description: "Marks a job that failed for good as dealt with: the dashboard no longer lists it; the job keeps " +
			"its state and error. Only failed jobs can be dismissed (409 otherwise)."},
		wod.RoleModerator, s.dismissJob)
	register(s, huma.Operation{OperationID: "retry-job", Method: http.MethodPost, Path: APIPrefix + "/jobs/{id}/retry",
		Summary: "Retry a failed job", Tags: tags,
		Description: "Queues a job that failed for good again, due now, with its attempts reset: once its cause is " +
			"fixed (the hub is back, the disk has room). A job whose purpose has passed meanwhile does nothing. " +
			"Only failed jobs can be retried (409 otherwise)."},
		wod.RoleModerator, s.retryJob)
	register(s, huma.Operation{OperationID: "dismiss-failed-jobs", Method: http.MethodPost, Path: APIPrefix + "/jobs/dismiss",
		Summary: "Dismiss every failed job", Tags: tags,
		Description: "Marks every job that failed for good, and is not dismissed yet, as dealt with."},
		wod.RoleModerator, s.dismissFailedJobs)
	register(s, huma.Operation{OperationID: "list-mails", Method: http.MethodGet, Path: APIPrefix + "/mails",
		Summary: "List the mail outbox", Tags: tags,
		Description: "Every mail the platform sends or keeps: kind, recipient, subject, state and text body, newest first."},
		wod.RoleModerator, s.listMails)
	register(s, huma.Operation{OperationID: "list-events", Method: http.MethodGet, Path: APIPrefix + "/events",
		Summary: "List audit events", Tags: tags,
		Description: "Who did what, newest first: operator changes, logins and failed logins, agent reports."},
		wod.RoleModerator, s.listEvents)
}

func (s *Server) listSeats(ctx context.Context, in *listSeatsInput) (*list[*wod.Seat], error) {
	f := wod.SeatFilter{Page: in.page()}
	if in.Location != "" {
		l, err := s.Locations.FindLocation(ctx, in.Location)
		if err != nil {
			return nil, err
		}
		f.LocationID = &l.ID
	}
	if in.State != "" {
		st := wod.SeatState(in.State)
		f.State = &st
	}
	seats, n, err := s.Seats.FindSeats(ctx, f)
	if err != nil {
		return nil, err
	}
	return newList(seats, n), nil
}

func (s *Server) listJobs(ctx context.Context, in *listJobsInput) (*list[*wod.Job], error) {
	f := wod.JobFilter{Page: in.page()}
	if in.State != "" {
		st := wod.JobState(in.State)
		f.State = &st
	}
	if in.Kind != "" {
		k := wod.JobKind(in.Kind)
		f.Kind = &k
	}
	if in.Registration != 0 {
		f.RegistrationID = &in.Registration
	}
	js, n, err := s.Jobs.FindJobs(ctx, f)
	if err != nil {
		return nil, err
	}
	return newList(js, n), nil
}

func (s *Server) dismissJob(ctx context.Context, in *JobParam) (*dismissed, error) {
	n, err := s.Operator.DismissJob(ctx, CallerFrom(ctx), in.ID)
	if err != nil {
		return nil, err
	}
	return newDismissed(n), nil
}

func (s *Server) retryJob(ctx context.Context, in *JobParam) (*body[*wod.Job], error) {
	j, err := s.Operator.RetryJob(ctx, CallerFrom(ctx), in.ID)
	if err != nil {
		return nil, err
	}
	return &body[*wod.Job]{j}, nil
}

func (s *Server) dismissFailedJobs(ctx context.Context, _ *struct{}) (*dismissed, error) {
	n, err := s.Operator.DismissFailedJobs(ctx, CallerFrom(ctx))
	if err != nil {
		return nil, err
	}
	return newDismissed(n), nil
}

func (s *Server) listMails(ctx context.Context, in *listMailsInput) (*list[*wod.Mail], error) {
	f := wod.MailFilter{Page: in.page()}
	if in.Registration != 0 {
		f.RegistrationID = &in.Registration
	}
	if in.State != "" {
		st := wod.MailState(in.State)
		f.State = &st
	}
	if in.Kind != "" {
		k := wod.MailKind(in.Kind)
		f.Kind = &k
	}
	ms, n, err := s.Mails.FindMails(ctx, f)
	if err != nil {
		return nil, err
	}
	return newList(ms, n), nil
}

func (s *Server) listEvents(ctx context.Context, in *listEventsInput) (*list[*wod.Event], error) {
	f := wod.EventFilter{Page: in.page()}
	if in.Kind != "" {
		f.Kind = &in.Kind
	}
	if in.Subject != "" {
		f.Subject = &in.Subject
	}
	es, n, err := s.Events.FindEvents(ctx, f)
	if err != nil {
		return nil, err
	}
	return newList(es, n), nil
}

type dismissed struct {
	Body struct {
		Dismissed int `json:"dismissed" doc:"How many failed jobs were dismissed now"`
	}
}

func newDismissed(n int) *dismissed {
	d := &dismissed{}
	d.Body.Dismissed = n
	return d
}
