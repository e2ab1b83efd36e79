package config

import (
	"strings"
	"testing"
)

func TestByteSize(t *testing.T) {
	for in, want := range map[string]int64{"0": 0, "2G": 2 << 30, "2g": 2 << 30, "2GiB": 2 << 30, "2GB": 2 << 30,
		"512M": 512 << 20, "1.5G": 3 << 29, "100K": 102400, "4096": 4096, " 1T ": 1 << 40} {
		got, err := ParseByteSize(in)
		if err != nil || got != want {
			t.Errorf("%q: %d %v, want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "G", "-1G", "2X", "1e9", "two", "0x10", "99999999T", "NaN"} {
		if n, err := ParseByteSize(in); err == nil {
			t.Errorf("%q accepted as %d", in, n)
		}
	}

	c, err := parse(t, nil, nil, "")
	if err != nil || c.Agent.StudentDisk != 2<<30 {
		t.Fatalf("default --student-disk: %d %v", c.Agent.StudentDisk, err)
	}
	c, err = parse(t, nil, map[string]string{"WOD_STUDENT_DISK": "512M"}, "")
	if err != nil || c.Agent.StudentDisk != 512<<20 {
		t.Fatalf("WOD_STUDENT_DISK: %d %v", c.Agent.StudentDisk, err)
	}
	c, err = parse(t, []string{"--student-disk", "0"}, nil, "student-disk: 1G\n")
	if err != nil || c.Agent.StudentDisk != 0 {
		t.Fatalf("--student-disk 0: %d %v", c.Agent.StudentDisk, err)
	}
	c, err = parse(t, nil, nil, "student-disk: 3G\n")
	if err != nil || c.Agent.StudentDisk != 3<<30 || c.Agent.StudentDisk.String() != "3G" {
		t.Fatalf("file: %d %v", c.Agent.StudentDisk, err)
	}
	if _, err := parse(t, []string{"--student-disk", "lots"}, nil, ""); err == nil || !strings.Contains(err.Error(), "lots") {
		t.Fatalf("bad size: %v", err)
	}
}
