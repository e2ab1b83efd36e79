package content

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/wod-dev/wod"
)

// api101 is WKSHP-API101/wod.yml as the original ships it (URLs shortened).
const api101 = `name: 'API 101 - REST API basics and more'
description: 'Learn what REST API is and how it works.'
active: true
capacity: 20
priority: 1
range: [1,6]
reset: false
ldap: false
replayId: 11
varpass: false
compile: false
workshopImg: 'https://example.com/img/api.png'
badgeImg: 'https://example.com/img/api-badge.png'
beta: false
category: ['Open Source','Developer']
duration: 2
presenter: 'Didier Lalli'
role: 'Distinguished Technologist'
avatar: '/img/SpeakerImages/Didier.jpg'
replayLink: 'https://youtu.be/xyz'
`

// withKey returns yml with the line of key replaced by line, removed when line
// is "", or line appended when yml has no such key.
func withKey(yml, key, line string) string {
	lines := strings.Split(strings.TrimSuffix(yml, "\n"), "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, key+":") {
			if line == "" {
				lines = append(lines[:i], lines[i+1:]...)
			} else {
				lines[i] = line
			}
			return strings.Join(lines, "\n") + "\n"
		}
	}
	if line == "" {
		return yml
	}
	return yml + line + "\n"
}

// checkProblem fails unless err is an EINVALID *wod.Error whose message names
// the file, the key and a word of the problem.
func checkProblem(t *testing.T, err error, path, key, word string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one about %s %s (%q)", path, key, word)
	}
	var e *wod.Error
	if !errors.As(err, &e) || e.Code != wod.EINVALID {
		t.Fatalf("error %v is not an EINVALID *wod.Error", err)
	}
	msg := err.Error()
	for _, want := range []string{path, key, word} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not contain %q", msg, want)
		}
	}
	for _, f := range e.Fields {
		if f.Field == field(path, key) && strings.Contains(f.Message, word) {
			return
		}
	}
	t.Errorf("no field %q with a message containing %q in %+v", field(path, key), word, e.Fields)
}

func TestParseWorkshopOriginal(t *testing.T) {
	w, err := ParseWorkshop("/c/WKSHP-API101/wod.yml", "WKSHP-API101", []byte(api101))
	if err != nil {
		t.Fatal(err)
	}
	want := &wod.Workshop{
		Slug:          "WKSHP-API101",
		Title:         "API 101 - REST API basics and more",
		Description:   "Learn what REST API is and how it works.",
		Categories:    []string{"Open Source", "Developer"},
		Duration:      wod.Duration(2 * time.Hour),
		Capacity:      20,
		SeatMin:       1,
		SeatMax:       6,
		Active:        true,
		Priority:      1,
		Appliance:     wod.ApplianceNone,
		SessionType:   wod.SessionWorkshop,
		Presenter:     "Didier Lalli",
		PresenterRole: "Distinguished Technologist",
		Avatar:        "/img/SpeakerImages/Didier.jpg",
		Image:         "https://example.com/img/api.png",
		BadgeImage:    "https://example.com/img/api-badge.png",
		ReplayID:      11,
		ReplayLink:    "https://youtu.be/xyz",
	}
	if !reflect.DeepEqual(w, want) {
		t.Errorf("got  %+v\nwant %+v", w, want)
	}
}

