package content

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
)

func TestRenderFile(t *testing.T) {
	vars := Vars{
		"STDID": "3", "PASSSTU": "pw", "MODEWS": "CHLG", "BRANDINGWOD": "WoD",
		"IP-WKSHP-Podman201": "10.1.2.3", "WODAPPMIN": "2", "WODAPPMAX": "4",
	}
	tests := []struct {
		name, in, want string
	}{
		{"variable", "student{{ STDID }} {{ PASSSTU }}", "student3 pw"},
		{"if else", `"{% if MODEWS == 'WKSHP' %}Workshop{% else %}Challenge{% endif %}\n"`, `"Challenge\n"`},
		{"if without else", `"{% if MODEWS == 'WKSHP' %}Workshop{% endif %}x"`, `"x"`},
		{"raw inline", `{% raw %}{{range .items}}{{.metadata.name}}{{"\n"}}{{end}}{% endraw %}`, `{{range .items}}{{.metadata.name}}{{"\n"}}{{end}}`},
		// Jinja2 keeps the newline after {% raw %} and trims the one after
		// {% endraw %} (trim_blocks); gonja alone would drop both.
		{"raw on its own lines", "a\n{% raw %}\n{{closure}}\n{% endraw %}\nb\n", "a\n\n{{closure}}\nb\n"},
		{"raw text that looks like raw", "{% raw %}{% raw %}\n{% endraw %}\n", "{% raw %}\n"},
		{"raw in a string is text", "{{ '{% raw %}' }}\nx", "{% raw %}\nx"},
		{"escaped delimiters", "{{ '{{' }} {{ '}}' }} {{ '{%' }} {{ '%}' }} {{ '{#' }} {{ '#}' }}", "{{ }} {% %} {# #}"},
		{"hostvars with dashes", "{{ hostvars[inventory_hostname]['IP-WKSHP-Podman201'] }}", "10.1.2.3"},
		{"hostvars with another host name", "{{ hostvars[inventory_hostname]['STDID'] }}", "3"},
		{"default", "{{ NOPE | default('x') }}", "x"},
		{"is defined", "{% if NOPE is defined %}yes{% else %}no{% endif %} {{ STDID is defined }}", "no True"},
		{"tilde", "{{ 'student' ~ STDID }}", "student3"},
		{"int", "{{ STDID | int + 1 }}", "4"},
		{"set, range, for", "{% set m = WODAPPMAX|int + 1 %}{% for s in range(WODAPPMIN|int, m|int) %}{{ s|string }},{% endfor %}", "2,3,4,"},
		{"trim_blocks", "{% if STDID %}\nx\n{% endif %}\ny", "x\ny"},
		{"no lstrip_blocks", "  {% if STDID %}\nx\n  {% endif %}\n", "  x\n  "},
		{"trailing newline kept", "x\n", "x\n"},
		{"CRLF becomes LF", "a\r\nb\r\n", "a\nb\n"},
		{"none", "{{ none }}{{ None }}", ""},
		{"variable hostvars ignored", "{{ hostvars['localhost']['STDID'] }}", "3"},
	}
	r := NewRenderer()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := vars
			if tt.name == "hostvars with another host name" {
				v = vars.Clone()
				v["inventory_hostname"] = "backend.example.com"
			}
			if tt.name == "variable hostvars ignored" {
				v = vars.Clone()
				v["hostvars"] = "not a map"
			}
			got, err := r.RenderFile("f.txt", []byte(tt.in), v)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestRenderFileErrors(t *testing.T) {
	vars := Vars{"A": "a", "MODEWS": "WKSHP"}
	tests := []struct {
		name, file, in string
		kind           ErrorKind
		want           string // the whole Error text
		undefined      string
	}{
		{"undefined", "WKSHP-API101/1-WKSHP-API.ipynb", "{\n\n  \"x\": \"{{ A }}:{{ HTTPPORT }}\"\n}", KindUndefined,
			`WKSHP-API101/1-WKSHP-API.ipynb:3:20: undefined variable "HTTPPORT"`, "HTTPPORT"},
		{"undefined in a nested if", "f.txt", "x\n{% if A %}\n{% if A %}\n\n {{ B }}{% endif %}{% endif %}", KindUndefined,
			`f.txt:5:5: undefined variable "B"`, "B"},
		{"undefined condition", "f.txt", "\n{% if NOPE == 'x' %}{% endif %}", KindUndefined,
			`f.txt:2:7: undefined variable "NOPE"`, "NOPE"},
		{"undefined after a defined test", "f.txt", "{% if B is defined %}{% endif %}{{ B ~ A }}", KindUndefined,
			`f.txt:1:36: undefined variable "B"`, "B"},
		{"undefined hostvars key", "f.txt", "ssh {{ hostvars[inventory_hostname]['IP-WKSHP-Ansible101'] }}", KindUndefined,
			`f.txt:1:37: undefined variable "IP-WKSHP-Ansible101" (hostvars[inventory_hostname]['IP-WKSHP-Ansible101'])`,
			"IP-WKSHP-Ansible101"},
		{"unknown filter", "f.txt", "\n{{ A | b64encode }}", KindRender, `f.txt:2: unknown filter "b64encode"`, ""},
		{"missing attribute", "f.txt", "{{ A.b }}", KindRender, `f.txt:1: A.b: Unable to evaluate A.b: attribute 'b' not found`, ""},
		{"missing endif", "f.txt", "{% if A %}\nno end", KindSyntax,
			`f.txt:2:7: syntax error: Unexpected EOF, expected tag elif or else or endif.`, ""},
		{"unclosed comment", "f.txt", "a\n{# no end", KindSyntax, `f.txt:2:3: syntax error: unclosed comment`, ""},
		{"missing endraw", "f.txt", "a\n {% raw %}x", KindSyntax,
			`f.txt:2:11: syntax error: Unable to find raw closing controlStructure`, ""},
		{"include refused", "f.txt", "{% include '/etc/passwd' %}", KindRender, "", ""},
		{"invalid JSON after rendering", "nb.ipynb", "{\n \"a\": \"{{ A }}\",\n \"b\": \"say \"hi\"\"\n}\n", KindJSON,
			`nb.ipynb:3:13: the rendered notebook is not valid JSON: invalid character 'h' after object key:value pair`, ""},
		{"trailing garbage", "nb.ipynb", "{}\n{{ A }}", KindJSON,
			`nb.ipynb:2:1: the rendered notebook is not valid JSON: invalid character 'a' after top-level value`, ""},
	}
	r := NewRenderer()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := r.RenderFile(tt.file, []byte(tt.in), vars)
			var te *TemplateError
			if !errors.As(err, &te) {
				t.Fatalf("got %q, %v; want a *TemplateError", out, err)
			}
			if te.Kind != tt.kind || te.Name != tt.undefined || te.File != tt.file {
				t.Errorf("got kind %q name %q file %q, want %q %q %q", te.Kind, te.Name, te.File, tt.kind, tt.undefined, tt.file)
			}
			if tt.want != "" && err.Error() != tt.want {
				t.Errorf("got  %s\nwant %s", err, tt.want)
			}
			if strings.Contains(err.Error(), "failed to parse template") {
				t.Errorf("the message quotes the template: %s", err)
			}
		})
	}
}

