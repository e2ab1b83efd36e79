package operator

import (
	"context"
	"fmt"

	"github.com/wod-dev/wod"
)

// RetryJob queues a job that failed for good again, due now, with its
// attempts reset: once its cause is fixed (the hub is back, the disk has
// room). Only a failed job can be retried (ECONFLICT otherwise).
func (s *Service) RetryJob(ctx context.Context, by *wod.Caller, id int64) (*wod.Job, error) {
	j, err := s.Jobs.RetryJob(ctx, id)
	if err != nil {
		return nil, err
	}
	s.audit(ctx, by, "job.retried", jobSubject(id), string(j.Kind))
	return j, nil
}

// DismissJob marks a job that failed for good as dealt with: the dashboard
// no longer lists it, and it keeps its state and error. Only a failed job
// can be dismissed (ECONFLICT otherwise). It returns how many jobs were
// dismissed now: 0 when it already was.
func (s *Service) DismissJob(ctx context.Context, by *wod.Caller, id int64) (int, error) {
	if id <= 0 {
		return 0, wod.Errorf(wod.ENOTFOUND, "no job %d", id)
	}
	n, err := s.Jobs.DismissJobs(ctx, id)
	if err != nil {
		return 0, err
	}
	if n > 0 {
		s.audit(ctx, by, "job.dismissed", jobSubject(id), "")
	}
	return n, nil
}

// DismissFailedJobs dismisses every job that failed for good and is not
// dismissed yet, and returns how many.
func (s *Service) DismissFailedJobs(ctx context.Context, by *wod.Caller) (int, error) {
	n, err := s.Jobs.DismissJobs(ctx, 0)
	if err != nil {
		return 0, err
	}
	if n > 0 {
		s.audit(ctx, by, "job.dismissed", "jobs", fmt.Sprintf("%d failed jobs", n))
	}
	return n, nil
}

func jobSubject(id int64) string { return fmt.Sprintf("job:%d", id) }
