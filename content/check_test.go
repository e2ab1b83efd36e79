package content

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestCheckReportsEveryProblem(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "WKSHP-Broken101")
	mustWrite(t, filepath.Join(dir, MetaFile), "name: Broken\n")
	// Two undefined variables in two files, one of them twice and one only
	// in challenge mode, an undefined hostvars key, and a notebook that is
	// not JSON once rendered.
	mustWrite(t, filepath.Join(dir, "1-WKSHP-Lab.ipynb"), strings.Join([]string{
		`{"cells": [{"cell_type": "markdown", "metadata": {}, "source": [`,
		`  "# {{ BRANDINGWOD }} student{{ STDID }}\n",`,
		`  "http://{{ WODBEEXTFQDN }}:{{ HTTPPORT }}\n",`,
		`  "again {{ HTTPPORT }}\n",`,
		`  "{% if MODEWS == 'CHLG' %}{{ CHALLENGETOKEN }}{% endif %}\n",`,
		`  "ssh {{ hostvars[inventory_hostname]['IP-WKSHP-Broken101'] }}"`,
		`]}], "metadata": {}, "nbformat": 4, "nbformat_minor": 4}`,
	}, "\n"))
	mustWrite(t, filepath.Join(dir, "Data", "env.sh"), "#!/bin/sh\n\nexport KEY={{ LLM101_API_KEY }}\n")
	mustWrite(t, filepath.Join(dir, "2-WKSHP-Defer.ipynb"),
		"{\"cells\": [\n {\"source\": [\"{{ STDID }}\",\n  \"call \"panic\" now\"]}\n]}\n")
	mustWrite(t, filepath.Join(dir, "3-WKSHP-Syntax.ipynb"), "{\"a\": \"{% if MODEWS %}\"}\n")
	mustWrite(t, filepath.Join(dir, "README.md"), "{{ NOT_TEMPLATED }}")

	rep, err := Check(dir, Vars{"BRANDINGWOD": "ACME"})
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK() {
		t.Fatal("OK with problems")
	}
	if want := []string{"1-WKSHP-Lab.ipynb", "2-WKSHP-Defer.ipynb", "3-WKSHP-Syntax.ipynb", "Data/env.sh"}; !slices.Equal(rep.Files, want) {
		t.Errorf("files %q, want %q", rep.Files, want)
	}
	var got []string
	for _, p := range rep.Problems {
		got = append(got, p.String())
	}
	want := []string{
		`WKSHP-Broken101/1-WKSHP-Lab.ipynb:3:33: undefined variable "HTTPPORT"`,
		`WKSHP-Broken101/1-WKSHP-Lab.ipynb:5:32: undefined variable "CHALLENGETOKEN" (with MODEWS=CHLG only)`,
		`WKSHP-Broken101/1-WKSHP-Lab.ipynb:6:40: undefined variable "IP-WKSHP-Broken101" (hostvars[inventory_hostname]['IP-WKSHP-Broken101'])`,
		`WKSHP-Broken101/2-WKSHP-Defer.ipynb:3:10: the rendered notebook is not valid JSON: invalid character 'p' after array element`,
		`WKSHP-Broken101/3-WKSHP-Syntax.ipynb:2:1: syntax error: Unexpected EOF, expected tag elif or else or endif.`,
		`WKSHP-Broken101/Data/env.sh:3:15: undefined variable "LLM101_API_KEY"`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	s := rep.String()
	if !strings.HasPrefix(s, "WKSHP-Broken101: 6 problems in 4 templated files:\n") || !strings.Contains(s, want[0]) {
		t.Errorf("String():\n%s", s)
	}
}

func TestCheckWorkshopSample(t *testing.T) {
	dst := filepath.Join(t.TempDir(), "content")
	if err := ExtractSample(dst); err != nil {
		t.Fatal(err)
	}
	ws, err := Load([]string{dst})
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range ws {
		rep, err := CheckWorkshop(w, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !rep.OK() || len(rep.Files) != 2 || rep.Workshop != w.Slug {
			t.Errorf("%s", rep)
		}
		if !strings.HasSuffix(rep.String(), "ok\n") {
			t.Errorf("String() = %q", rep.String())
		}
	}
}

func TestCheckMissingFolder(t *testing.T) {
	if _, err := Check(filepath.Join(t.TempDir(), "WKSHP-None"), nil); err == nil {
		t.Error("no error for a missing folder")
	}
}
