package wod_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/wod-dev/wod"
)

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{
		"0": 0, "1073741824": 1 << 30, "2G": 2 << 30, "2g": 2 << 30, "2Gi": 2 << 30, "2GiB": 2 << 30, "2GB": 2 << 30,
		"512M": 512 << 20, "1.5G": 3 << 29, "64k": 64 << 10, "1T": 1 << 40, "100B": 100, " 3 G ": 3 << 30,
	} {
		got, err := wod.ParseSize(in)
		if err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "G", "2X", "-1G", "1e9", "0x10", "2 GB extra", "1.5", "2iB", "NaN", "9999999T"} {
		if n, err := wod.ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) = %d, want an error", in, n)
		}
	}
	for n, want := range map[int64]string{2 << 30: "2G", 1536 << 20: "1536M", 1000: "1000", 0: "0", 3 << 40: "3T"} {
		if got := wod.FormatSize(n); got != want {
			t.Errorf("FormatSize(%d) = %q, want %q", n, got, want)
		}
		if back, err := wod.ParseSize(wod.FormatSize(n)); err != nil || back != n {
			t.Errorf("ParseSize(FormatSize(%d)) = %d, %v", n, back, err)
		}
	}
}

func TestLimitsOrAndValidate(t *testing.T) {
	site := wod.Limits{Memory: 2 << 30, CPUs: 1, Tasks: 512}
	got := wod.Limits{Memory: 4 << 30, Disk: 5 << 30}.Or(site)
	if want := (wod.Limits{Memory: 4 << 30, CPUs: 1, Tasks: 512, Disk: 5 << 30}); got != want {
		t.Errorf("Or = %+v, want %+v", got, want)
	}
	if s := got.String(); s != "memory 4G, cpus 1, tasks 512, disk 5G" {
		t.Errorf("String = %q", s)
	}

	var v wod.Validation
	wod.Limits{Memory: 2 << 20, CPUs: 0.001, Tasks: 5, Disk: -1}.Validate(&v, "limits.")
	var e *wod.Error
	if !errors.As(v.Err("bad"), &e) {
		t.Fatal("tiny limits were accepted")
	}
	fields := map[string]string{}
	for _, f := range e.Fields {
		fields[f.Field] += f.Message
	}
	for _, f := range []string{"limits.memory", "limits.cpus", "limits.tasks", "limits.disk"} {
		if fields[f] == "" {
			t.Errorf("no problem reported for %s: %v", f, e.Fields)
		}
	}
	if !strings.Contains(fields["limits.memory"], "2M") {
		t.Errorf("the memory problem does not show the value: %q", fields["limits.memory"])
	}
	v = wod.Validation{}
	site.Validate(&v, "")
	if err := v.Err("bad"); err != nil {
		t.Errorf("sensible limits refused: %v", err)
	}
}

func TestWorkshopLimitsAreOverridable(t *testing.T) {
	w := &wod.Workshop{Limits: wod.Limits{Memory: 1 << 30}}
	mem := wod.Limits{Memory: 3 << 30}
	if changed := w.Apply(wod.WorkshopUpdate{Limits: &mem}); len(changed) != 1 || changed[0] != "limits" {
		t.Fatalf("Apply changed %v", changed)
	}
	w.Overrides = []string{"limits"}
	changed, kept := w.Merge(&wod.Workshop{Limits: wod.Limits{Memory: 1 << 30, Tasks: 100}})
	if len(kept) != 1 || kept[0] != "limits" || w.Limits.Memory != 3<<30 {
		t.Errorf("re-import: changed %v kept %v limits %+v; want the operator's limits kept", changed, kept, w.Limits)
	}
}

func TestParseLimits(t *testing.T) {
	all := wod.Limits{Memory: 2 << 30, CPUs: 0.5, Tasks: 512, Disk: 5 << 30}
	for in, want := range map[string]wod.Limits{
		"": {}, "no limits": {}, all.String(): all, "tasks 100,memory 1536M": {Tasks: 100, Memory: 1536 << 20},
	} {
		if got, err := wod.ParseLimits(in); err != nil || got != want {
			t.Errorf("ParseLimits(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, in := range []string{"memory", "memory lots", "cpus x", "tasks 1.5", "swap 1G", "memory 2G cpus 1"} {
		if _, err := wod.ParseLimits(in); err == nil || !strings.Contains(err.Error(), "memory 2G, cpus 1") {
			t.Errorf("ParseLimits(%q) = %v, want an error with an example", in, err)
		}
	}
}