func TestParseWorkshopForms(t *testing.T) {
	tests := []struct {
		name  string
		key   string // the key whose line is replaced ("" to keep api101)
		line  string
		check func(*wod.Workshop) bool
	}{
		{"dash range", "range", "range: [1981-1985]",
			func(w *wod.Workshop) bool { return w.SeatMin == 1981 && w.SeatMax == 1985 }},
		{"dash range with spaces", "range", "range: [3 - 8]",
			func(w *wod.Workshop) bool { return w.SeatMin == 3 && w.SeatMax == 8 }},
		{"range text with dash", "range", "range: '3-8'",
			func(w *wod.Workshop) bool { return w.SeatMin == 3 && w.SeatMax == 8 }},
		{"range text with comma", "range", "range: '3,8'",
			func(w *wod.Workshop) bool { return w.SeatMin == 3 && w.SeatMax == 8 }},
		{"range of one seat", "range", "range: [5,5]",
			func(w *wod.Workshop) bool { return w.SeatMin == 5 && w.SeatMax == 5 }},
		{"block list range", "range", "range:\n  - 2\n  - 4",
			func(w *wod.Workshop) bool { return w.SeatMin == 2 && w.SeatMax == 4 }},
		{"missing capacity is the range size", "capacity", "",
			func(w *wod.Workshop) bool { return w.Capacity == 6 }},
		{"zero capacity disables", "capacity", "capacity: 0",
			func(w *wod.Workshop) bool { return w.Capacity == 0 }},
		{"quoted capacity", "capacity", "capacity: '12'",
			func(w *wod.Workshop) bool { return w.Capacity == 12 }},
		{"duration in seconds", "duration", "duration: 90s",
			func(w *wod.Workshop) bool { return w.Duration.Std() == 90*time.Second }},
		{"duration as Go string", "duration", "duration: 2h30m",
			func(w *wod.Workshop) bool { return w.Duration.Std() == 150*time.Minute }},
		{"fractional hours", "duration", "duration: 1.5",
			func(w *wod.Workshop) bool { return w.Duration.Std() == 90*time.Minute }},
		{"missing duration is 4 hours", "duration", "",
			func(w *wod.Workshop) bool { return w.Duration.Std() == 4*time.Hour }},
		{"single category", "category", "category: Developer",
			func(w *wod.Workshop) bool { return reflect.DeepEqual(w.Categories, []string{"Developer"}) }},
		{"no category", "category", "category:",
			func(w *wod.Workshop) bool { return len(w.Categories) == 0 }},
		{"compile comma list", "compile", "compile: 'setup.sh, check.sh'",
			func(w *wod.Workshop) bool { return reflect.DeepEqual(w.Compile, []string{"setup.sh", "check.sh"}) }},
		{"compile list", "compile", "compile: [setup.sh]",
			func(w *wod.Workshop) bool { return reflect.DeepEqual(w.Compile, []string{"setup.sh"}) }},
		{"compile null", "compile", "compile: null",
			func(w *wod.Workshop) bool { return w.Compile == nil }},
		{"compile text false", "compile", "compile: 'false'",
			func(w *wod.Workshop) bool { return w.Compile == nil }},
		{"quoted boolean", "active", "active: 'false'",
			func(w *wod.Workshop) bool { return !w.Active }},
		{"mono appliance", "monoappliance", "monoappliance: true\nmultiappliance: false",
			func(w *wod.Workshop) bool { return w.Appliance == wod.ApplianceMono }},
		{"multi appliance", "multiappliance", "multiappliance: true",
			func(w *wod.Workshop) bool { return w.Appliance == wod.ApplianceMulti }},
		{"original session type", "sessionType", "sessionType: 'Coding Challenge'",
			func(w *wod.Workshop) bool { return w.SessionType == wod.SessionChallenge }},
		{"our session type", "sessionType", "sessionType: workshop",
			func(w *wod.Workshop) bool { return w.SessionType == wod.SessionWorkshop }},
		{"prerequisite", "preRequisite", "preRequisite: 'Some Python'",
			func(w *wod.Workshop) bool { return w.Prerequisite == "Some Python" }},
		{"seeder keys are ignored", "notebook",
			"notebook: WKSHP-Other\nlocation: be.example.com\nalternateLocation: []\nsessionId: 3",
			func(w *wod.Workshop) bool { return w.Slug == "WKSHP-API101" && w.Location == "" }},
		{"limits", "memory", "memory: 2G\ncpus: 1.5\ntasks: 512\ndisk: 5GiB",
			func(w *wod.Workshop) bool {
				return w.Limits == wod.Limits{Memory: 2 << 30, CPUs: 1.5, Tasks: 512, Disk: 5 << 30}
			}},
		{"limits as numbers and text", "memory", "memory: 1073741824\ncpus: '2'\ntasks: '64'",
			func(w *wod.Workshop) bool { return w.Limits == wod.Limits{Memory: 1 << 30, CPUs: 2, Tasks: 64} }},
		{"null limits are the site's", "memory", "memory:\ncpus: null\ndisk:",
			func(w *wod.Workshop) bool { return w.Limits.IsZero() }},
		{"no limits are the site's", "memory", "",
			func(w *wod.Workshop) bool { return w.Limits.IsZero() }},
		{"warm seats", "warm", "warm: 3",
			func(w *wod.Workshop) bool { return w.Warm == 3 }},
		{"warm auto", "warm", "warm: auto",
			func(w *wod.Workshop) bool { return w.Warm == wod.WarmAuto }},
		{"no warm seats", "warm", "",
			func(w *wod.Workshop) bool { return w.Warm == 0 }},
		{"extend", "extend", "extend: 30m",
			func(w *wod.Workshop) bool { return w.Extend == wod.Duration(30*time.Minute) }},
		{"extend in hours", "extend", "extend: 0.5",
			func(w *wod.Workshop) bool { return w.Extend == wod.Duration(30*time.Minute) }},
		{"no extend", "extend", "",
			func(w *wod.Workshop) bool { return w.Extend == 0 }},
		{"null extend", "extend", "extend:",
			func(w *wod.Workshop) bool { return w.Extend == 0 }},
		{"dates", "opens", "opens: 2026-12-10T09:00:00Z\ncloses: '2026-12-10T18:30:00+01:00'",
			func(w *wod.Workshop) bool {
				return w.Opens == time.Date(2026, 12, 10, 9, 0, 0, 0, time.UTC) &&
					w.Closes == time.Date(2026, 12, 10, 17, 30, 0, 0, time.UTC)
			}},
		{"closes alone", "closes", "closes: 2026-12-10T18:00:00Z",
			func(w *wod.Workshop) bool {
				return w.Opens.IsZero() && w.Closes.Equal(time.Date(2026, 12, 10, 18, 0, 0, 0, time.UTC))
			}},
		{"no dates", "opens", "",
			func(w *wod.Workshop) bool { return w.Opens.IsZero() && w.Closes.IsZero() }},
		{"null dates", "opens", "opens:\ncloses: null",
			func(w *wod.Workshop) bool { return w.Opens.IsZero() && w.Closes.IsZero() }},
		{"alias", "replayLink", "replayLink: &d 'Same'\npreRequisite: *d",
			func(w *wod.Workshop) bool { return w.Prerequisite == "Same" && w.ReplayLink == "Same" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			yml := withKey(api101, tt.key, tt.line)
			w, err := ParseWorkshop("/c/WKSHP-API101/wod.yml", "WKSHP-API101", []byte(yml))
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(w) {
				t.Errorf("unexpected workshop %+v from\n%s", w, yml)
			}
		})
	}
}

