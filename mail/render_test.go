package mail

import (
	"html"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wod-dev/wod"
)

func fullBranding() Branding {
	return Branding{
		Name:         "WoD Developer",
		URL:          "https://developer.example.com",
		LogoURL:      "https://developer.example.com/logo.png",
		Slack:        "https://slack.example.com/wod",
		X:            "https://x.com/wod",
		From:         "Workshops <wod@example.com>",
		Support:      "help@example.com",
		PortalURL:    "https://wod.example.com/workshops",
		FeedbackURL:  "https://survey.example.com/wod",
		BadgeBaseURL: "https://wod.example.com/img/badges",
	}
}

func newRenderer(t *testing.T, b Branding, dir string) *Renderer {
	t.Helper()
	r, err := NewRenderer(b, dir)
	if err != nil {
		t.Fatalf("NewRenderer: %v", err)
	}
	return r
}

func render(t *testing.T, r *Renderer, d Data) (subject, text, htmlBody string) {
	t.Helper()
	subject, text, htmlBody, err := r.Render(d)
	if err != nil {
		t.Fatalf("Render %s: %v", d.Kind, err)
	}
	return subject, text, htmlBody
}

// expectedButton is the link each kind's button must carry with full data.
func expectedButton(b Branding, d Data) string {
	switch d.Kind {
	case wod.MailCredentials, wod.MailReminder:
		return d.LaunchURL
	case wod.MailGoodbye:
		return b.FeedbackURL
	case wod.MailApology, wod.MailBadge, wod.MailWaitExpired:
		return b.PortalURL
	case wod.MailWaiting:
		return d.StatusURL
	}
	return ""
}

func TestRenderEveryKind(t *testing.T) {
	brandings := map[string]Branding{"full branding": fullBranding(), "bare branding": {Name: "WoD Developer"}}
	for bname, b := range brandings {
		r := newRenderer(t, b, "")
		for _, k := range Kinds() {
			for dname, d := range map[string]Data{"full": sampleData(k), "minimal": {Kind: k}} {
				t.Run(bname+"/"+string(k)+"/"+dname, func(t *testing.T) {
					subject, text, body := render(t, r, d)
					if !strings.Contains(subject, "WoD Developer") {
						t.Errorf("subject %q lacks the branding name", subject)
					}
					if strings.ContainsAny(subject, "\r\n") {
						t.Errorf("subject %q spans lines", subject)
					}
					for part, out := range map[string]string{"subject": subject, "text": text, "HTML": body} {
						for _, bad := range []string{"<no value>", "<nil>", "&lt;no value&gt;", "&lt;nil&gt;", "ZgotmplZ", "%!"} {
							if strings.Contains(out, bad) {
								t.Errorf("%s contains %q:\n%s", part, bad, out)
							}
						}
					}
					if !strings.Contains(body, "<html") || !strings.Contains(body, "</html>") {
						t.Errorf("HTML is not a document:\n%s", body)
					}
					if strings.Contains(body, `href=""`) || strings.Contains(body, `src=""`) {
						t.Errorf("HTML has an empty link:\n%s", body)
					}
					if strings.Contains(text, "\n\n\n") {
						t.Errorf("text has runs of blank lines:\n%s", text)
					}
					if dname == "full" {
						if want := expectedButton(r.brand, d); want != "" && !strings.Contains(body, `href="`+html.EscapeString(want)+`"`) {
							t.Errorf("HTML lacks the button link %s:\n%s", want, body)
						}
					}
				})
			}
		}
	}
}

func TestRenderSubjects(t *testing.T) {
	r := newRenderer(t, fullBranding(), "")
	want := map[wod.MailKind]string{
		wod.MailWelcome:     "WoD Developer Workshops-on-Demand",
		wod.MailCredentials: "WoD Developer Workshops-on-Demand credentials",
		wod.MailReminder:    "Your WoD Developer Workshops-on-Demand session will end in one hour",
		wod.MailGoodbye:     "Thanks for participating in the WoD Developer Workshops-on-Demand!",
		wod.MailApology:     "WoD Developer Workshops-on-Demand: Sample workshop deployment issue",
		wod.MailAlert:       "[WoD Developer Workshops-on-Demand] alert: Sample alert: the agent of location local did not answer",
		wod.MailBadge:       "Way to go! You just earned the WoD Developer Apprentice badge!",
		wod.MailWaiting:     "WoD Developer Workshops-on-Demand: you are in the line for Sample workshop",
		wod.MailWaitExpired: "WoD Developer Workshops-on-Demand: no seat came free for Sample workshop",
		wod.MailExtended:    "Your WoD Developer Workshops-on-Demand session was extended until Mon 2 Mar 13:00 UTC",
	}
	for _, k := range Kinds() {
		subject, _, _ := render(t, r, sampleData(k))
		if subject != want[k] {
			t.Errorf("%s subject = %q, want %q", k, subject, want[k])
		}
	}
}

