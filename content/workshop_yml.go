package content

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/wod-dev/wod"
)

// defaultDuration is what the original assumes when wod.yml has no duration.
const defaultDuration = wod.Duration(4 * time.Hour)

// ParseWorkshop parses one wod.yml. The path is used in error messages only;
// slug is the name of the workshop's folder. Every problem of the file is
// reported in one EINVALID *wod.Error whose Fields are "<path>: <key>" with
// the problem as Message. ContentDir is left for the caller to set.
func ParseWorkshop(path, slug string, data []byte) (*wod.Workshop, error) {
	var p problems
	w := parseWorkshop(path, slug, data, &p)
	if err := p.err(); err != nil {
		return nil, err
	}
	return w, nil
}

// parseWorkshop records the problems of the file in p and returns nil when
// there is any.
func parseWorkshop(path, slug string, data []byte, p *problems) *wod.Workshop {
	before := p.len()
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		// yaml's message already says "line N: …".
		p.add(path, "", "is not valid YAML: %s", strings.TrimPrefix(err.Error(), "yaml: "))
		return nil
	}
	if len(doc.Content) == 0 || isNull(doc.Content[0]) {
		p.add(path, "", "is empty")
		return nil
	}
	root := resolve(doc.Content[0])
	if root.Kind != yaml.MappingNode {
		p.add(path, "", "must be a mapping of keys such as name: and range:, not %s", kindName(root))
		return nil
	}

	d := ymlDecoder{path: path, p: p, w: &wod.Workshop{
		Slug:        slug,
		Duration:    defaultDuration,
		Appliance:   wod.ApplianceNone,
		SessionType: wod.SessionWorkshop,
	}}
	seen := make(map[string]int) // key → line, to catch a key given twice
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], resolve(root.Content[i+1])
		if k.Kind != yaml.ScalarNode {
			p.add(path, fmt.Sprintf("line %d", k.Line), "keys must be plain names")
			continue
		}
		if line, dup := seen[k.Value]; dup {
			p.add(path, k.Value, "is given twice (lines %d and %d)", line, k.Line)
			continue
		}
		seen[k.Value] = k.Line
		d.set(k.Value, v)
	}
	d.finish()

	w := d.w
	var invalid *wod.Error
	if err := w.Validate(); errors.As(err, &invalid) {
		for _, f := range invalid.Fields {
			if f.Field == "slug" {
				p.add(filepath.Dir(path), "", "folder name %s", f.Message)
				continue
			}
			key := ymlKey(f.Field)
			if !p.has(path, key) { // the key's own problem says it better
				p.add(path, key, "%s", f.Message)
			}
		}
	} else if err != nil {
		p.add(path, "", "%v", err)
	}
	if p.len() > before {
		return nil
	}
	return w
}

// ymlDecoder turns the keys of one wod.yml into a workshop, recording problems.
type ymlDecoder struct {
	path string
	p    *problems
	w    *wod.Workshop

	hasRange, hasCapacity bool
	mono, multi           bool
}

func (d *ymlDecoder) fail(key, format string, args ...any) {
	d.p.add(d.path, key, format, args...)
}

