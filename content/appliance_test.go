package content

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wod-dev/wod"
)

func TestApplianceTarget(t *testing.T) {
	const ws = "WKSHP-Docker101"
	vars := Vars{"IP-" + ws: "10.0.1.20", "IP-WKSHP-Other": "192.168.0.9"}
	for _, c := range []struct {
		name        string
		vars        Vars
		mode        wod.ApplianceMode
		number, min int
		want, err   string
	}{
		{"no appliance", vars, wod.ApplianceNone, 7, 1, "", ""},
		{"no mode (an agent job from before)", vars, "", 7, 1, "", ""},
		{"mono: the shared appliance", vars, wod.ApplianceMono, 7, 1, "10.0.1.20", ""},
		{"mono: a host name", Vars{"IP-" + ws: "docker.lab.test"}, wod.ApplianceMono, 7, 1, "docker.lab.test", ""},
		{"multi: the first seat gets the base", vars, wod.ApplianceMulti, 1551, 1551, "10.0.1.20", ""},
		{"multi: numbered from the first seat", vars, wod.ApplianceMulti, 1560, 1551, "10.0.1.29", ""},
		{"multi: up to .254", Vars{"IP-" + ws: "10.0.1.250"}, wod.ApplianceMulti, 5, 1, "10.0.1.254", ""},
		{"multi: past .254", Vars{"IP-" + ws: "10.0.1.250"}, wod.ApplianceMulti, 6, 1, "", "past .254"},
		{"multi: a host name cannot be numbered", Vars{"IP-" + ws: "docker.lab.test"}, wod.ApplianceMulti, 1, 1, "", "IPv4"},
		{"multi: IPv6", Vars{"IP-" + ws: "fd00::1"}, wod.ApplianceMulti, 1, 1, "", "IPv4"},
		{"missing", Vars{"IP-WKSHP-Other": "1.2.3.4"}, wod.ApplianceMono, 1, 1, "", "IP-" + ws + " is not set"},
		{"empty", Vars{"IP-" + ws: " "}, wod.ApplianceMono, 1, 1, "", "is not set"},
		{"the original's placeholder", Vars{"IP-" + ws: "x.y.z.t"}, wod.ApplianceMono, 1, 1, "", "placeholder"},
		{"unknown mode", vars, "cluster", 1, 1, "", "must be none, mono or multi"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := ApplianceTarget(c.vars, ws, c.mode, c.number, c.min)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("got %q, %v; want an error with %q", got, err, c.err)
				}
				return
			}
			if err != nil || got != c.want {
				t.Fatalf("got %q, %v; want %q", got, err, c.want)
			}
		})
	}
}

func TestBuildVarsAppliance(t *testing.T) {
	s := Student{Number: 3, Password: "pw", Session: wod.SessionWorkshop, Workshop: "WKSHP-X", SeatMin: 1}
	v, err := BuildVars(nil, nil, s)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := v["WODRTARGET"]; ok {
		t.Fatalf("WODRTARGET set for a workshop without appliance: %v", v["WODRTARGET"])
	}
	s.Appliance = "10.0.0.3"
	// A hook cannot point the notebooks at another appliance.
	v, err = BuildVars(nil, Vars{"WODRTARGET": "6.6.6.6"}, s)
	if err != nil || v["WODRTARGET"] != "10.0.0.3" {
		t.Fatalf("WODRTARGET %v, %v", v["WODRTARGET"], err)
	}
}

// TestCheckWorkshopAppliance: import and `wod workshop test` say which
// variable an appliance workshop lacks, before a participant meets it.
func TestCheckWorkshopAppliance(t *testing.T) {
	dir := t.TempDir()
	ws := filepath.Join(dir, "WKSHP-Multi")
	os.MkdirAll(ws, 0o755)
	nb := `{"cells":[{"cell_type":"markdown","metadata":{},"source":["ssh {{ WODRTARGET }}"]}],"metadata":{},"nbformat":4,"nbformat_minor":5}`
	os.WriteFile(filepath.Join(ws, "1-Lab.ipynb"), []byte(nb), 0o644)
	w := &wod.Workshop{Slug: "WKSHP-Multi", ContentDir: dir, SeatMin: 11, SeatMax: 30, Appliance: wod.ApplianceMulti}

	rep, err := CheckWorkshop(w, Vars{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, p := range rep.Problems {
		if p.Kind == KindConfig && p.Name == "IP-WKSHP-Multi" && p.File == "WKSHP-Multi/wod.yml" {
			found = true
		}
	}
	if !found {
		t.Fatalf("no configuration problem for the missing address:\n%s", rep)
	}

	// The range's last seat must fit: 20 seats from .240 do not.
	rep, _ = CheckWorkshop(w, Vars{"IP-WKSHP-Multi": "10.1.1.240"}, nil)
	if rep.OK() || !strings.Contains(rep.String(), "past .254") {
		t.Fatalf("a range past .254 passed:\n%s", rep)
	}
	rep, _ = CheckWorkshop(w, Vars{"IP-WKSHP-Multi": "10.1.1.100"}, nil)
	if !rep.OK() {
		t.Fatalf("a valid appliance workshop failed:\n%s", rep)
	}
}

// TestCheckWorkshopCompile: the scripts a workshop compiles are found and
// rendered at import, in the content directories the agent will use.
func TestCheckWorkshopCompile(t *testing.T) {
	public, private := t.TempDir(), t.TempDir()
	os.MkdirAll(filepath.Join(public, "WKSHP-Cloud"), 0o755)
	os.MkdirAll(filepath.Join(public, "scripts"), 0o755)
	os.MkdirAll(filepath.Join(private, "scripts"), 0o755)
	os.WriteFile(filepath.Join(public, "scripts", "login.sh"), []byte("#!/bin/sh\necho {{ CLOUD_TOKEN }}\n"), 0o644)
	os.WriteFile(filepath.Join(private, "scripts", "login.sh"), []byte("#!/bin/sh\necho student{{ STDID }}\n"), 0o644)
	w := &wod.Workshop{Slug: "WKSHP-Cloud", ContentDir: public, SeatMin: 1, SeatMax: 5, Compile: []string{"login.sh", "gone.sh"}}

	rep, err := CheckWorkshop(w, nil, []string{public})
	if err != nil {
		t.Fatal(err)
	}
	text := rep.String()
	if len(rep.Problems) != 2 || !strings.Contains(text, `scripts/login.sh:2:`) || !strings.Contains(text, `undefined variable "CLOUD_TOKEN"`) ||
		!strings.Contains(text, `WKSHP-Cloud/wod.yml: compile: script "gone.sh" is in none of the scripts folders`) {
		t.Fatalf("public only:\n%s", text)
	}
	// The private overlay's script wins, as on the agent.
	rep, _ = CheckWorkshop(w, nil, []string{public, private})
	if len(rep.Problems) != 1 || !strings.Contains(rep.String(), `"gone.sh"`) {
		t.Fatalf("with the private overlay:\n%s", rep)
	}
}
