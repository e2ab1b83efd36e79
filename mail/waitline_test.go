package mail

import (
	"strings"
	"testing"
	"time"

	"github.com/wod-dev/wod"
)

func TestRenderWaiting(t *testing.T) {
	r := newRenderer(t, fullBranding(), "")
	d := sampleData(wod.MailWaiting)
	d.Now = time.Date(2026, time.March, 2, 9, 0, 0, 0, time.UTC)
	d.EstimatedAt = d.Now.Add(42 * time.Minute)
	subject, text, body := render(t, r, d)
	if !strings.Contains(subject, "you are in the line for Sample workshop") {
		t.Errorf("subject = %q", subject)
	}
	for _, want := range []string{"number 2", "Mon 2 Mar 09:42 UTC", "in about 40 minutes", "within 2 hours", d.StatusURL, "leave it"} {
		if !strings.Contains(text, want) {
			t.Errorf("text lacks %q:\n%s", want, text)
		}
	}
	for _, want := range []string{"<strong>number 2</strong>", "Mon 2 Mar 09:42 UTC", `href="` + d.StatusURL + `"`} {
		if !strings.Contains(body, want) {
			t.Errorf("HTML lacks %q:\n%s", want, body)
		}
	}
	// Without an estimate the mail promises no time.
	d.EstimatedAt = time.Time{}
	if _, text, _ = render(t, r, d); strings.Contains(text, "We expect") {
		t.Errorf("text gives an estimate it does not have:\n%s", text)
	}
}

func TestRenderWaitExpired(t *testing.T) {
	r := newRenderer(t, fullBranding(), "")
	d := sampleData(wod.MailWaitExpired)
	d.WorkshopClosed = false
	_, text, body := render(t, r, d)
	for _, want := range []string{"no seat of the workshop \"Sample workshop\" came free within 2 hours", "free to register again", fullBranding().PortalURL} {
		if !strings.Contains(text, want) {
			t.Errorf("text lacks %q:\n%s", want, text)
		}
	}
	if !strings.Contains(body, "came free within 2 hours") {
		t.Errorf("HTML lacks the wait:\n%s", body)
	}
	d.WorkshopClosed = true
	if _, text, _ = render(t, r, d); !strings.Contains(text, "is no longer open") || strings.Contains(text, "within 2 hours") {
		t.Errorf("a closed workshop's mail should say it closed:\n%s", text)
	}
}

func TestRenderCredentialsFromTheLine(t *testing.T) {
	r := newRenderer(t, fullBranding(), "")
	d := sampleData(wod.MailCredentials)
	d.FromLine = true
	subject, text, body := render(t, r, d)
	if !strings.Contains(subject, "your seat is ready") {
		t.Errorf("subject = %q", subject)
	}
	for _, out := range []string{text, body} {
		if !strings.Contains(out, "Your seat is ready!") || !strings.Contains(out, "{{wod:password}}") {
			t.Errorf("credentials from the line should say the seat is ready and carry the credentials:\n%s", out)
		}
	}
	if _, text, _ = render(t, r, sampleData(wod.MailCredentials)); strings.Contains(text, "seat is ready") {
		t.Errorf("ordinary credentials speak of a line:\n%s", text)
	}
}
