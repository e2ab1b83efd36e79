package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/wod-dev/wod"
)

// rehearsalMetrics counts the robot participant's rehearsals.
type rehearsalMetrics struct {
	outcomes     *prometheus.CounterVec
	cellFailures prometheus.Counter
}

func newRehearsalMetrics(reg *prometheus.Registry) rehearsalMetrics {
	r := rehearsalMetrics{
		outcomes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wod_rehearsals_total",
			Help: "Finished rehearsals of workshops by the robot participant, by outcome (passed, failed).",
		}, []string{"outcome"}),
		cellFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wod_rehearsal_cell_failures_total",
			Help: "Cells (error or timeout) and notebooks that failed in rehearsals.",
		}),
	}
	for _, o := range []wod.RehearsalState{wod.RehearsalPassed, wod.RehearsalFailed} {
		r.outcomes.WithLabelValues(string(o))
	}
	reg.MustRegister(r.outcomes, r.cellFailures)
	return r
}

// Rehearsed counts a finished rehearsal (rehearsal.Observer).
func (m *Metrics) Rehearsed(outcome wod.RehearsalState, cellFailures int) {
	m.rehearsals.outcomes.WithLabelValues(string(outcome)).Inc()
	m.rehearsals.cellFailures.Add(float64(cellFailures))
}
