package content

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// ReadVarsFile reads a variables file written by a create hook (the
// original's "pass file", variables_<WKSHP>_<STDID>.yml, which the
// create-WKSHP-*.sh scripts append `KEY: value` lines to): see ParseVars. A
// missing or empty file gives no variables, since a hook need not write one.
func ReadVarsFile(path string) (Vars, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Vars{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("content: variables file: %w", err)
	}
	return ParseVars(path, data)
}

// envLine is one KEY=VALUE line of a shell-style variables file.
var envLine = regexp.MustCompile(`^(?:export\s+)?([A-Za-z_][A-Za-z0-9_-]*)=(.*)$`)

// ParseVars reads variables from data, a YAML mapping (`HTTPPORT: 18061`, the
// original's format, with YAML's types) or, failing that, shell-style
// KEY=VALUE lines (values are strings; `export `, surrounding quotes, blank
// lines and # comments are allowed). Values encrypted with ansible-vault
// (`!vault`) are refused: wod keeps no vault password, and a hook can write
// the value itself. Name is used in errors.
func ParseVars(name string, data []byte) (Vars, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return Vars{}, nil
	}
	var doc yaml.Node
	yerr := yaml.Unmarshal(data, &doc)
	if yerr == nil && len(doc.Content) == 1 && resolve(doc.Content[0]).Kind == yaml.MappingNode {
		return yamlVars(name, resolve(doc.Content[0]))
	}
	v, line, ok := envVars(data)
	if ok {
		return v, nil
	}
	if yerr != nil {
		return nil, fmt.Errorf("content: %s: neither YAML (%s) nor KEY=VALUE lines (line %d)",
			name, strings.TrimPrefix(yerr.Error(), "yaml: "), line)
	}
	return nil, fmt.Errorf("content: %s: line %d: want a YAML mapping (KEY: value) or KEY=VALUE lines", name, line)
}

// yamlVars decodes a YAML mapping of variables.
func yamlVars(name string, m *yaml.Node) (Vars, error) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, val := m.Content[i], m.Content[i+1]
		if k.Kind != yaml.ScalarNode || strings.TrimSpace(k.Value) == "" {
			return nil, fmt.Errorf("content: %s: line %d: a variable needs a name", name, k.Line)
		}
		if val.Tag == "!vault" {
			return nil, fmt.Errorf("content: %s: line %d: %s is encrypted with ansible-vault, which wod does not read: write the value in clear",
				name, val.Line, k.Value)
		}
	}
	v := Vars{}
	if err := m.Decode(&v); err != nil {
		return nil, fmt.Errorf("content: %s: %w", name, err)
	}
	return v, nil
}

// envVars reads KEY=VALUE lines. When a line is neither that, blank nor a
// comment, it returns its number and false.
func envVars(data []byte) (Vars, int, bool) {
	v := Vars{}
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		m := envLine.FindStringSubmatch(line)
		if m == nil {
			return nil, i + 1, false
		}
		v[m[1]] = unquote(m[2])
	}
	return v, 0, true
}

// unquote removes the quotes a shell would: "…" (with Go/shell-like
// escapes when they parse) or '…' (verbatim).
func unquote(s string) string {
	if len(s) >= 2 && s[0] == '\'' && s[len(s)-1] == '\'' {
		return s[1 : len(s)-1]
	}
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		if u, err := strconv.Unquote(s); err == nil {
			return u
		}
		return s[1 : len(s)-1]
	}
	return s
}