// TestRenderConcurrent renders with one Renderer from many goroutines; run
// with -race.
func TestRenderConcurrent(t *testing.T) {
	r := NewRenderer()
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			vars := Vars{"STDID": fmt.Sprint(i)}
			for range 20 {
				got, err := r.RenderFile("f.txt", []byte("{% set x = STDID %}{{ x }}{% raw %}\n{{y}}{% endraw %}"), vars)
				if want := fmt.Sprint(i) + "\n{{y}}"; err != nil || string(got) != want {
					t.Errorf("got %q, %v; want %q", got, err, want)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestTemplated(t *testing.T) {
	for name, want := range map[string]bool{
		"0-ReadMeFirst.ipynb": true, "Data/env.sh": true, "a/b/c.py": true, "x.yaml": true, "x.src": true,
		"main.tf": true, ".env": true, "prod.env": true, "Variables.ps1": true, "sub/Variables.ps1": true,
		"Pictures/logo.png": false, "wod.yml": false, "ansible_1.yml": false, "README.md": false,
		"templates/lab3.2.txt.j2": false, "hello.go": false, "variables.ps1": false, "x.yaml.bak": false,
	} {
		if got := Templated(name); got != want {
			t.Errorf("Templated(%q) = %v, want %v", name, got, want)
		}
	}
}
