package web_test

import (
	"encoding/csv"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/store/storetest"
)

// statsFinish takes a pending registration straight to a final state with
// its completion, as the engine's cleanup step would.
func statsFinish(t *testing.T, s *site, r *wod.Registration, to wod.RegistrationState, completion *int) {
	t.Helper()
	free := wod.SeatFree
	if _, err := s.db.Transition(s.ctx, &wod.Transition{RegistrationID: r.ID, From: []wod.RegistrationState{wod.StatePending},
		To: to, Completion: completion, Seat: &free}); err != nil {
		t.Fatal(err)
	}
}

func statsRegister(t *testing.T, s *site, slug, email string) *wod.Registration {
	t.Helper()
	r, err := s.eng.Register(s.ctx, wod.RegistrationRequest{Workshop: slug, Name: "Ann Smith", Email: email})
	if err != nil {
		t.Fatalf("register %s: %v", email, err)
	}
	return r
}

// wantIn fails unless every string is on the page.
func wantIn(t *testing.T, what, page string, wants ...string) {
	t.Helper()
	for _, want := range wants {
		if !strings.Contains(page, want) {
			t.Fatalf("%s lacks %q:\n%s", what, want, page)
		}
	}
}

// noInlineCode checks what the Content-Security-Policy would block.
func noInlineCode(t *testing.T, what, page string) {
	t.Helper()
	if strings.Contains(page, "style=") || strings.Count(page, "<script") != strings.Count(page, `<script src="/assets/`) {
		t.Fatalf("%s has an inline style or script:\n%s", what, page)
	}
}

