package mail

import (
	"fmt"
	"strings"
	"time"

	"github.com/wod-dev/wod"
)

// sampleData is a mail of kind k with every value set, for the startup test
// render: a template that refers to a field that does not exist fails here.
func sampleData(k wod.MailKind) Data {
	now := time.Date(2026, time.March, 2, 9, 0, 0, 0, time.UTC)
	completion := 85
	badge := wod.Badges[0]
	return Data{
		Kind:           k,
		To:             "ann.smith@example.com",
		Name:           "Ann Smith",
		Workshop:       "WKSHP-Sample101",
		Title:          "Sample workshop",
		Duration:       4 * time.Hour,
		ReplayLink:     "https://example.com/replays/1",
		Username:       "student1",
		Password:       "{{wod:password}}",
		LoginURL:       "https://hub.example.com/hub/login",
		LaunchURL:      "https://hub.example.com/hub/login?next=%2Fhub%2Fuser%2Fstudent1%2F",
		StatusURL:      "https://wod.example.com/status/sample",
		EndNowURL:      "https://wod.example.com/status/sample/end",
		ExtendURL:      "https://wod.example.com/status/sample/extend",
		ExtendBy:       30 * time.Minute,
		Extended:       time.Hour,
		EndsAt:         now.Add(4 * time.Hour),
		Now:            now.Add(3 * time.Hour),
		Completion:     &completion,
		Badge:          &badge,
		Finished:       badge.Workshops,
		Alert:          "Sample alert: the agent of location local did not answer\nsecond line of details",
		Place:          2,
		EstimatedAt:    now.Add(40 * time.Minute),
		WaitMax:        2 * time.Hour,
		WorkshopClosed: true,
	}
}

// selfTest renders every kind with full and with minimal sample data. Any
// template error shows here, at startup, as do values printed without a
// guard ("<no value>", "<nil>"), and empty subjects.
func (r *Renderer) selfTest() error {
	for _, k := range Kinds() {
		for _, sample := range []struct {
			name string
			data Data
		}{{"full", sampleData(k)}, {"minimal", Data{Kind: k}}, {"from the line", fromLine(sampleData(k))}} {
			subject, text, html, err := r.Render(sample.data)
			if err != nil {
				return fmt.Errorf("mail templates: test render with %s sample data: %w", sample.name, err)
			}
			if subject == "" {
				return fmt.Errorf("mail templates: %s mail: the subject renders empty", k)
			}
			for part, out := range map[string]string{"subject": subject, "text": text, "HTML": html} {
				for _, bad := range []string{"<no value>", "<nil>", "&lt;no value&gt;", "&lt;nil&gt;"} {
					if strings.Contains(out, bad) {
						return fmt.Errorf("mail templates: %s mail %s with %s sample data prints %q: guard the optional value with {{if}}",
							k, part, sample.name, bad)
					}
				}
			}
		}
	}
	return nil
}

// fromLine is d for a participant whose seat came from the waiting line.
func fromLine(d Data) Data {
	d.FromLine = true
	return d
}