func TestRenderCredentials(t *testing.T) {
	r := newRenderer(t, fullBranding(), "")
	d := sampleData(wod.MailCredentials)
	d.Duration = 90 * time.Minute
	d.LaunchURL = "https://hub.example.com/hub/login?next=%2Fhub%2Fuser%2Fstudent1%2F&x=1"
	_, text, body := render(t, r, d)
	for _, want := range []string{"The clock has started", "student1", "{{wod:password}}", d.LoginURL, d.LaunchURL,
		"one hour and 30 minutes", "Mon 2 Mar 13:00 UTC", d.StatusURL, d.EndNowURL} {
		if !strings.Contains(text, want) {
			t.Errorf("text lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "4 hours") || strings.Contains(text, "4-hour") {
		t.Errorf("text mentions a duration other than the workshop's:\n%s", text)
	}
	for _, want := range []string{"{{wod:password}}", "student1", `href="` + html.EscapeString(d.LaunchURL) + `"`,
		`href="` + d.StatusURL + `"`, `href="` + d.EndNowURL + `"`, "background-color:#01A982"} {
		if !strings.Contains(body, want) {
			t.Errorf("HTML lacks %q:\n%s", want, body)
		}
	}
}

func TestRenderGoodbye(t *testing.T) {
	r := newRenderer(t, fullBranding(), "")
	d := sampleData(wod.MailGoodbye)
	_, text, body := render(t, r, d)
	for _, out := range []string{text, body} {
		for _, want := range []string{"Time's up", "85%", "Apprentice", r.brand.FeedbackURL, r.brand.PortalURL} {
			if !strings.Contains(out, want) {
				t.Errorf("goodbye lacks %q:\n%s", want, out)
			}
		}
	}
	if !strings.Contains(body, `src="https://wod.example.com/img/badges/3_workshops_apprentice.jpg"`) {
		t.Errorf("goodbye HTML lacks the badge image:\n%s", body)
	}

	// Without a badge, completion or feedback link, none of them shows.
	r = newRenderer(t, Branding{Name: "WoD Developer", PortalURL: "https://wod.example.com/workshops"}, "")
	d.Badge, d.Completion = nil, nil
	_, text, body = render(t, r, d)
	for _, out := range []string{text, body} {
		for _, unwanted := range []string{"code cells", "badge", "feedback", "thought"} {
			if strings.Contains(out, unwanted) {
				t.Errorf("goodbye without badge, completion or survey mentions %q:\n%s", unwanted, out)
			}
		}
	}
	zero := 0
	d.Completion = &zero
	if _, text, _ = render(t, r, d); !strings.Contains(text, "You ran 0% of") {
		t.Errorf("a known completion of 0%% is not shown:\n%s", text)
	}
}

func TestRenderReminderRemaining(t *testing.T) {
	r := newRenderer(t, fullBranding(), "")
	ends := time.Date(2026, 3, 2, 13, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		now  time.Time
		want string
	}{
		{ends.Add(-time.Hour), "will end in one hour"},
		{ends.Add(-62 * time.Minute), "will end in one hour"},
		{ends.Add(-44 * time.Minute), "will end in 45 minutes"},
		{ends.Add(-7*time.Minute - 10*time.Second), "will end in 7 minutes"},
		{ends.Add(-150 * time.Minute), "will end in 2 hours and 30 minutes"},
		{ends.Add(-10 * time.Second), "will end soon"},
		{ends.Add(time.Minute), "will end soon"},
		{time.Time{}, "will end soon"},
	} {
		d := Data{Kind: wod.MailReminder, EndsAt: ends, Now: c.now}
		subject, text, _ := render(t, r, d)
		if !strings.HasSuffix(subject, c.want) {
			t.Errorf("now %v: subject %q, want it to end with %q", c.now, subject, c.want)
		}
		if !strings.Contains(text, "Mon 2 Mar 13:00 UTC") || !strings.Contains(text, "erased") {
			t.Errorf("reminder text lacks the end time or the warning:\n%s", text)
		}
	}
}

func TestRenderSubjectInjection(t *testing.T) {
	r := newRenderer(t, fullBranding(), "")
	d := sampleData(wod.MailApology)
	d.Title = "Intro\r\nBcc: x@evil.example"
	subject, _, _ := render(t, r, d)
	if strings.ContainsAny(subject, "\r\n") {
		t.Fatalf("subject spans lines: %q", subject)
	}
	if subject != "WoD Developer Workshops-on-Demand: Intro Bcc: x@evil.example deployment issue" {
		t.Errorf("subject = %q", subject)
	}
	d = sampleData(wod.MailAlert)
	d.Alert = "\n  first line\r\nBcc: x@evil.example\nmore"
	if subject, _, _ = render(t, r, d); subject != "[WoD Developer Workshops-on-Demand] alert: first line" {
		t.Errorf("alert subject = %q", subject)
	}
}

func TestRenderEscapesHTML(t *testing.T) {
	r := newRenderer(t, fullBranding(), "")
	d := sampleData(wod.MailWelcome)
	d.Name = `<script>alert(1)</script>`
	d.ReplayLink = "javascript:alert(1)"
	_, text, body := render(t, r, d)
	if strings.Contains(body, "<script>") || strings.Contains(body, `href="javascript:`) {
		t.Errorf("HTML is not escaped:\n%s", body)
	}
	if !strings.Contains(text, "Hello <script>alert(1)</script>,") {
		t.Errorf("text should keep the name verbatim:\n%s", text)
	}
}

func TestRenderUnknownKind(t *testing.T) {
	r := newRenderer(t, fullBranding(), "")
	if _, _, _, err := r.Render(Data{Kind: "nonsense"}); err == nil {
		t.Fatal("Render of an unknown kind succeeded")
	}
}

func TestBrandingChecks(t *testing.T) {
	for name, b := range map[string]Branding{
		"colour":     {Name: "X", Color: "red; background:url(x)"},
		"portal URL": {Name: "X", PortalURL: "/workshops"},
		"logo URL":   {Name: "X", LogoURL: "javascript:alert(1)"},
		"support":    {Name: "X", Support: "not an address"},
	} {
		if _, err := NewRenderer(b, ""); err == nil {
			t.Errorf("%s: NewRenderer accepted %+v", name, b)
		}
	}
	r := newRenderer(t, Branding{}, "")
	if r.brand.Color != DefaultColor || r.brand.Name == "" {
		t.Errorf("defaults not filled in: %+v", r.brand)
	}
}

func writeOverride(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestOverrideReplacesTemplates(t *testing.T) {
	dir := writeOverride(t, map[string]string{
		"welcome.subject.tmpl":  "Bienvenue chez {{.Brand.Name}}",
		"layout.html.tmpl":      `<html><body><h1>{{template "heading" .}}</h1>{{template "content" .}}{{block "action" .}}{{end}}<p>custom layout</p></body></html>{{define "button"}}<a href="{{.URL}}">{{.Label}}</a>{{end}}{{define "credentials-table"}}{{end}}{{define "status-links"}}{{end}}`,
		".welcome.txt.tmpl.swp": "editor junk, ignored",
	})
	r := newRenderer(t, fullBranding(), dir)
	subject, _, body := render(t, r, sampleData(wod.MailWelcome))
	if subject != "Bienvenue chez WoD Developer" {
		t.Errorf("subject = %q, want the override", subject)
	}
	if !strings.Contains(body, "custom layout") {
		t.Errorf("HTML does not use the overriding layout:\n%s", body)
	}
	// Kinds not overridden keep their embedded subject.
	if subject, _, _ = render(t, r, sampleData(wod.MailCredentials)); subject != "WoD Developer Workshops-on-Demand credentials" {
		t.Errorf("credentials subject = %q", subject)
	}
}

func TestOverrideErrors(t *testing.T) {
	for _, c := range []struct {
		name  string
		files map[string]string
		want  []string // in the error
	}{
		{"unknown name", map[string]string{"welcome.subjet.tmpl": "x"}, []string{"welcome.subjet.tmpl", "unknown"}},
		{"parse error", map[string]string{"goodbye.txt.tmpl": "line one\n{{if .Name}}unclosed\n"},
			[]string{"goodbye.txt.tmpl"}},
		{"parse error in HTML", map[string]string{"badge.html.tmpl": "{{define \"content\"}}\n\n{{.Name</p>{{end}}"},
			[]string{"badge.html.tmpl:3"}},
		{"missing field", map[string]string{"reminder.subject.tmpl": "Ends {{.EndTime}}"},
			[]string{"reminder.subject.tmpl", "EndTime"}},
		{"unguarded optional value", map[string]string{"goodbye.subject.tmpl": "Done {{.Badge}}"},
			[]string{"goodbye", "<nil>"}},
		{"layout without a template the kinds need", map[string]string{"layout.txt.tmpl": `{{define "footer"}}--{{end}}`},
			[]string{"greeting"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := writeOverride(t, c.files)
			_, err := NewRenderer(fullBranding(), dir)
			if err == nil {
				t.Fatal("NewRenderer succeeded")
			}
			t.Log(err)
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
	if _, err := NewRenderer(fullBranding(), filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("NewRenderer accepted a missing override directory")
	}
}

func TestHumanDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0:                         "",
		20 * time.Second:          "",
		time.Minute:               "one minute",
		45 * time.Minute:          "45 minutes",
		time.Hour:                 "one hour",
		4 * time.Hour:             "4 hours",
		90 * time.Minute:          "one hour and 30 minutes",
		2*time.Hour + time.Minute: "2 hours and one minute",
	} {
		if got := humanDuration(d); got != want {
			t.Errorf("humanDuration(%v) = %q, want %q", d, got, want)
		}
	}
}
