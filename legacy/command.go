// Package legacy lets the original Workshops-on-Demand drive a wod agent:
// its api-db sends "command mails" (CREATE, CLEANUP, RESET, PURGE) to the
// backend's SMTP port and expects the backend to report through its REST
// API. The intake accepts those mails, keeps them in a spool on disk, and a
// Bridge hands them to the agent's Runner as jobs and reports the outcomes
// to the api-db, so a site can replace the original backend first and the
// rest of the original later. The participant mails the api-db sends the
// same way (without SendGrid) go to a Relay, the site's SMTP relay's
// outbox.
package legacy

import (
	"bytes"
	"fmt"
	"mime"
	"regexp"
	"strconv"
	"strings"

	"github.com/wod-dev/wod"
)

// Verb is what a command mail asks for.
type Verb string

// The verbs of the original's procmail recipes.
const (
	Create  Verb = "CREATE"
	Cleanup Verb = "CLEANUP"
	Reset   Verb = "RESET"
	Purge   Verb = "PURGE"
)

// Kind is the agent operation of the verb.
func (v Verb) Kind() wod.JobKind {
	switch v {
	case Create:
		return wod.JobCreate
	case Cleanup:
		return wod.JobCleanup
	case Reset:
		return wod.JobReset
	default:
		return wod.JobPurge
	}
}

// Command is one command mail, for one student.
type Command struct {
	Verb Verb `json:"verb"`
	// Student is the local student number on this backend (studentN).
	Student int `json:"student"`
	// Customer is the api-db's customer (registration) id; 0 (as the
	// original's test helper sends) reports nothing about a customer.
	Customer int64 `json:"customer"`
	// Notebook is the workshop folder, WKSHP-… or, for a challenge, CHLG-….
	Notebook string `json:"notebook,omitempty"`
}

// Workshop is the content folder of the notebook: a challenge reuses its
// workshop's content.
func (c Command) Workshop() string {
	return strings.Replace(c.Notebook, "CHLG", "WKSHP", 1)
}

// SessionType is challenge for a CHLG notebook (the original's MODEWS).
func (c Command) SessionType() wod.SessionType {
	if strings.Contains(c.Notebook, "CHLG") {
		return wod.SessionChallenge
	}
	return wod.SessionWorkshop
}

var (
	// "CREATE 12 345 ann@example.org", "CLEANUP 12 345", "RESET 1,20 345".
	subjectRE  = regexp.MustCompile(`^(CREATE|CLEANUP|RESET|PURGE)\s+([0-9]+)(?:,([0-9]+))?\s+([0-9]+)(?:\s+(\S+))?$`)
	notebookRE = regexp.MustCompile(`^(WKSHP|CHLG)-[A-Za-z0-9][A-Za-z0-9_.-]*$`)
	headerRE   = regexp.MustCompile(`^[!-9;-~]+:`)
)

// MaxRange bounds the students of one RESET range.
const MaxRange = wod.MaxStudentsPerLocation

// ParseMessage reads the commands of a command mail: one, or one per
// student of a RESET range (the original's OneView case). It takes the
// original's mails as they are sent: LF line ends and no blank line
// between the Subject header and the body, whose first line is the
// notebook.
func ParseMessage(raw []byte) ([]Command, error) {
	subject, lines := splitMessage(raw)
	if subject == "" {
		return nil, fmt.Errorf("no Subject: a command mail's subject is CREATE|CLEANUP|RESET|PURGE <student> <customer>")
	}
	m := subjectRE.FindStringSubmatch(strings.Join(strings.Fields(subject), " "))
	if m == nil {
		return nil, fmt.Errorf("subject %q: want CREATE|CLEANUP|RESET|PURGE <student> <customer> (RESET may name <first>,<last>)", truncate(subject, 80))
	}
	verb := Verb(m[1])
	first, err1 := strconv.Atoi(m[2])
	last := first
	var err2 error
	if m[3] != "" {
		last, err2 = strconv.Atoi(m[3])
		if verb != Reset {
			return nil, fmt.Errorf("subject %q: only RESET takes a range of students", truncate(subject, 80))
		}
	}
	customer, err3 := strconv.ParseInt(m[4], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || first < 1 || last < first || last-first >= MaxRange {
		return nil, fmt.Errorf("subject %q: student numbers start at 1, a range at most %d long", truncate(subject, 80), MaxRange)
	}
	var notebook string
	for _, l := range lines {
		if l = strings.TrimSpace(l); l != "" && l != "." {
			notebook = l
			break
		}
	}
	switch {
	case notebook == "" && verb != Purge:
		return nil, fmt.Errorf("%s: the body names no notebook (its first line is the workshop folder, e.g. WKSHP-API101)", verb)
	case notebook != "" && !notebookRE.MatchString(notebook):
		return nil, fmt.Errorf("%s: %q is not a workshop folder (WKSHP-… or CHLG-…)", verb, truncate(notebook, 80))
	}
	// Counted, not "s <= last": a range ending at the largest int would
	// wrap around and never end.
	cmds := make([]Command, 0, last-first+1)
	for k := range last - first + 1 {
		cmds = append(cmds, Command{Verb: verb, Student: first + k, Customer: customer, Notebook: notebook})
	}
	return cmds, nil
}

// splitMessage reads a mail as the original api-db writes it: LF line
// ends and, often, no blank line between the headers and the body (its
// first line that is not a header starts the body, as Postfix reads it).
// It returns the Subject, decoded, and the body's lines.
func splitMessage(raw []byte) (subject string, body []string) {
	text := strings.ReplaceAll(string(raw), "\r\n", "\n")
	lines := strings.Split(text, "\n")
	var headers []string
	i := 0
	for ; i < len(lines); i++ {
		l := lines[i]
		if l == "" {
			i++
			break
		}
		if (l[0] == ' ' || l[0] == '\t') && len(headers) > 0 {
			headers[len(headers)-1] += " " + strings.TrimSpace(l)
			continue
		}
		if !headerRE.MatchString(l) {
			break // the original writes the body right after the Subject
		}
		headers = append(headers, l)
	}
	for _, h := range headers {
		name, value, _ := strings.Cut(h, ":")
		if strings.EqualFold(name, "Subject") {
			subject = strings.TrimSpace(value)
			if d, err := new(mime.WordDecoder).DecodeHeader(subject); err == nil {
				subject = d
			}
		}
	}
	return subject, lines[i:]
}

// lfTerminated reports whether data ends with the original's end of data,
// "\n.\n", which an SMTP server waiting for "\r\n.\r\n" reads past.
func lfTerminated(data []byte) bool {
	return bytes.HasSuffix(data, []byte("\n.\n")) || bytes.Equal(data, []byte(".\n"))
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