func TestDashboardPage(t *testing.T) {
	t.Parallel()
	forEach(t, func(t *testing.T, s *site) {
		for _, path := range []string{"/admin", "/admin/", "/admin/stats?days=7", "/admin/stats.csv"} {
			res, _ := s.do(http.MethodGet, path, nil)
			if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/admin/login?next=") {
				t.Fatalf("anonymous %s: %d %v", path, res.StatusCode, res.Header)
			}
		}

		s.workshop("WKSHP-API101", "APIs 101", 1, 3)
		s.workshop("WKSHP-Idle", "Idle <b>workshop</b>", 4, 6)
		far := &wod.Location{Name: "far", HubURL: "http://far.test", Students: 5}
		if err := s.db.CreateLocation(s.ctx, far); err != nil {
			t.Fatal(err)
		}
		if _, err := s.db.Heartbeat(s.ctx, far.ID, "degraded: disk 91%", nil, s.clock.Now()); err != nil {
			t.Fatal(err)
		}
		s.clock.Advance(5 * time.Minute)
		if _, err := s.db.Heartbeat(s.ctx, s.loc.ID, "ok", nil, s.clock.Now()); err != nil {
			t.Fatal(err)
		}
		if err := s.db.SetLocationKernels(s.ctx, s.loc.ID, []string{"python3", "bash"}); err != nil {
			t.Fatal(err)
		}

		// One ready, one whose preparation failed once and waits for a retry,
		// one finished today.
		statsRegister(t, s, "WKSHP-API101", "ann@example.com")
		s.ready("s3cret")
		retried := statsRegister(t, s, "WKSHP-API101", "bob@example.com")
		j, err := s.eng.ClaimJob(s.ctx, s.loc.ID, "agent", 0)
		if err != nil || j == nil || j.RegistrationID != retried.ID {
			t.Fatalf("claim: %+v %v", j, err)
		}
		if err := s.eng.ReportJob(s.ctx, s.loc.ID, j.ID, "agent", wod.AgentResult{Attempt: j.Attempt, Error: "useradd: <exit 9>"}); err != nil {
			t.Fatal(err)
		}
		statsFinish(t, s, statsRegister(t, s, "WKSHP-Idle", "cy@example.com"), wod.StateDone, new(70))
		if err := s.db.RecordEvent(s.ctx, &wod.Event{Actor: "agent:local", Kind: "guard.kill", Subject: "location:local",
			Detail: "killed xmrig (pid 4242) of student2"}); err != nil {
			t.Fatal(err)
		}

		s.operator("mod", wod.RoleModerator, "correct horse battery")
		s.login("mod", "correct horse battery")
		code, page := s.get("/admin")
		if code != http.StatusOK {
			t.Fatalf("dashboard: %d\n%s", code, page)
		}
		noInlineCode(t, "dashboard", page)
		wantIn(t, "dashboard", page,
			`aria-current="page">Dashboard`,
			// Tiles: one of each, pending being the retried one.
			`href="/admin/registrations?state=ready"><span class="n">1</span> ready`,
			`href="/admin/registrations?state=pending"><span class="n">1</span> pending`,
			`href="/admin/registrations?state=done"><span class="n">1</span> done <span class="small muted">(last 24 h)</span>`,
			`href="/admin/registrations?state=failed"><span class="n">0</span> failed`,
			// Seats: two taken of three; the idle one is free again.
			`aria-label="2 taken, 0 dirty, 1 free of a capacity of 3"`,
			`aria-label="0 taken, 0 dirty, 3 free of a capacity of 3"`,
			"Idle &lt;b&gt;workshop&lt;/b&gt;",
			// Heartbeats: far is five minutes silent, local just beat.
			"5 min ago</time> <strong class=\"warn-text\">⚠ agent silent for over 2 minutes</strong>",
			"degraded: disk 91%", "0 s ago</time></td>",
			// Kernels: local reported its own, far never did.
			"<th scope=\"col\">Kernels</th>", "<td>bash, python3</td>", `<span class="muted">not reported</span>`,
			// The failing job, with its registration and error.
			fmt.Sprintf(`<a href="/admin/registrations/%d">#%d</a>`, retried.ID, retried.ID),
			"useradd: &lt;exit 9&gt;", `<span class="jobstate queued">queued</span>`,
			"killed xmrig (pid 4242) of student2")
		if strings.Count(page, "agent silent") != 1 {
			t.Fatalf("a fresh heartbeat is flagged:\n%s", page)
		}
		if code, again := s.get("/admin/"); code != http.StatusOK || !strings.Contains(again, `<span class="n">1</span> ready`) {
			t.Fatalf("/admin/: %d", code)
		}

		// A job that failed for good can be dismissed once dealt with; one
		// being retried cannot.
		gaveUp := storetest.FailedJob(t, s.db, wod.JobReset, s.loc.ID, "reset-WKSHP-X.sh: exit 1")
		_, page = s.get("/admin")
		dismissForm := fmt.Sprintf(`action="/admin/jobs/%d/dismiss"`, gaveUp.ID)
		wantIn(t, "dashboard with a failed job", page, dismissForm, "reset-WKSHP-X.sh: exit 1", `action="/admin/jobs/dismiss"`)
		if strings.Count(page, `">Dismiss</button>`) != 1 {
			t.Fatalf("a job being retried offers a dismissal:\n%s", page)
		}
		if res, _ := s.post(fmt.Sprintf("/admin/jobs/%d/dismiss", gaveUp.ID), url.Values{}); res.StatusCode != http.StatusForbidden {
			t.Fatalf("dismiss without the CSRF token: %d", res.StatusCode)
		}
		res, _ := s.post(fmt.Sprintf("/admin/jobs/%d/dismiss", gaveUp.ID), url.Values{"csrf": {s.csrf("/admin")}})
		if res.StatusCode != http.StatusSeeOther {
			t.Fatalf("dismiss: %d", res.StatusCode)
		}
		_, page = s.get("/admin")
		wantIn(t, "dashboard after the dismissal", page, fmt.Sprintf("Job %d dismissed.", gaveUp.ID), "useradd: &lt;exit 9&gt;")
		if strings.Contains(page, dismissForm) || strings.Contains(page, "reset-WKSHP-X.sh") {
			t.Fatalf("the dismissed job is still listed:\n%s", page)
		}

		// Another one is retried once its cause is fixed: queued again.
		again := storetest.FailedJob(t, s.db, wod.JobReset, s.loc.ID, "hub down")
		_, page = s.get("/admin")
		wantIn(t, "dashboard with a job to retry", page, fmt.Sprintf(`action="/admin/jobs/%d/retry"`, again.ID))
		res, _ = s.post(fmt.Sprintf("/admin/jobs/%d/retry", again.ID), url.Values{"csrf": {s.csrf("/admin")}})
		if res.StatusCode != http.StatusSeeOther {
			t.Fatalf("retry: %d", res.StatusCode)
		}
		if j, err := s.db.FindJob(s.ctx, again.ID); err != nil || j.State != wod.JobQueued || j.Attempts != 0 {
			t.Fatalf("retried job: %+v %v", j, err)
		}
		_, page = s.get("/admin")
		wantIn(t, "dashboard after the retry", page, fmt.Sprintf("Job %d (reset) is queued again.", again.ID))

		// A day later the finished one has left the tiles.
		s.clock.Advance(25 * time.Hour)
		s.login("mod", "correct horse battery") // the session has ended meanwhile
		_, page = s.get("/admin")
		wantIn(t, "dashboard a day later", page, `href="/admin/registrations?state=done"><span class="n">0</span> done`)
		if strings.Count(page, "agent silent for over 2 minutes") != 2 {
			t.Fatalf("silent agents a day later:\n%s", page)
		}
	})
}

