package content

import (
	"fmt"
	"maps"
	"regexp"
	"strconv"
	"strings"

	"github.com/wod-dev/wod"
)

// Vars are the variables a workshop's templates see, by name: strings,
// numbers, booleans, lists and maps, as Ansible variables are. The renderer
// adds hostvars and inventory_hostname (see RenderFile); a "hostvars" entry
// of Vars itself is ignored.
type Vars map[string]any

// Clone returns a copy of v that can be changed without changing v (values
// are shared).
func (v Vars) Clone() Vars {
	if v == nil {
		return Vars{}
	}
	return maps.Clone(v)
}

// DefaultInventoryHostname is inventory_hostname, the key of hostvars, when
// the variables do not set it. Any name works: the notebooks only use it to
// index hostvars.
const DefaultInventoryHostname = "localhost"

// Default values of the configuration variables, those of the original's
// wod-install ansible/group_vars/all.yml (reference §5.2). WODBEFQDN and
// WODBEEXTFQDN, the backend's internal and external host names, come from the
// original's install; localhost stands in until configured.
func DefaultVars() Vars {
	return Vars{
		"BRANDING":           "WoD Developer",
		"BRANDINGWOD":        "WoD Developer",
		"BRANDINGLOGO":       "![HPEDEVlogo](Pictures/hpe-dev-logo.png)",
		"BRANDINGURL":        "https://wod.io",
		"SURVEYURL":          "TBD",
		"SURVEYCHALURL":      "TBD",
		"WODBEFQDN":          "localhost",
		"WODBEEXTFQDN":       "localhost",
		"inventory_hostname": DefaultInventoryHostname,
	}
}

// Modes are the values of MODEWS, which the original's notebooks test in
// `{% if MODEWS == 'WKSHP' %}`.
const (
	ModeWorkshop  = "WKSHP"
	ModeChallenge = "CHLG"
)

// Mode returns the MODEWS value of a session type.
func Mode(t wod.SessionType) string {
	if t == wod.SessionChallenge {
		return ModeChallenge
	}
	return ModeWorkshop
}

// Student is what a deployment knows of the seat it renders for.
type Student struct {
	// Number is the local student number (the seat): STDID.
	Number int
	// Password is the student's password for this session: PASSSTU.
	Password string
	// Session gives MODEWS: WKSHP for a workshop, CHLG for a challenge.
	Session wod.SessionType
	// Workshop is the workshop's slug, its folder name: WORKSHOP.
	Workshop string
	// SeatMin is the first seat of the workshop's range (wod.Workshop
	// SeatMin), for the per-seat ports; 0 computes none.
	SeatMin int
	// Appliance is the address of the student's appliance (ApplianceTarget):
	// WODRTARGET, unset when empty.
	Appliance string
}

// portBase matches a per-workshop base port of the configuration, such as
// "HTTPPORT-WKSHP-ML101: 18061" (the original's backend group_vars): its
// name before the dash and the workshop after it.
var portBase = regexp.MustCompile(`^([A-Z][A-Z0-9_]*PORT[0-9]*)-(.+)$`)

// BuildVars returns the variables for one student's deployment, from lowest
// to highest precedence:
//
//  1. DefaultVars;
//  2. config, the operator's configuration (the original's group_vars);
//  3. the student's ports: for every configured base port
//     "<NAME>-<workshop>" of this workshop (e.g. HTTPPORT-WKSHP-ML101),
//     NAME = Number - SeatMin + base, the original's port scheme
//     (create-WKSHP-ML101.sh: httpport=$(($stdid-$APPMIN+HTTPPORT-WKSHP-ML101)));
//  4. hook, the variables the create hooks wrote (the original's pass file,
//     where create scripts put HTTPPORT, SPARKTOK…): a hook that writes a
//     port of its own is what the original's notebook would show;
//  5. the student's own values, which nothing overrides: STDID, PASSSTU,
//     MODEWS, WORKSHOP and, for an appliance workshop, WODRTARGET.
//
// STDID is a string, as the original passes it with `-e STDID=n`.
func BuildVars(config, hook Vars, s Student) (Vars, error) {
	switch {
	case s.Number < 1:
		return nil, fmt.Errorf("content: student number %d: must be at least 1", s.Number)
	case s.Session != wod.SessionWorkshop && s.Session != wod.SessionChallenge:
		return nil, fmt.Errorf("content: session type %q: must be %q or %q", s.Session, wod.SessionWorkshop, wod.SessionChallenge)
	case !wod.ValidSlug(s.Workshop):
		return nil, fmt.Errorf("content: workshop %q: not a valid workshop folder name", s.Workshop)
	case s.SeatMin > s.Number:
		return nil, fmt.Errorf("content: student %d is below the workshop's first seat %d", s.Number, s.SeatMin)
	}
	v := DefaultVars()
	maps.Copy(v, config)
	if s.SeatMin > 0 {
		ports, err := seatPorts(v, s)
		if err != nil {
			return nil, err
		}
		maps.Copy(v, ports)
	}
	maps.Copy(v, hook)
	v["STDID"] = strconv.Itoa(s.Number)
	v["PASSSTU"] = s.Password
	v["MODEWS"] = Mode(s.Session)
	v["WORKSHOP"] = s.Workshop
	if s.Appliance != "" {
		v["WODRTARGET"] = s.Appliance
	}
	return v, nil
}

// seatPorts computes the student's ports from the workshop's base ports.
func seatPorts(v Vars, s Student) (Vars, error) {
	ports := Vars{}
	for k, val := range v {
		m := portBase.FindStringSubmatch(k)
		if m == nil || m[2] != s.Workshop {
			continue
		}
		base, ok := toInt(val)
		if !ok {
			return nil, fmt.Errorf("content: base port %s is %v, not a number", k, val)
		}
		ports[m[1]] = s.Number - s.SeatMin + base
	}
	return ports, nil
}

// toInt reads a number as configuration files give it: an integer, or a
// string of digits (YAML `"18061"`).
func toInt(v any) (int, bool) {
	switch n := v.(type) {
	case int:
		return n, true
	case int64:
		return int(n), true
	case uint64:
		return int(n), true
	case float64:
		if n == float64(int(n)) {
			return int(n), true
		}
	case string:
		i, err := strconv.Atoi(strings.TrimSpace(n))
		return i, err == nil
	}
	return 0, false
}