// set decodes the value of one key.
func (d *ymlDecoder) set(key string, n *yaml.Node) {
	w := d.w
	switch key {
	case "name":
		w.Title = d.text(key, n)
	case "description":
		w.Description = d.text(key, n)
	case "active":
		w.Active = d.bool(key, n)
	case "capacity":
		d.hasCapacity = true
		w.Capacity = d.int(key, n)
		if w.Capacity < 0 {
			d.fail(key, "must not be negative, not %d", w.Capacity)
		}
	case "priority":
		w.Priority = d.int(key, n)
	case "range":
		w.SeatMin, w.SeatMax, d.hasRange = d.seatRange(key, n)
	case "reset":
		w.Reset = d.bool(key, n)
	case "ldap":
		w.LDAP = d.bool(key, n)
	case "replayId":
		w.ReplayID = d.int(key, n)
	case "varpass":
		w.VarPass = d.bool(key, n)
	case "compile":
		w.Compile = d.compile(key, n)
	case "workshopImg":
		w.Image = d.text(key, n)
	case "badgeImg":
		w.BadgeImage = d.text(key, n)
	case "beta":
		w.Beta = d.bool(key, n)
	case "category":
		w.Categories = d.categories(key, n)
	case "duration":
		w.Duration = d.duration(key, n)
	case "presenter":
		w.Presenter = d.text(key, n)
	case "role":
		w.PresenterRole = d.text(key, n)
	case "avatar":
		w.Avatar = d.text(key, n)
	case "replayLink":
		w.ReplayLink = d.text(key, n)
	case "preRequisite":
		w.Prerequisite = d.text(key, n)
	case "monoappliance":
		d.mono = d.bool(key, n)
	case "multiappliance":
		d.multi = d.bool(key, n)
	case "sessionType":
		w.SessionType = d.sessionType(key, n)
	case "memory":
		w.Limits.Memory = d.size(key, n)
	case "disk":
		w.Limits.Disk = d.size(key, n)
	case "cpus":
		w.Limits.CPUs = d.cpus(key, n)
	case "tasks":
		w.Limits.Tasks = d.int(key, n)
	case "warm":
		w.Warm = d.warm(key, n)
	case "extend":
		w.Extend = d.extend(key, n)
	case "opens":
		w.Opens = d.date(key, n)
	case "closes":
		w.Closes = d.date(key, n)
	case "notebook", "location", "alternateLocation", "sessionId":
		// The original's seeder writes these into its table, so copies of
		// its rows carry them; here the folder names the workshop and the
		// operator places it at a location, so they are ignored.
	default:
		msg := "is not a wod.yml key"
		if s := suggestKey(key); s != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", s)
		}
		d.fail(key, "%s", msg)
	}
}

// finish applies the rules that need more than one key.
func (d *ymlDecoder) finish() {
	if !d.hasRange && !d.p.has(d.path, "range") {
		d.fail("range", "is required, such as [1,20]: the student numbers the workshop may use")
	}
	if !d.hasCapacity && d.hasRange {
		// The original's files always give a capacity; when one does not,
		// the workshop can hold as many participants as it has seats.
		d.w.Capacity = d.w.SeatMax - d.w.SeatMin + 1
	}
	switch {
	case d.mono && d.multi:
		d.fail("multiappliance", "is true together with monoappliance: a workshop uses one appliance or several, not both")
	case d.mono:
		d.w.Appliance = wod.ApplianceMono
	case d.multi:
		d.w.Appliance = wod.ApplianceMulti
	}
}

// text reads a scalar as a string; null is the empty string.
func (d *ymlDecoder) text(key string, n *yaml.Node) string {
	if isNull(n) {
		return ""
	}
	if n.Kind != yaml.ScalarNode {
		d.fail(key, "must be a text, not %s", kindName(n))
		return ""
	}
	return strings.TrimSpace(n.Value)
}

// bool reads a YAML boolean, or the quoted text "true" or "false" that
// hand-edited files sometimes hold. Anything else (yes, 1, on) is a mistake
// rather than a guess to make.
func (d *ymlDecoder) bool(key string, n *yaml.Node) bool {
	if n.Kind == yaml.ScalarNode {
		switch n.ShortTag() {
		case "!!bool":
			var b bool
			if err := n.Decode(&b); err == nil {
				return b
			}
		case "!!str":
			switch strings.ToLower(strings.TrimSpace(n.Value)) {
			case "true":
				return true
			case "false":
				return false
			}
		}
	}
	d.fail(key, "must be true or false, not %s", show(n))
	return false
}

// int reads a whole number, quoted or not.
// warm reads the warm pool's size: a number of seats or auto.
func (d *ymlDecoder) warm(key string, n *yaml.Node) wod.WarmPool {
	if n.Kind == yaml.ScalarNode {
		if p, err := wod.ParseWarmPool(n.Value); err == nil {
			return p
		}
	}
	d.fail(key, "must be auto or a number of seats from 0 to %d, not %s", wod.MaxWarm, show(n))
	return 0
}

