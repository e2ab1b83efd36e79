package content

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/testenv"
)

// The parsers of what wod reads from outside its code: a workshop's wod.yml
// (from a content repository), the variables files create hooks write, and
// the notebooks a student saved (read for completion). Whatever the bytes,
// they return an error or a value the rest of wod can use, and do it the
// same way every time.

// FuzzParseWorkshop: a wod.yml gives an EINVALID error whose every problem
// names the file, or a workshop that validates, of the folder it was read
// from.
func FuzzParseWorkshop(f *testing.F) {
	for _, seed := range []string{
		api101,
		withKey(api101, "range", "range: [7-3]"),
		withKey(api101, "memory", "memory: 1073741824\ncpus: '2'\ntasks: '64'"),
		withKey(api101, "replayLink", "replayLink: &d 'Same'\npreRequisite: *d"),
		withKey(api101, "beta", "beta: false\nbeta: true"),
		withKey(api101, "compile", "compile: ['a.sh', 'b.sh']"),
		withKey(api101, "duration", "duration: 1h30m"),
		"", "~\n", "- name: a\n", "hello\n", "name: 'API\nrange: [1,6\n", "a: &a [*a]\n",
		"name: a\n  range: [1,6]\n",
	} {
		f.Add([]byte(seed))
	}
	if b, err := os.ReadFile("sample/WKSHP-Welcome101/wod.yml"); err == nil {
		f.Add(b)
	}
	const path, slug = "/c/WKSHP-Fuzz/wod.yml", "WKSHP-Fuzz"
	f.Fuzz(func(t *testing.T, data []byte) {
		defer testenv.StopHang(data)()
		w, err := ParseWorkshop(path, slug, data)
		if err != nil {
			var we *wod.Error
			if w != nil || !errors.As(err, &we) || we.Code != wod.EINVALID || len(we.Fields) == 0 {
				t.Fatalf("a refused file gives %+v and %#v; want no workshop and an EINVALID error with fields", w, err)
			}
			for _, fe := range we.Fields {
				if !strings.HasPrefix(fe.Field, filepath.Dir(path)) || fe.Message == "" {
					t.Fatalf("problem %+v does not name the file", fe)
				}
			}
			return
		}
		if w == nil || w.Slug != slug {
			t.Fatalf("accepted as %+v", w)
		}
		if err := w.Validate(); err != nil {
			t.Fatalf("accepted a workshop that does not validate: %v\n%+v", err, w)
		}
		again, err := ParseWorkshop(path, slug, data)
		if err != nil || !reflect.DeepEqual(again, w) {
			t.Fatalf("parsed twice, read differently: %+v, %v; then %+v", w, nil, again)
		}
	})
}

// FuzzParseVars: a variables file gives an error that names it, or
// variables with names that BuildVars takes, under the student's own values;
// variables written back as YAML read back the same.
func FuzzParseVars(f *testing.F) {
	for _, seed := range []string{
		" \n",
		"HTTPPORT: 18062\nSPARKTOK: 'abc'\nFLAG: true\nLIST: [1, 2]\n",
		"IP-WKSHP-X: 10.0.0.1\n",
		"# from a hook\nexport HTTPPORT=18062\nTOK=\"a b\"\nQ='x\"y'\n\nEMPTY=\n",
		"PASSSTU: !vault |\n  $ANSIBLE_VAULT;1.1;AES256\n  6162\n",
		"HTTPPORT: 1\nTOK=2\n",
		"- a\n- b\n",
		"STDID: 7\nPASSSTU: mine\nM: {a: 1, b: [x, y]}\n",
		"A=\"\\x41\\n\"\n",
		"a: &a {b: *a}\n",
	} {
		f.Add([]byte(seed))
	}
	const name = "/home/hook/variables_WKSHP-Fuzz_7.yml"
	f.Fuzz(func(t *testing.T, data []byte) {
		defer testenv.StopHang(data)()
		v, err := ParseVars(name, data)
		if err != nil {
			if v != nil || !strings.Contains(err.Error(), name) {
				t.Fatalf("a refused file gives %v and %v; want no variables and an error naming the file", v, err)
			}
			return
		}
		if v == nil {
			t.Fatal("no error and no variables")
		}
		for k := range v {
			if strings.TrimSpace(k) == "" {
				t.Fatalf("a variable without a name: %#v", v)
			}
		}
		s := Student{Number: 7, Password: "pw-7", Session: wod.SessionWorkshop, Workshop: "WKSHP-Fuzz", SeatMin: 1}
		all, err := BuildVars(Vars{"HTTPPORT-WKSHP-Fuzz": 18000}, v, s)
		if err != nil {
			t.Fatalf("BuildVars with the hook's variables %#v: %v", v, err)
		}
		if all["STDID"] != "7" || all["PASSSTU"] != "pw-7" || all["MODEWS"] != ModeWorkshop || all["WORKSHOP"] != "WKSHP-Fuzz" {
			t.Fatalf("the hook's variables overrode the student's: %#v", all)
		}
		if hasNaN(v) {
			return // NaN is not equal to itself: nothing to compare
		}
		// yaml.v3 writes a string whose line starts with a tab as a block
		// scalar that its own parser then refuses (a tab where indentation
		// is expected): that is the library's writer, not ParseVars, so
		// such strings are written double-quoted, as Ansible's to_yaml does.
		b, err := yaml.Marshal(quoteTabs(v))
		if err != nil {
			t.Fatalf("marshal %#v: %v", v, err)
		}
		back, err := ParseVars(name, b)
		if len(v) == 0 {
			return // an empty mapping is "{}", which is not a file of variables
		}
		// YAML may read a number written as an integer back as a float
		// ("0800000" is a float; 800000 an int): compare the numbers' values.
		if err != nil || !reflect.DeepEqual(numbersAsFloats(back), numbersAsFloats(v)) {
			t.Fatalf("%#v written as YAML:\n%s\nreads back as %#v, %v", v, b, back, err)
		}
	})
}

