// Package mail renders the platform's mails (to participants and operators)
// from templates, and sends them through a Transport: SMTP, or Keep, which
// sends nothing and leaves mails in the outbox for operators to read.
//
// The outbox table and the dispatcher that picks due mails and retries them
// live in the store and the engine; this package only turns Data into a
// subject, a text and an HTML body, and a Message into a delivery attempt.
//
// # Templates
//
// Each kind of mail (see Kinds) has three templates, embedded from
// templates/: <kind>.subject.tmpl and <kind>.txt.tmpl (text/template) and
// <kind>.html.tmpl (html/template). Text bodies are parsed together with
// layout.txt.tmpl, which defines "greeting", "footer", "credentials" and
// "links"; an HTML body file defines "heading", "content" and optionally
// "action" (a button below the content), and is drawn by layout.html.tmpl,
// which also defines "button" (called as {{template "button" (button URL
// "Label")}}; nothing is drawn without a URL), "credentials-table" and
// "status-links".
//
// Templates see the fields of Data, the Branding as .Brand, and values
// computed from them: .WorkshopName, .DurationText, .EndsAtText, .Remaining,
// .AlertSummary, .SupportAddr, .SupportMailto, .BadgeImageURL, .NextBadge,
// .ToNext and .Color (see view). A file of the same name in the override
// directory replaces an embedded template; NewRenderer renders every kind
// with full and with empty sample data, so a broken override stops the
// server at startup.
package mail

import (
	"bytes"
	"fmt"
	htmltemplate "html/template"
	"strings"
	texttemplate "text/template"
	"time"
	"unicode"

	"github.com/wod-dev/wod"
)

// Data is everything a mail may mention. Every field but Kind is optional:
// templates leave out what is missing.
type Data struct {
	Kind       wod.MailKind
	To         string // recipient address
	Name       string // participant's name (or operator for alerts)
	Workshop   string // slug
	Title      string // workshop title
	Duration   time.Duration
	ReplayLink string
	Username   string // studentN
	// Password is rendered verbatim, so that a placeholder the dispatcher
	// replaces at sending time survives rendering (in HTML too, as long as
	// it is made of letters, digits, braces and colons).
	Password  string
	LoginURL  string // hub login page
	LaunchURL string // direct link to start the workshop
	StatusURL string // participant's status page (signed link)
	EndNowURL string // signed link that ends the session early
	// ExtendURL (reminder) is the signed link that adds ExtendBy to the
	// session, when the participant may still do so (empty otherwise).
	ExtendURL string
	ExtendBy  time.Duration
	// Extended (extended) is how much time an operator added.
	Extended time.Duration
	EndsAt   time.Time
	// Now is when the mail is composed; with EndsAt it gives the time left
	// that the reminder announces (zero: the reminder says "soon").
	Now        time.Time
	Completion *int // goodbye: percent of code cells run
	// NotebooksURL (goodbye) downloads the participant's notebooks until
	// NotebooksUntil.
	NotebooksURL   string
	NotebooksUntil time.Time
	Badge          *wod.Badge // badge mail, and goodbye when a badge was just earned
	Finished       int        // badge mail: how many workshops finished
	Alert          string     // operator alert: what happened (multi-line text)
	// FromLine (credentials): the seat came from the waiting line, so the
	// mail says "your seat is ready".
	FromLine bool
	// Place (waiting) is the participant's place in the line (1: next),
	// EstimatedAt when a seat is expected (zero: unknown).
	Place       int
	EstimatedAt time.Time
	// WaitMax (waiting, wait-expired) is how long one waits at most.
	WaitMax time.Duration
	// WorkshopClosed (wait-expired): the wait ended because the workshop
	// stopped taking participants, not because it lasted too long.
	WorkshopClosed bool
}

// Kinds returns the kinds of mail the renderer knows, in lifecycle order.
func Kinds() []wod.MailKind {
	return []wod.MailKind{wod.MailWelcome, wod.MailWaiting, wod.MailWaitExpired, wod.MailCredentials,
		wod.MailReminder, wod.MailExtended, wod.MailGoodbye, wod.MailApology, wod.MailAlert, wod.MailBadge}
}

// Renderer renders mails from its templates. It is safe for concurrent use:
// templates are only executed after NewRenderer.
type Renderer struct {
	brand Branding
	sets  map[wod.MailKind]*templateSet
}

// templateSet holds the three templates of one kind of mail.
type templateSet struct {
	subject *texttemplate.Template
	text    *texttemplate.Template
	html    *htmltemplate.Template
}

// NewRenderer checks the branding, loads the embedded templates and the
// overrides found in overrideDir (if not empty), and renders every kind with
// sample data, so that a broken template fails at startup rather than when a
// participant waits for their credentials.
func NewRenderer(b Branding, overrideDir string) (*Renderer, error) {
	b, err := checkBranding(b)
	if err != nil {
		return nil, err
	}
	srcs, err := loadSources(overrideDir)
	if err != nil {
		return nil, err
	}
	r := &Renderer{brand: b, sets: make(map[wod.MailKind]*templateSet)}
	funcs := r.funcs()
	for _, k := range Kinds() {
		set, err := parseSet(k, srcs, funcs)
		if err != nil {
			return nil, err
		}
		r.sets[k] = set
	}
	if err := r.selfTest(); err != nil {
		return nil, err
	}
	return r, nil
}

// Render returns the subject (one line), the plain-text body and the HTML
// body of the mail d describes.
func (r *Renderer) Render(d Data) (subject, text, html string, err error) {
	set, ok := r.sets[d.Kind]
	if !ok {
		return "", "", "", fmt.Errorf("render mail: unknown kind %q", d.Kind)
	}
	v := r.view(d)
	var buf bytes.Buffer
	if err := set.subject.Execute(&buf, v); err != nil {
		return "", "", "", fmt.Errorf("render %s mail subject: %w", d.Kind, err)
	}
	subject = OneLine(buf.String())
	buf.Reset()
	if err := set.text.Execute(&buf, v); err != nil {
		return "", "", "", fmt.Errorf("render %s mail text: %w", d.Kind, err)
	}
	text = tidyText(buf.String())
	buf.Reset()
	if err := set.html.Execute(&buf, v); err != nil {
		return "", "", "", fmt.Errorf("render %s mail HTML: %w", d.Kind, err)
	}
	return subject, text, buf.String(), nil
}

// OneLine folds s into a single line: every run of white space or control
// characters becomes one space. A subject must never carry a CR or LF, or a
// workshop title could inject headers.
func OneLine(s string) string {
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r)
	}), " ")
}

// tidyText normalises line ends, drops the blank lines that template
// conditionals leave behind (at most one blank line in a row) and ends the
// text with exactly one newline.
func tidyText(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	lines := strings.Split(s, "\n")
	out := make([]string, 0, len(lines))
	blank := true // drops leading blank lines
	for _, l := range lines {
		if strings.TrimSpace(l) == "" {
			if !blank {
				out = append(out, "")
			}
			blank = true
			continue
		}
		out = append(out, l)
		blank = false
	}
	return strings.TrimRight(strings.Join(out, "\n"), "\n") + "\n"
}
