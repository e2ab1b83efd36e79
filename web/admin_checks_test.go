package web_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wod-dev/wod"
)

// TestDashboardChecks: the dashboard shows each host's last daily check,
// the platform's first: what fails and warns, since when; a host whose
// checks all pass in one line.
func TestDashboardChecks(t *testing.T) {
	t.Parallel()
	forEach(t, func(t *testing.T, s *site) {
		s.operator("mod", wod.RoleModerator, "correct horse battery")
		s.login("mod", "correct horse battery")
		_, page := s.get("/admin")
		wantIn(t, "dashboard before any check", page, "No daily check has run yet")

		fw := wod.CheckResult{Name: "firewall", Status: wod.CheckFail, Detail: "iptables accepts every incoming connection <6379>"}
		if err := s.eng.ReportChecks(s.ctx, s.loc.ID, []wod.CheckResult{
			{Name: "sysctl", Status: wod.CheckOK, Detail: "fine"}, fw,
			{Name: "time sync", Status: wod.CheckWarn, Detail: "not synchronised"}}); err != nil {
			t.Fatal(err)
		}
		s.clock.Advance(3 * time.Hour)
		if err := s.eng.ReportChecks(s.ctx, s.loc.ID, []wod.CheckResult{{Name: "sysctl", Status: wod.CheckOK}, fw,
			{Name: "time sync", Status: wod.CheckWarn, Detail: "not synchronised"}}); err != nil {
			t.Fatal(err)
		}
		if err := s.eng.RecordChecks(s.ctx, wod.CheckScopePlatform, "system",
			[]wod.CheckResult{{Name: "smtp", Status: wod.CheckOK}, {Name: "database", Status: wod.CheckOK}}); err != nil {
			t.Fatal(err)
		}
		code, page := s.get("/admin")
		if code != http.StatusOK {
			t.Fatalf("dashboard: %d", code)
		}
		noInlineCode(t, "dashboard", page)
		wantIn(t, "dashboard with checks", page,
			`<th scope="row">platform (server)</th>`, "all 2 checks passed",
			s.loc.Name+` <span class="small muted">1 failed, 1 passed</span>`,
			`<span class="tag failed">FAIL</span>`, "iptables accepts every incoming connection &lt;6379&gt;",
			// Failing since the first run, three hours ago; checked now.
			`title="`+s.clock.Now().Add(-3*time.Hour).UTC().Format("Mon 2 Jan 15:04 UTC")+`">3 h ago</time>`,
			`<span class="tag running">warn</span>`)
		if strings.Index(page, "platform (server)") > strings.Index(page, "iptables accepts") {
			t.Fatalf("the platform is not listed first:\n%s", page)
		}
		if strings.Contains(page, "<td>sysctl</td>") {
			t.Fatalf("a passing check is listed:\n%s", page)
		}
	})
}