// quoteTabs returns v with its strings that hold a tab written
// double-quoted.
func quoteTabs(v any) any {
	switch x := v.(type) {
	case string:
		if strings.Contains(x, "\t") && utf8.ValidString(x) {
			return doubleQuoted(x)
		}
	case Vars:
		return quoteTabs(map[string]any(x))
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = quoteTabs(e)
		}
		return m
	case map[any]any:
		m := make(map[any]any, len(x))
		for k, e := range x {
			m[k] = quoteTabs(e)
		}
		return m
	case []any:
		l := make([]any, len(x))
		for i, e := range x {
			l[i] = quoteTabs(e)
		}
		return l
	}
	return v
}

// doubleQuoted is a string YAML writes in double quotes.
type doubleQuoted string

func (s doubleQuoted) MarshalYAML() (any, error) {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Style: yaml.DoubleQuotedStyle, Value: string(s)}, nil
}

// numbersAsFloats returns v with every number a float64 and every map a
// map[string]any keyed by the key's text.
func numbersAsFloats(v any) any {
	switch x := v.(type) {
	case int:
		return float64(x)
	case int64:
		return float64(x)
	case uint64:
		return float64(x)
	case Vars:
		return numbersAsFloats(map[string]any(x))
	case map[string]any:
		m := map[string]any{}
		for k, e := range x {
			m[k] = numbersAsFloats(e)
		}
		return m
	case map[any]any:
		m := map[string]any{}
		for k, e := range x {
			m[fmt.Sprint(numbersAsFloats(k))] = numbersAsFloats(e)
		}
		return m
	case []any:
		s := make([]any, len(x))
		for i, e := range x {
			s[i] = numbersAsFloats(e)
		}
		return s
	}
	return v
}

func hasNaN(v any) bool {
	switch x := v.(type) {
	case float64:
		return math.IsNaN(x)
	case Vars:
		for _, e := range x {
			if hasNaN(e) {
				return true
			}
		}
	case map[string]any:
		for _, e := range x {
			if hasNaN(e) {
				return true
			}
		}
	case map[any]any:
		for k, e := range x {
			if hasNaN(k) || hasNaN(e) {
				return true
			}
		}
	case []any:
		for _, e := range x {
			if hasNaN(e) {
				return true
			}
		}
	}
	return false
}

// FuzzCompletion: whatever a student saved as a notebook, completion is a
// percentage, 0 for what is not JSON, and the same for two copies of the
// notebook as for one.
func FuzzCompletion(f *testing.F) {
	for _, seed := range []string{
		nb(ran, notRun, outputs, markdown, rawCell),
		nb(ran),
		nb(notRun),
		nb(),
		`{"cells": [{"cell_type": "code", "execution_count": "3"}, {"cell_type": "code", "outputs": {}}]}`,
		`{"cells": null}`,
		`[]`,
		`not json`,
		``,
	} {
		f.Add([]byte(seed))
	}
	home := f.TempDir()
	ws := filepath.Join(home, "WKSHP-Fuzz")
	if err := os.Mkdir(ws, 0o755); err != nil {
		f.Fatal(err)
	}
	uid := os.Getuid()
	f.Fuzz(func(t *testing.T, data []byte) {
		defer testenv.StopHang(data)()
		for _, n := range []string{"1.ipynb", "2.ipynb"} {
			if err := os.WriteFile(filepath.Join(ws, n), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		one, err := Completion(home, []string{"WKSHP-Fuzz/1.ipynb"}, uid)
		if err != nil || one < 0 || one > 100 {
			t.Fatalf("completion %d, %v", one, err)
		}
		if !json.Valid(data) && one != 0 {
			t.Fatalf("completion %d of a notebook that is not JSON", one)
		}
		two, err := Completion(home, []string{"WKSHP-Fuzz/1.ipynb", "WKSHP-Fuzz/2.ipynb"}, uid)
		if err != nil || two != one {
			t.Fatalf("completion %d of one notebook, %d (%v) of two copies", one, two, err)
		}
	})
}