func (d *ymlDecoder) int(key string, n *yaml.Node) int {
	if n.Kind == yaml.ScalarNode {
		switch n.ShortTag() {
		case "!!int":
			var i int
			if err := n.Decode(&i); err == nil {
				return i
			}
		case "!!str":
			if i, err := strconv.Atoi(strings.TrimSpace(n.Value)); err == nil {
				return i
			}
		}
	}
	d.fail(key, "must be a whole number, not %s", show(n))
	return 0
}

// size reads a size such as 2G or 512M, or a number of bytes (see
// wod.ParseSize); null is unset (the site's default).
func (d *ymlDecoder) size(key string, n *yaml.Node) int64 {
	if isNull(n) {
		return 0
	}
	if n.Kind == yaml.ScalarNode {
		switch n.ShortTag() {
		case "!!int", "!!str":
			v, err := wod.ParseSize(n.Value)
			if err == nil {
				return v
			}
			d.fail(key, "%v", err)
			return 0
		}
	}
	d.fail(key, "must be a size such as 512M or 2G (K, M, G, T are powers of 1024), not %s", show(n))
	return 0
}

// cpus reads a number of cores, whole or not (1, 0.5, "1.5"); null is
// unset (the site's default).
func (d *ymlDecoder) cpus(key string, n *yaml.Node) float64 {
	if isNull(n) {
		return 0
	}
	if n.Kind == yaml.ScalarNode {
		switch n.ShortTag() {
		case "!!int", "!!float", "!!str":
			if v, err := strconv.ParseFloat(strings.TrimSpace(n.Value), 64); err == nil && !math.IsNaN(v) && !math.IsInf(v, 0) {
				return v
			}
		}
	}
	d.fail(key, "must be a number of cores such as 1 or 0.5, not %s", show(n))
	return 0
}

// seatRange reads [a,b], the original's dash form [a-b] (which YAML reads as
// a list of the one text "a-b"), or the text "a-b" or "a,b".
func (d *ymlDecoder) seatRange(key string, n *yaml.Node) (lo, hi int, ok bool) {
	var a, b string
	var split bool
	switch {
	case n.Kind == yaml.SequenceNode && len(n.Content) == 2 && isScalar(n.Content[0]) && isScalar(n.Content[1]):
		a, b, split = n.Content[0].Value, n.Content[1].Value, true
	case n.Kind == yaml.SequenceNode && len(n.Content) == 1 && isScalar(n.Content[0]):
		a, b, split = strings.Cut(n.Content[0].Value, "-")
	case isScalar(n):
		s := strings.Trim(strings.TrimSpace(n.Value), "[]")
		if strings.Contains(s, ",") {
			a, b, split = strings.Cut(s, ",")
		} else {
			a, b, split = strings.Cut(s, "-")
		}
	}
	lo, errLo := strconv.Atoi(strings.TrimSpace(a))
	hi, errHi := strconv.Atoi(strings.TrimSpace(b))
	switch {
	case !split || errLo != nil || errHi != nil:
		d.fail(key, "%s is not a range such as [1,6] or [1981-1985]", show(n))
	case lo < 1:
		d.fail(key, "%s must start at 1 or above (student numbers start at 1)", show(n))
	case hi < lo:
		d.fail(key, "%s has its end below its start", show(n))
	default:
		return lo, hi, true
	}
	return 0, 0, false
}

// duration reads a number of hours or a Go duration such as "90s"; null
// keeps the default.
func (d *ymlDecoder) duration(key string, n *yaml.Node) wod.Duration {
	if isNull(n) {
		return defaultDuration
	}
	if n.Kind == yaml.ScalarNode {
		switch n.ShortTag() {
		case "!!int", "!!float", "!!str":
			v, err := wod.ParseDuration(n.Value)
			if err != nil {
				d.fail(key, "%v", err)
				return 0
			}
			return v
		}
	}
	d.fail(key, "must be a number of hours or a duration such as 90s or 2h30m, not %s", show(n))
	return 0
}

// categories reads a list of names or a single name.
func (d *ymlDecoder) categories(key string, n *yaml.Node) []string {
	switch {
	case isNull(n):
		return nil
	case isScalar(n):
		if s := strings.TrimSpace(n.Value); s != "" {
			return []string{s}
		}
		return nil
	case n.Kind == yaml.SequenceNode:
		return d.names(key, n, "category")
	}
	d.fail(key, "must be a list of names such as ['Open Source','Developer'], not %s", kindName(n))
	return nil
}

