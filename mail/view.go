package mail

import (
	htmltemplate "html/template"
	"net/mail"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/wod-dev/wod"
)

// view is what templates see: the Data (its fields promoted), the Branding
// as .Brand, and values computed once here so that templates stay free of
// arithmetic and every optional value is either present or empty.
type view struct {
	Data
	Brand Branding

	// WorkshopName is the title, else the slug, else empty.
	WorkshopName string
	// DurationText is the session length in words ("4 hours"), or empty.
	DurationText string
	// EndsAtText is EndsAt as "Mon 2 Jan 15:04 UTC", or empty.
	EndsAtText string
	// NotebooksUntilText is NotebooksUntil as "Mon 2 Jan", or empty.
	NotebooksUntilText string
	// Remaining is the time left until EndsAt, rounded ("one hour",
	// "45 minutes"), or empty when unknown or over.
	Remaining string
	// AlertSummary is the first non-blank line of Alert.
	AlertSummary string
	// SupportAddr is Brand.Support, else the address of Brand.From.
	SupportAddr string
	// SupportMailto is a mailto: link to SupportAddr, or empty.
	SupportMailto htmltemplate.URL
	// BadgeImageURL is the image of Badge under Brand.BadgeBaseURL, or empty.
	BadgeImageURL string
	// NextBadge is the level after Finished workshops, with ToNext the
	// number of workshops still needed; nil at the last level.
	NextBadge *wod.Badge
	ToNext    int
	// EstimatedText is EstimatedAt as "Mon 2 Jan 15:04 UTC", and
	// EstimatedIn the time until then in words; both empty when unknown.
	EstimatedText, EstimatedIn string
	// WaitMaxText is WaitMax in words, or empty.
	WaitMaxText string
	// ExtendByText and ExtendedText are ExtendBy and Extended in words,
	// or empty.
	ExtendByText, ExtendedText string
	// Color is Brand.Color, checked at NewRenderer, for style attributes.
	Color htmltemplate.CSS
}

// button is what the layout's "button" template draws.
type button struct {
	URL   string
	Label string
	Color htmltemplate.CSS
}

func (r *Renderer) funcs() map[string]any {
	return map[string]any{
		// button makes the argument of {{template "button" (button URL "Label")}}.
		"button": func(url, label string) button {
			return button{URL: url, Label: label, Color: htmltemplate.CSS(r.brand.Color)}
		},
	}
}

func (r *Renderer) view(d Data) view {
	v := view{Data: d, Brand: r.brand, Color: htmltemplate.CSS(r.brand.Color)}
	v.WorkshopName = strings.TrimSpace(d.Title)
	if v.WorkshopName == "" {
		v.WorkshopName = strings.TrimSpace(d.Workshop)
	}
	v.DurationText = humanDuration(d.Duration)
	if !d.EndsAt.IsZero() {
		v.EndsAtText = d.EndsAt.UTC().Format("Mon 2 Jan 15:04 UTC")
		if !d.Now.IsZero() {
			v.Remaining = humanDuration(roundRemaining(d.EndsAt.Sub(d.Now)))
		}
	}
	if !d.EstimatedAt.IsZero() {
		v.EstimatedText = d.EstimatedAt.UTC().Format("Mon 2 Jan 15:04 UTC")
		if !d.Now.IsZero() {
			v.EstimatedIn = humanDuration(roundRemaining(d.EstimatedAt.Sub(d.Now)))
		}
	}
	v.WaitMaxText = humanDuration(d.WaitMax)
	v.ExtendByText, v.ExtendedText = humanDuration(d.ExtendBy), humanDuration(d.Extended)
	if d.NotebooksURL != "" && !d.NotebooksUntil.IsZero() {
		v.NotebooksUntilText = d.NotebooksUntil.UTC().Format("Mon 2 Jan")
	}
	for _, l := range strings.Split(d.Alert, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			v.AlertSummary = l
			break
		}
	}
	v.SupportAddr = r.brand.Support
	if v.SupportAddr == "" && r.brand.From != "" {
		if a, err := mail.ParseAddress(r.brand.From); err == nil {
			v.SupportAddr = a.Address
		}
	}
	if v.SupportAddr != "" {
		// Built here rather than in the template: html/template would
		// percent-encode the '@' of an address inserted after "mailto:".
		v.SupportMailto = htmltemplate.URL((&url.URL{Scheme: "mailto", Opaque: v.SupportAddr}).String())
	}
	if d.Badge != nil && d.Badge.Image != "" && r.brand.BadgeBaseURL != "" {
		v.BadgeImageURL = strings.TrimSuffix(r.brand.BadgeBaseURL, "/") + "/" + url.PathEscape(d.Badge.Image)
	}
	for i := range wod.Badges {
		if wod.Badges[i].Workshops > d.Finished {
			b := wod.Badges[i]
			v.NextBadge, v.ToNext = &b, b.Workshops-d.Finished
			break
		}
	}
	return v
}

// roundRemaining rounds the time left to what a person would say: to the
// minute under ten minutes, to five minutes under the hour, to the quarter
// hour above. Nothing left (or less than a minute) gives 0.
func roundRemaining(d time.Duration) time.Duration {
	switch {
	case d < 30*time.Second:
		return 0
	case d < 10*time.Minute:
		return d.Round(time.Minute)
	case d < 55*time.Minute:
		return d.Round(5 * time.Minute)
	default:
		return d.Round(15 * time.Minute)
	}
}

// humanDuration says d in hours and minutes ("one hour", "2 hours and 30
// minutes", "45 minutes"), rounded to the minute; empty when under a minute.
func humanDuration(d time.Duration) string {
	m := int(d.Round(time.Minute) / time.Minute)
	if m <= 0 {
		return ""
	}
	h, m := m/60, m%60
	var parts []string
	if h > 0 {
		parts = append(parts, count(h, "hour"))
	}
	if m > 0 {
		parts = append(parts, count(m, "minute"))
	}
	return strings.Join(parts, " and ")
}

func count(n int, unit string) string {
	if n == 1 {
		return "one " + unit
	}
	return strconv.Itoa(n) + " " + unit + "s"
}
