package loadtest

import (
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	var ds []time.Duration
	for i := 1; i <= 100; i++ {
		ds = append(ds, time.Duration(i)*time.Second)
	}
	for _, c := range []struct {
		p    int
		want float64
	}{{50, 50}, {90, 90}, {99, 99}, {100, 100}, {1, 1}} {
		if got := percentile(ds, c.p); got != c.want {
			t.Errorf("p%d = %v, want %v", c.p, got, c.want)
		}
	}
	if got := percentile(ds[:1], 99); got != 1 {
		t.Errorf("p99 of one = %v", got)
	}
	if got := percentile(nil, 50); got != 0 {
		t.Errorf("p50 of none = %v", got)
	}
}

func TestSummarize(t *testing.T) {
	ok := func(d ...time.Duration) result {
		r := result{durations: map[Stage]time.Duration{}}
		// Nobody waited in line in these runs.
		stages := []Stage{StageRegister, StageReady, StageLogin, StageOpen, StageExecute, StageEnd}
		for i, x := range d {
			r.durations[stages[i]] = x
		}
		return r
	}
	results := []result{
		ok(time.Second, 2*time.Second, time.Second, time.Second, time.Second, 3*time.Second),
		ok(2*time.Second, 4*time.Second, time.Second, time.Second, time.Second, 5*time.Second),
		{durations: map[Stage]time.Duration{}, failed: StageRegister, err: "409 full: no seat"},
		{durations: map[Stage]time.Duration{}, failed: StageRegister, err: "409 full: no seat"},
		{durations: map[Stage]time.Duration{StageRegister: time.Second}, failed: StageReady, err: "the registration is failed"},
	}
	rep := summarize(Options{Workshop: "WKSHP-X", Participants: 5}, "run1", time.Minute, results)
	if rep.Succeeded != 2 || rep.Seconds != 60 || len(rep.Stages) != 6 {
		t.Fatalf("report %+v", rep)
	}
	reg := rep.Stages[0]
	if reg.Stage != StageRegister || reg.OK != 3 || reg.Failed != 2 || reg.P50 != 1 || reg.Max != 2 {
		t.Errorf("register: %+v", reg)
	}
	if ready := rep.Stages[1]; ready.OK != 2 || ready.Failed != 1 || ready.P50 != 2 || ready.P99 != 4 {
		t.Errorf("ready: %+v", ready)
	}
	if len(rep.Errors) != 2 || rep.Errors[0].Count != 2 || rep.Errors[0].Stage != StageRegister || rep.Errors[1].Stage != StageReady {
		t.Errorf("errors: %+v", rep.Errors)
	}
	// A stage nobody reached or measured is left out (no code, sessions kept).
	rep = summarize(Options{Participants: 1}, "run2", time.Second, []result{ok(time.Second, time.Second, time.Second, time.Second)})
	if len(rep.Stages) != 4 {
		t.Errorf("stages of a run without code nor end: %+v", rep.Stages)
	}
}

func TestSummarizeTimeInLine(t *testing.T) {
	results := []result{
		{durations: map[Stage]time.Duration{StageRegister: time.Second, StageReady: 2 * time.Second}},
		{durations: map[Stage]time.Duration{StageRegister: time.Second, StageWait: 40 * time.Second, StageReady: 45 * time.Second}, waited: true},
		{durations: map[Stage]time.Duration{StageRegister: time.Second}, waited: true, failed: StageWait, err: "the registration is left"},
	}
	rep := summarize(Options{Workshop: "WKSHP-X", Participants: 3, Wait: true}, "run3", time.Minute, results)
	if rep.Waited != 2 || rep.Succeeded != 2 {
		t.Fatalf("report %+v", rep)
	}
	var wait *StageStats
	for i := range rep.Stages {
		if rep.Stages[i].Stage == StageWait {
			wait = &rep.Stages[i]
		}
	}
	if wait == nil || wait.OK != 1 || wait.Failed != 1 || wait.P50 != 40 || wait.Max != 40 {
		t.Fatalf("wait stage: %+v", rep.Stages)
	}
}