func TestStatsPage(t *testing.T) {
	t.Parallel()
	forEach(t, func(t *testing.T, s *site) {
		s.workshop("WKSHP-A", "Alpha", 1, 10)
		s.workshop("WKSHP-B", "Beta", 11, 12)
		s.workshop("WKSHP-C", "=1+1 formulas", 13, 13)
		// Forty days ago: in the 90-day period only.
		statsFinish(t, s, statsRegister(t, s, "WKSHP-B", "old@example.com"), wod.StateDone, new(55))
		s.clock.Advance(40 * 24 * time.Hour)
		for i, c := range []int{0, 15, 15, 100} {
			statsFinish(t, s, statsRegister(t, s, "WKSHP-A", fmt.Sprintf("p%d@example.com", i)), wod.StateDone, new(c))
		}
		statsFinish(t, s, statsRegister(t, s, "WKSHP-A", "failed@example.com"), wod.StateFailed, nil)
		today := s.clock.Now().UTC().Format(time.DateOnly)

		s.operator("mod", wod.RoleModerator, "correct horse battery")
		s.login("mod", "correct horse battery")
		code, page := s.get("/admin/stats")
		if code != http.StatusOK {
			t.Fatalf("stats: %d\n%s", code, page)
		}
		noInlineCode(t, "stats", page)
		row := func(slug, title string, cells ...string) string {
			out := `<th scope="row">` + title + ` <span class="small muted">` + slug + "</span></th>\n  "
			for _, c := range cells {
				out += `<td class="num">` + c + `</td>`
			}
			return out
		}
		wantIn(t, "stats", page,
			`aria-current="page">Statistics`, `<form class="toolbar stats-period" method="get" action="/admin/stats">`,
			`<option value="30" selected>last 30 days</option>`,
			row("WKSHP-A", "Alpha", "5", "4", "1", "32.5 %"),
			row("WKSHP-B", "Beta", "0", "0", "0", "—"),
			"<title>0–9 %: 1 registration</title>", "<title>10–19 %: 2 registrations</title>",
			"<title>90–100 %: 1 registration</title>", "<title>50–59 %: 0 registrations</title>",
			`role="img" aria-label="Completion of Alpha: 0–9 % 1, 10–19 % 2, 90–100 % 1"`,
			`aria-label="Registrations per day for all workshops: 5 registrations in 30 days, at most 5 a day"`,
			`<time datetime="`+today+`">`, `href="/admin/stats.csv?days=30"`)

		// The period and the workshop of the per-day chart.
		_, page = s.get("/admin/stats?days=90&workshop=WKSHP-B")
		wantIn(t, "stats over 90 days", page, `<option value="90" selected>`, `<option value="WKSHP-B" selected>`,
			row("WKSHP-B", "Beta", "1", "1", "0", "55.0 %"), "Registrations per day of Beta",
			"Registrations per day for Beta: 1 registration in 90 days, at most 1 a day",
			`href="/admin/stats.csv?days=90&amp;kind=daily&amp;workshop=WKSHP-B"`)
		_, page = s.get("/admin/stats?days=12345&workshop=WKSHP-Nope")
		wantIn(t, "stats with a bad query", page, `<option value="30" selected>`, "per day for all workshops")

		// CSV of the table.
		res, body := s.do(http.MethodGet, "/admin/stats.csv?days=30", nil)
		if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/csv") ||
			res.Header.Get("Content-Disposition") != `attachment; filename="wod-workshops-30d-`+today+`.csv"` {
			t.Fatalf("CSV: %d %v", res.StatusCode, res.Header)
		}
		records, err := csv.NewReader(strings.NewReader(body)).ReadAll()
		if err != nil {
			t.Fatalf("CSV does not parse: %v\n%s", err, body)
		}
		want := [][]string{
			{"slug", "title", "registrations", "finished", "failed", "average_completion", "completion_0_9",
				"completion_10_19", "completion_20_29", "completion_30_39", "completion_40_49", "completion_50_59",
				"completion_60_69", "completion_70_79", "completion_80_89", "completion_90_100"},
			{"WKSHP-A", "Alpha", "5", "4", "1", "32.5", "1", "2", "0", "0", "0", "0", "0", "0", "0", "1"},
			{"WKSHP-B", "Beta", "0", "0", "0", "", "0", "0", "0", "0", "0", "0", "0", "0", "0", "0"},
			{"WKSHP-C", "'=1+1 formulas", "0", "0", "0", "", "0", "0", "0", "0", "0", "0", "0", "0", "0", "0"},
		}
		if !slices.EqualFunc(records, want, slices.Equal) {
			t.Fatalf("CSV:\n got %q\nwant %q", records, want)
		}

		// CSV of the days: a row for each of the seven, today's with all five.
		res, body = s.do(http.MethodGet, "/admin/stats.csv?days=7&kind=daily", nil)
		if res.StatusCode != http.StatusOK ||
			res.Header.Get("Content-Disposition") != `attachment; filename="wod-daily-all-7d-`+today+`.csv"` {
			t.Fatalf("daily CSV: %d %v", res.StatusCode, res.Header)
		}
		records, err = csv.NewReader(strings.NewReader(body)).ReadAll()
		if err != nil {
			t.Fatalf("daily CSV does not parse: %v\n%s", err, body)
		}
		if len(records) != 8 || !slices.Equal(records[0], []string{"day", "registrations"}) ||
			!slices.Equal(records[7], []string{today, "5"}) ||
			!slices.Equal(records[1], []string{s.clock.Now().AddDate(0, 0, -6).Format(time.DateOnly), "0"}) {
			t.Fatalf("daily CSV: %q", records)
		}
		_, body = s.do(http.MethodGet, "/admin/stats.csv?days=90&kind=daily&workshop=WKSHP-B", nil)
		records, _ = csv.NewReader(strings.NewReader(body)).ReadAll()
		sum := 0
		for _, r := range records[1:] {
			var n int
			fmt.Sscan(r[1], &n)
			sum += n
		}
		if len(records) != 91 || sum != 1 {
			t.Fatalf("daily CSV of WKSHP-B: %d rows, %d registrations", len(records), sum)
		}
		if res, _ := s.do(http.MethodGet, "/admin/stats.csv?kind=nope", nil); res.StatusCode != http.StatusBadRequest {
			t.Fatalf("unknown kind: %d", res.StatusCode)
		}
	})
}
