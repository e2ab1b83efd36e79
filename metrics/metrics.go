// Package metrics exposes the platform to Prometheus: what the server does
// (registrations, timers, agent reports, mails, HTTP requests), counted as
// it happens, and what the database holds (registrations, seats, jobs and
// the outbox by state, backlogs, agents' heartbeats), read at each scrape.
package metrics

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/wod-dev/wod"
)

// Metrics is the server's registry. It observes the engine and the outbox
// (engine.Observer) and the HTTP handler (Instrument).
type Metrics struct {
	registry *prometheus.Registry
	logger   *slog.Logger

	registrations *prometheus.CounterVec
	timerLateness *prometheus.HistogramVec
	agentJobs     *prometheus.CounterVec
	agentJobTime  *prometheus.HistogramVec
	mails         *prometheus.CounterVec
	warmBookings  *prometheus.CounterVec
	httpRequests  *prometheus.CounterVec
	httpDuration  *prometheus.HistogramVec
	rehearsals    rehearsalMetrics
}

// New builds the registry: Go runtime and process metrics, the database's
// gauges read from stats at each scrape, and the server's counters.
func New(stats wod.StatsService, clock wod.Clock, version string, logger *slog.Logger) *Metrics {
	m := &Metrics{registry: prometheus.NewRegistry(), logger: logger}
	m.registrations = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wod_registration_requests_total",
		Help: "Registration requests by outcome: booked, or the error code (full, already_registered, invalid…).",
	}, []string{"outcome"})
	m.timerLateness = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "wod_timer_lateness_seconds",
		Help:    "How late timers (reminder, expiry, watchdog) fired after their due time.",
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
	}, []string{"kind"})
	m.agentJobs = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wod_agent_jobs_total",
		Help: "Agent operations reported, by kind and result (ok, failed).",
	}, []string{"kind", "result"})
	m.agentJobTime = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "wod_agent_job_duration_seconds",
		Help:    "How long agent operations took, as the agents report them.",
		Buckets: []float64{.1, .25, .5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300},
	}, []string{"kind"})
	m.warmBookings = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wod_warm_bookings_total",
		Help: "Bookings by workshop and seat: hit (took a warm seat, ready at once), miss (the workshop has a " +
			"warm pool but it was empty: created cold), cold (no pool). Cold creates are miss + cold.",
	}, []string{"workshop", "outcome"})
	m.mails = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wod_mail_deliveries_total",
		Help: "Outbox delivery attempts by mail kind and outcome (sent, kept, failed, queued for a retry).",
	}, []string{"kind", "state"})
	m.httpRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wod_http_requests_total",
		Help: "HTTP requests by route pattern and status code.",
	}, []string{"route", "code"})
	m.httpDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "wod_http_request_duration_seconds",
		Help:    "Time to answer HTTP requests, by route pattern (long polls of the agent protocol included).",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
	}, []string{"route"})
	info := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "wod_build_info", Help: "The running version of wod.", ConstLabels: prometheus.Labels{"version": version},
	})
	info.Set(1)
	m.registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		&database{stats: stats, clock: clock, timeout: 5 * time.Second},
		info, m.registrations, m.timerLateness, m.agentJobs, m.agentJobTime, m.mails, m.warmBookings, m.httpRequests, m.httpDuration,
	)
	m.rehearsals = newRehearsalMetrics(m.registry)
	return m
}

// Handler serves the registry in Prometheus' text format (or OpenMetrics,
// when asked). A database that cannot be read fails its gauges, not the
// whole scrape.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{
		ErrorLog:          slog.NewLogLogger(m.logger.Handler(), slog.LevelWarn),
		ErrorHandling:     promhttp.ContinueOnError,
		EnableOpenMetrics: true,
		Timeout:           10 * time.Second,
	})
}

// Registered counts a registration request (engine.Observer).
func (m *Metrics) Registered(err error) {
	outcome := "booked"
	if err != nil {
		outcome = wod.ErrorCode(err)
	}
	m.registrations.WithLabelValues(outcome).Inc()
}

// TimerFired records a timer's lateness (engine.Observer).
func (m *Metrics) TimerFired(kind wod.JobKind, late time.Duration) {
	m.timerLateness.WithLabelValues(string(kind)).Observe(max(late, 0).Seconds())
}

// JobReported counts an agent's report (engine.Observer).
func (m *Metrics) JobReported(kind wod.JobKind, ok bool, took time.Duration) {
	result := "ok"
	if !ok {
		result = "failed"
	}
	m.agentJobs.WithLabelValues(string(kind), result).Inc()
	if took > 0 {
		m.agentJobTime.WithLabelValues(string(kind)).Observe(took.Seconds())
	}
}

// MailFinished counts a delivery attempt (engine.Observer).
func (m *Metrics) MailFinished(kind wod.MailKind, state wod.MailState) {
	m.mails.WithLabelValues(string(kind), string(state)).Inc()
}

// WarmBooking counts a booking by how its seat was found
// (engine.WarmObserver): hit, miss or cold.
func (m *Metrics) WarmBooking(workshop, outcome string) {
	m.warmBookings.WithLabelValues(workshop, outcome).Inc()
}

// WarmPools is what the pool keeper left; the database gauges
// (wod_workshop_seats_warm) show it at each scrape (engine.WarmObserver).
func (m *Metrics) WarmPools([]*wod.WarmPoolState) {}
