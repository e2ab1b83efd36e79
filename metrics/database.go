package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wod-dev/wod"
)

// database reads the platform's gauges from the store at each scrape: the
// numbers are the database's, shared by every server process, so they are
// never out of step with another replica's work.
type database struct {
	stats   wod.StatsService
	clock   wod.Clock
	timeout time.Duration
}

var (
	descRegistrations = prometheus.NewDesc("wod_registrations",
		"Registrations by state, history included.", []string{"state"}, nil)
	descSeats = prometheus.NewDesc("wod_seats",
		"Seats of each location by state (free, assigned, dirty, warming, warm).", []string{"location", "state"}, nil)
	descWorkshopFree = prometheus.NewDesc("wod_workshop_seats_free",
		"Registrations each workshop can take now.", []string{"workshop", "location"}, nil)
	descWorkshopTaken = prometheus.NewDesc("wod_workshop_seats_taken",
		"Seats of each workshop held by a live or ending registration.", []string{"workshop", "location"}, nil)
	descWorkshopWarm = prometheus.NewDesc("wod_workshop_seats_warm",
		"Seats of each workshop's warm pool: prepared (warm) or being prepared (warming).", []string{"workshop", "location", "state"}, nil)
	descJobs = prometheus.NewDesc("wod_jobs",
		"Jobs waiting (queued), under way (running) or given up (failed), by kind.", []string{"kind", "state"}, nil)
	descMails = prometheus.NewDesc("wod_mails",
		"The mail outbox by state.", []string{"state"}, nil)
	descJobBacklog = prometheus.NewDesc("wod_job_backlog_seconds",
		"How long the oldest due job has waited to run (0 when none waits).", nil, nil)
	descMailBacklog = prometheus.NewDesc("wod_mail_backlog_seconds",
		"How long the oldest due mail has waited to be sent (0 when none waits).", nil, nil)
	descHeartbeat = prometheus.NewDesc("wod_agent_heartbeat_age_seconds",
		"Time since each location's agent last sent a heartbeat (absent before the first).", []string{"location"}, nil)
	databaseDescs = []*prometheus.Desc{descRegistrations, descSeats, descWorkshopFree, descWorkshopTaken, descWorkshopWarm, descJobs,
		descMails, descJobBacklog, descMailBacklog, descHeartbeat}
)

func (d *database) Describe(ch chan<- *prometheus.Desc) {
	for _, desc := range databaseDescs {
		ch <- desc
	}
}

func (d *database) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), d.timeout)
	defer cancel()
	g, err := d.stats.Gauges(ctx)
	if err != nil {
		for _, desc := range databaseDescs {
			ch <- prometheus.NewInvalidMetric(desc, err)
		}
		return
	}
	gauge := func(desc *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, v, labels...)
	}
	// Every state, with zeros: an alert on "failed > 0" needs the series.
	for _, s := range []wod.RegistrationState{wod.StateWaiting, wod.StatePending, wod.StateReady, wod.StateExpiring,
		wod.StateEnding, wod.StateDone, wod.StateFailed, wod.StateLeft} {
		gauge(descRegistrations, float64(g.Registrations[s]), string(s))
	}
	for _, s := range g.Seats {
		gauge(descSeats, float64(s.Count), s.Location, string(s.State))
	}
	for _, w := range g.Workshops {
		gauge(descWorkshopFree, float64(w.Free), w.Slug, w.Location)
		gauge(descWorkshopTaken, float64(w.Taken), w.Slug, w.Location)
		gauge(descWorkshopWarm, float64(w.Warm), w.Slug, w.Location, "warm")
		gauge(descWorkshopWarm, float64(w.Warming), w.Slug, w.Location, "warming")
	}
	for _, j := range g.Jobs {
		gauge(descJobs, float64(j.Count), string(j.Kind), string(j.State))
	}
	for _, s := range []wod.MailState{wod.MailQueued, wod.MailSending, wod.MailSent, wod.MailKept, wod.MailFailed} {
		gauge(descMails, float64(g.Mails[s]), string(s))
	}
	now := d.clock.Now()
	backlog := func(t *time.Time) float64 {
		if t == nil {
			return 0
		}
		return max(now.Sub(*t), 0).Seconds()
	}
	gauge(descJobBacklog, backlog(g.OldestDueJob))
	gauge(descMailBacklog, backlog(g.OldestDueMail))
	for _, l := range g.Locations {
		if l.LastHeartbeat != nil {
			gauge(descHeartbeat, max(now.Sub(*l.LastHeartbeat), 0).Seconds(), l.Name)
		}
	}
}