func TestParseWorkshopProblems(t *testing.T) {
	const path = "/x/WKSHP-API101/wod.yml"
	tests := []struct {
		name string
		key  string // the line to replace
		line string
		want string // the key named by the problem
		word string
	}{
		{"range end below start", "range", "range: [7-3]", "range", "end below its start"},
		{"range list end below start", "range", "range: [7,3]", "range", "end below"},
		{"range starts at zero", "range", "range: [0,5]", "range", "start at 1"},
		{"range of three", "range", "range: [1,2,3]", "range", "not a range"},
		{"range text", "range", "range: lots", "range", "not a range"},
		{"range of text", "range", "range: [a,b]", "range", "not a range"},
		{"range mapping", "range", "range: {from: 1, to: 2}", "range", "not a range"},
		{"range missing", "range", "", "range", "required"},
		{"negative capacity", "capacity", "capacity: -1", "capacity", "negative"},
		{"capacity text", "capacity", "capacity: lots", "capacity", "whole number"},
		{"fractional priority", "priority", "priority: 1.5", "priority", "whole number"},
		{"replayId list", "replayId", "replayId: [1]", "replayId", "whole number"},
		{"yes is no boolean", "active", "active: yes", "active", "true or false"},
		{"one is no boolean", "reset", "reset: 1", "reset", "true or false"},
		{"ldap text", "ldap", "ldap: maybe", "ldap", "true or false"},
		{"duration text", "duration", "duration: soon", "duration", "neither a number of hours"},
		{"duration zero", "duration", "duration: 0", "duration", "positive"},
		{"duration negative", "duration", "duration: -90s", "duration", "positive"},
		{"duration over a week", "duration", "duration: 200", "duration", "week"},
		{"duration boolean", "duration", "duration: true", "duration", "number of hours"},
		{"name missing", "name", "", "name", "required"},
		{"name empty", "name", "name: ''", "name", "required"},
		{"name too long", "name", "name: " + strings.Repeat("x", 201), "name", "longer than 200"},
		{"name list", "name", "name: [a, b]", "name", "text"},
		{"compile true", "compile", "compile: true", "compile", "script names"},
		{"compile path", "compile", "compile: '../../bin/evil'", "compile", "not a script name"},
		{"compile mapping", "compile", "compile: {a: b}", "compile", "script names"},
		{"category mapping", "category", "category: {a: b}", "category", "list of names"},
		{"category nested list", "category", "category: [[a]]", "category", "must be a category"},
		{"both appliances", "monoappliance", "monoappliance: true\nmultiappliance: true", "multiappliance", "monoappliance"},
		{"session type", "sessionType", "sessionType: webinar", "sessionType", "not a session type"},
		{"unknown key", "replayId", "replayid: 11", "replayid", "not a wod.yml key"},
		{"typo suggestion", "presenter", "presentr: 'Didier'", "presentr", `did you mean "presenter"`},
		{"memory without unit", "memory", "memory: 2", "memory", "too little"},
		{"memory typo", "memory", "memory: 2GG", "memory", "not a size"},
		{"memory negative", "memory", "memory: -1G", "memory", "not a size"},
		{"memory list", "memory", "memory: [2G]", "memory", "must be a size"},
		{"disk tiny", "disk", "disk: 1M", "disk", "too little"},
		{"cpus text", "cpus", "cpus: all", "cpus", "number of cores"},
		{"cpus zero point", "cpus", "cpus: 0.001", "cpus", "between"},
		{"cpus too many", "cpus", "cpus: 10000", "cpus", "between"},
		{"tasks fraction", "tasks", "tasks: 1.5", "tasks", "whole number"},
		{"tasks too few", "tasks", "tasks: 4", "tasks", "between"},
		{"limit typo", "memroy", "memroy: 2G", "memroy", `did you mean "memory"`},
		{"key twice", "beta", "beta: false\nbeta: true", "beta", "twice"},
		{"warm text", "warm", "warm: lots", "warm", "auto or a number"},
		{"warm negative", "warm", "warm: -2", "warm", "auto or a number"},
		{"warm list", "warm", "warm: [2]", "warm", "auto or a number"},
		{"extend text", "extend", "extend: a while", "extend", "neither a number of hours nor a duration"},
		{"extend too long", "extend", "extend: 48h", "extend", "at most 24h"},
		{"extend list", "extend", "extend: [30m]", "extend", "must be a duration"},
		{"extend typo", "extnd", "extnd: 30m", "extnd", `did you mean "extend"`},
		{"opens without a zone", "opens", "opens: 2026-12-10T09:00:00", "opens", "RFC 3339 with the zone"},
		{"opens date only", "opens", "opens: 2026-12-10", "opens", "RFC 3339 with the zone"},
		{"closes text", "closes", "closes: tomorrow", "closes", "not a time"},
		{"closes list", "closes", "closes: [2026-12-10T09:00:00Z]", "closes", "must be a time"},
		{"closes before opens", "closes", "opens: 2026-12-10T09:00:00Z\ncloses: 2026-12-10T08:00:00Z", "closes", "after opens"},
		{"opens typo", "opnes", "opnes: 2026-12-10T09:00:00Z", "opnes", `did you mean "opens"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			yml := withKey(api101, tt.key, tt.line)
			w, err := ParseWorkshop(path, "WKSHP-API101", []byte(yml))
			if w != nil {
				t.Errorf("got a workshop from a bad file: %+v", w)
			}
			checkProblem(t, err, path, tt.want, tt.word)
		})
	}
}

func TestParseWorkshopFileProblems(t *testing.T) {
	const path = "/x/WKSHP-API101/wod.yml"
	tests := []struct {
		name string
		data string
		word string
	}{
		{"empty", "", "empty"},
		{"comments only", "# nothing yet\n", "empty"},
		{"null document", "~\n", "empty"},
		{"malformed", "name: 'API\nrange: [1,6\n", "line"},
		{"bad indentation", "name: a\n  range: [1,6]\n", "line 2"},
		{"list", "- name: a\n", "mapping"},
		{"scalar", "hello\n", "mapping"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseWorkshop(path, "WKSHP-API101", []byte(tt.data))
			checkProblem(t, err, path, "", tt.word)
		})
	}
}

func TestParseWorkshopAllProblems(t *testing.T) {
	const path = "/x/WKSHP-API101/wod.yml"
	yml := withKey(withKey(withKey(api101, "range", "range: [7-3]"), "active", "active: yes"), "color", "color: red")
	_, err := ParseWorkshop(path, "WKSHP-API101", []byte(yml))
	checkProblem(t, err, path, "range", "below")
	checkProblem(t, err, path, "active", "true or false")
	checkProblem(t, err, path, "color", "not a wod.yml key")
	var e *wod.Error
	if errors.As(err, &e) && len(e.Fields) != 3 {
		t.Errorf("got %d problems, want 3 (no repeats from Validate): %+v", len(e.Fields), e.Fields)
	}
}

func TestParseWorkshopBadSlug(t *testing.T) {
	_, err := ParseWorkshop("/x/WKSHP bad/wod.yml", "WKSHP bad", []byte(api101))
	checkProblem(t, err, "/x/WKSHP bad", "", "folder name")
}
