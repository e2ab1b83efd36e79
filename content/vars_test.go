package content

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/wod-dev/wod"
)

func TestBuildVarsPrecedence(t *testing.T) {
	config := Vars{
		"BRANDING":             "ACME Labs", // overrides a default
		"STDID":                "99",        // never wins over the student
		"HTTPPORT-WKSHP-ML101": 18061,
		"MLPORT2-WKSHP-ML101":  "18031",
		"SSHPORT-WKSHP-Other":  14101, // another workshop's
		"TOKEN":                "from-config",
	}
	hook := Vars{"TOKEN": "from-hook", "MLPORT2": 1, "PASSSTU": "hook-cannot"}
	v, err := BuildVars(config, hook, Student{Number: 12, Password: "pw", Session: wod.SessionChallenge,
		Workshop: "WKSHP-ML101", SeatMin: 10})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"BRANDING":     "ACME Labs",
		"BRANDINGWOD":  "WoD Developer",
		"BRANDINGLOGO": "![HPEDEVlogo](Pictures/hpe-dev-logo.png)",
		"BRANDINGURL":  "https://wod.io",
		"SURVEYURL":    "TBD",
		"TOKEN":        "from-hook",
		"HTTPPORT":     18063, // 12 - 10 + 18061
		"MLPORT2":      1,     // the hook's own value wins over the formula
		"STDID":        "12",
		"PASSSTU":      "pw",
		"MODEWS":       "CHLG",
		"WORKSHOP":     "WKSHP-ML101",
	}
	for k, w := range want {
		if !reflect.DeepEqual(v[k], w) {
			t.Errorf("%s = %#v, want %#v", k, v[k], w)
		}
	}
	if _, ok := v["SSHPORT"]; ok {
		t.Error("SSHPORT computed from another workshop's base port")
	}
	if config["HTTPPORT"] != nil || hook["STDID"] != nil {
		t.Error("BuildVars changed its arguments")
	}
}

func TestBuildVarsRefuses(t *testing.T) {
	ok := Student{Number: 1, Session: wod.SessionWorkshop, Workshop: "WKSHP-X", SeatMin: 1}
	tests := map[string]struct {
		config Vars
		edit   func(*Student)
	}{
		"number 0":        {edit: func(s *Student) { s.Number = 0 }},
		"session":         {edit: func(s *Student) { s.Session = "lab" }},
		"slug":            {edit: func(s *Student) { s.Workshop = "../x" }},
		"below the range": {edit: func(s *Student) { s.SeatMin = 2 }},
		"base port":       {config: Vars{"HTTPPORT-WKSHP-X": "eighty"}, edit: func(*Student) {}},
	}
	for name, tt := range tests {
		s := ok
		tt.edit(&s)
		if _, err := BuildVars(tt.config, nil, s); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := BuildVars(nil, nil, ok); err != nil {
		t.Errorf("the valid student: %v", err)
	}
}

func TestParseVars(t *testing.T) {
	tests := []struct {
		name, data string
		want       Vars
		err        string
	}{
		{"empty", " \n", Vars{}, ""},
		{"yaml", "HTTPPORT: 18062\nSPARKTOK: 'abc'\nFLAG: true\nLIST: [1, 2]\n", Vars{"HTTPPORT": 18062, "SPARKTOK": "abc", "FLAG": true, "LIST": []any{1, 2}}, ""},
		{"key with dashes", "IP-WKSHP-X: 10.0.0.1\n", Vars{"IP-WKSHP-X": "10.0.0.1"}, ""},
		{"env", "# from a hook\nexport HTTPPORT=18062\nTOK=\"a b\"\nQ='x\"y'\n\nEMPTY=\n", Vars{"HTTPPORT": "18062", "TOK": "a b", "Q": `x"y`, "EMPTY": ""}, ""},
		{"vault", "PASSSTU: !vault |\n  $ANSIBLE_VAULT;1.1;AES256\n  6162\n", nil, "line 1: PASSSTU is encrypted with ansible-vault"},
		{"neither", "HTTPPORT: 1\nTOK=2\n", nil, "neither YAML"},
		{"a list", "- a\n- b\n", nil, "line 1: want a YAML mapping"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseVars("vars.yml", []byte(tt.data))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) || !strings.Contains(err.Error(), "vars.yml") {
					t.Fatalf("got %v, %v; want an error about %q", got, err, tt.err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %#v, %v; want %#v", got, err, tt.want)
			}
		})
	}
}

func TestReadVarsFile(t *testing.T) {
	dir := t.TempDir()
	if v, err := ReadVarsFile(filepath.Join(dir, "missing.yml")); err != nil || len(v) != 0 {
		t.Errorf("missing file: %v, %v", v, err)
	}
	p := filepath.Join(dir, "variables_WKSHP-ML101_1.yml")
	if err := os.WriteFile(p, []byte("HTTPPORT: 18062\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if v, err := ReadVarsFile(p); err != nil || v["HTTPPORT"] != 18062 {
		t.Errorf("got %v, %v", v, err)
	}
}
