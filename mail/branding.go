package mail

import (
	"errors"
	"fmt"
	"net/mail"
	"net/url"
	"regexp"
)

// Branding comes from configuration, like the original's BRANDING* values.
type Branding struct {
	Name        string // BRANDINGWOD, e.g. "WoD Developer"; used in subjects and headings (default "WoD")
	URL         string // BRANDINGURL, the organiser's site
	LogoURL     string // absolute URL of a logo image (empty: no logo)
	Slack       string // optional community link (BRANDINGSLACK)
	X           string // optional X/Twitter link (BRANDINGX)
	From        string // sender address, e.g. "Workshops <wod@example.com>"
	Support     string // address participants may write to, shown in the footer (empty: From's address)
	PortalURL   string // the catalogue, for "register for another workshop"
	FeedbackURL string // survey link in the goodbye mail (empty: no button)
	// BadgeBaseURL is where badge images (wod.Badge.Image) are served, e.g.
	// "https://wod.example.com/img/badges" (empty: badges are named, not shown).
	BadgeBaseURL string
	Color        string // button colour, "#rgb" or "#rrggbb" (default "#01A982")
}

// DefaultColor is the original's button colour.
const DefaultColor = "#01A982"

var colorRE = regexp.MustCompile(`^#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$`)

// checkBranding fills the defaults in and refuses values that would make
// broken mails: links must be absolute http(s) URLs (mail clients have no
// base URL), addresses must parse, and the colour goes into style
// attributes, so only a hex colour is accepted.
func checkBranding(b Branding) (Branding, error) {
	b.Name = OneLine(b.Name)
	if b.Name == "" {
		b.Name = "WoD"
	}
	if b.Color == "" {
		b.Color = DefaultColor
	}
	var errs []error
	if !colorRE.MatchString(b.Color) {
		errs = append(errs, fmt.Errorf("branding color %q: want #rgb or #rrggbb", b.Color))
	}
	for _, f := range []struct{ name, value string }{
		{"url", b.URL}, {"logo URL", b.LogoURL}, {"Slack link", b.Slack}, {"X link", b.X},
		{"portal URL", b.PortalURL}, {"feedback URL", b.FeedbackURL}, {"badge base URL", b.BadgeBaseURL},
	} {
		if f.value == "" {
			continue
		}
		u, err := url.Parse(f.value)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("branding %s %q: want an absolute http:// or https:// URL", f.name, f.value))
		}
	}
	if b.From != "" {
		if _, err := mail.ParseAddress(b.From); err != nil {
			errs = append(errs, fmt.Errorf("branding sender address %q: %w", b.From, err))
		}
	}
	if b.Support != "" {
		if a, err := mail.ParseAddress(b.Support); err != nil {
			errs = append(errs, fmt.Errorf("branding support address %q: %w", b.Support, err))
		} else {
			b.Support = a.Address // the footer shows a bare address
		}
	}
	return b, errors.Join(errs...)
}