// compile reads the scripts to compile: false, null or missing is none (the
// original stores the text 'false' or null), a text is a comma list, and a
// YAML list is taken as it is.
func (d *ymlDecoder) compile(key string, n *yaml.Node) []string {
	var names []string
	switch {
	case isNull(n):
		return nil
	case n.Kind == yaml.ScalarNode && n.ShortTag() == "!!bool":
		if b := false; n.Decode(&b) == nil && !b {
			return nil
		}
		d.fail(key, "must be false, a comma list of script names or a list of them, not %s", show(n))
		return nil
	case isScalar(n):
		switch s := strings.TrimSpace(n.Value); s {
		case "", "false", "null":
			return nil
		default:
			for name := range strings.SplitSeq(s, ",") {
				if name = strings.TrimSpace(name); name != "" {
					names = append(names, name)
				}
			}
		}
	case n.Kind == yaml.SequenceNode:
		names = d.names(key, n, "script name")
	default:
		d.fail(key, "must be false, a comma list of script names or a list of them, not %s", kindName(n))
		return nil
	}
	for _, name := range names {
		// The agent looks the scripts up in the content's scripts folder; a
		// path would let a wod.yml reach outside it.
		if strings.ContainsAny(name, `/\`) || name == "." || name == ".." {
			d.fail(key, "%q is not a script name: it must not hold a path", name)
			return nil
		}
	}
	return names
}

// names reads a YAML list of non-empty scalars.
func (d *ymlDecoder) names(key string, n *yaml.Node, what string) []string {
	names := make([]string, 0, len(n.Content))
	for i, item := range n.Content {
		item = resolve(item)
		s := ""
		if isScalar(item) {
			s = strings.TrimSpace(item.Value)
		}
		if s == "" {
			d.fail(key, "item %d must be a %s, not %s", i+1, what, show(item))
			return nil
		}
		names = append(names, s)
	}
	return names
}

// sessionType reads the original's spelling or ours.
func (d *ymlDecoder) sessionType(key string, n *yaml.Node) wod.SessionType {
	s := d.text(key, n)
	switch strings.ToLower(s) {
	case "", "workshop", "workshops-on-demand":
		return wod.SessionWorkshop
	case "challenge", "coding challenge":
		return wod.SessionChallenge
	}
	d.fail(key, "%q is not a session type: use Workshops-on-Demand (or workshop) or Coding Challenge (or challenge)", s)
	return wod.SessionWorkshop
}

// extend reads the time a participant may add once: a duration such as
// 30m or a number of hours; null or 0 lets them add none.
func (d *ymlDecoder) extend(key string, n *yaml.Node) wod.Duration {
	if isNull(n) {
		return 0
	}
	if n.Kind == yaml.ScalarNode {
		switch n.ShortTag() {
		case "!!int", "!!float", "!!str":
			v, err := wod.ParseDuration(n.Value)
			switch {
			case err != nil:
				d.fail(key, "%v", err)
			case v.Std() > wod.MaxExtension:
				d.fail(key, "must be at most %s, not %s", wod.MaxExtension, v)
			default:
				return v
			}
			return 0
		}
	}
	d.fail(key, "must be a duration such as 30m or a number of hours, not %s", show(n))
	return 0
}

// date reads an opening or closing time: RFC 3339 with its zone, written
// plain (YAML's timestamp) or quoted; null is none. A date without a time
// and zone is refused rather than guessed at (midnight where?).
func (d *ymlDecoder) date(key string, n *yaml.Node) time.Time {
	if isNull(n) {
		return time.Time{}
	}
	if n.Kind == yaml.ScalarNode {
		switch n.ShortTag() {
		case "!!timestamp", "!!str":
			t, err := wod.ParseWorkshopDate(n.Value)
			if err != nil {
				d.fail(key, "%v", err)
			}
			return t
		}
	}
	d.fail(key, "must be a time such as 2026-12-10T09:00:00Z (RFC 3339, with the zone), not %s", show(n))
	return time.Time{}
}
