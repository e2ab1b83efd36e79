package mail

import (
	"strings"
	"testing"
	"time"

	"github.com/wod-dev/wod"
)

// The reminder offers the participant's one extension through its signed
// link only when the engine says it is offered.
func TestRenderReminderExtendLink(t *testing.T) {
	r := newRenderer(t, fullBranding(), "")
	d := sampleData(wod.MailReminder)
	_, text, body := render(t, r, d)
	for _, want := range []string{"add 30 minutes to your session", d.ExtendURL} {
		if !strings.Contains(text, want) {
			t.Errorf("text lacks %q:\n%s", want, text)
		}
	}
	if want := `href="` + d.ExtendURL + `"`; !strings.Contains(body, want) {
		t.Errorf("HTML lacks %q:\n%s", want, body)
	}
	d.ExtendURL = ""
	_, text, body = render(t, r, d)
	if strings.Contains(text, "Need more time") || strings.Contains(body, "Need more time") {
		t.Errorf("the reminder offers an extension that is not offered:\n%s", text)
	}
}

// The extended mail tells the participant by how much and until when.
func TestRenderExtended(t *testing.T) {
	r := newRenderer(t, fullBranding(), "")
	d := sampleData(wod.MailExtended)
	d.EndsAt = time.Date(2026, time.March, 2, 15, 30, 0, 0, time.UTC)
	d.Extended = 90 * time.Minute
	subject, text, body := render(t, r, d)
	if want := "extended until Mon 2 Mar 15:30 UTC"; !strings.Contains(subject, want) {
		t.Errorf("subject = %q, want it to contain %q", subject, want)
	}
	for _, want := range []string{"more time: one hour and 30 minutes", "at Mon 2 Mar 15:30 UTC", "reminded again", d.StatusURL} {
		if !strings.Contains(text, want) {
			t.Errorf("text lacks %q:\n%s", want, text)
		}
	}
	if !strings.Contains(body, "<strong>Mon 2 Mar 15:30 UTC</strong>") {
		t.Errorf("HTML lacks the new end:\n%s", body)
	}
}
