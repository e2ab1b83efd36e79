package content

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"github.com/nikolalohinski/gonja/v2/builtins"
	"github.com/nikolalohinski/gonja/v2/config"
	"github.com/nikolalohinski/gonja/v2/exec"
	"github.com/nikolalohinski/gonja/v2/loaders"
	"github.com/nikolalohinski/gonja/v2/logging"
	"github.com/sirupsen/logrus"
)

// Renderer renders workshop files the way the original's Ansible template
// module does: Jinja2 with trim_blocks, no lstrip_blocks, the trailing
// newline kept and undefined variables as errors (StrictUndefined), applied
// to the raw file text (a notebook is JSON text). It is built once and is
// safe for concurrent use: every call parses its own template and renders it
// in its own context.
type Renderer struct {
	cfg *config.Config
	env *exec.Environment
}

// NewRenderer returns a Renderer with the Ansible template-module settings.
func NewRenderer() *Renderer {
	silenceGonja()
	cfg := config.New()
	cfg.TrimBlocks = true          // Ansible's default for the template module
	cfg.LeftStripBlocks = false    // idem
	cfg.KeepTrailingNewline = true // Ansible restores the trailing newlines Jinja2 drops
	cfg.StrictUndefined = true     // an undefined variable fails the task in the original
	cfg.AutoEscape = false         // notebooks are not HTML
	return &Renderer{
		cfg: cfg,
		env: &exec.Environment{
			// Globals (range, dict, …) sit below the variables: a variable of
			// the same name wins, as in Jinja2. gonja knows None but not
			// Jinja2's lowercase literal none; both print as "", which is
			// what Ansible's finalize makes of None.
			Context: exec.EmptyContext().Update(builtins.GlobalFunctions).Update(builtins.GlobalVariables).
				Update(exec.NewContext(map[string]any{"none": nil})),
			// Our own copy of the filter set, so that registering an
			// Ansible filter here would never change gonja's globals.
			Filters:           exec.NewFilterSet(map[string]exec.FilterFunction{}).Update(builtins.Filters),
			Tests:             builtins.Tests,
			ControlStructures: builtins.ControlStructures,
			Methods:           builtins.Methods,
		},
	}
}

// RenderFile renders one file's text with vars and returns the result. Name
// is the file's name in errors, e.g. "WKSHP-API101/1-WKSHP-API.ipynb"; when
// it ends in .ipynb the result must also be valid JSON. A failure is a
// *TemplateError naming the file, the line (and column when known) and the
// problem, such as `WKSHP-API101/1-WKSHP-API.ipynb:213:5: undefined variable
// "HTTPPORT"`.
//
// The template sees vars, plus inventory_hostname (vars' own, else
// DefaultInventoryHostname) and hostvars, a map from inventory_hostname to
// all the variables, as in Ansible. As in Jinja2, "\r\n" and "\r" line ends
// come out as "\n".
func (r *Renderer) RenderFile(name string, text []byte, vars Vars) ([]byte, error) {
	src := normalizeNewlines(string(text))
	cfg := r.cfg.Inherit() // gonja keeps a pointer: give each template its own
	toks := lex(src, cfg)
	if err := lexError(name, src, toks); err != nil {
		return nil, err
	}
	src = keepRawNewline(src, toks, cfg)
	tpl, err := exec.NewTemplate(name, cfg, sourceLoader{name: name, src: src}, r.env)
	if err != nil {
		return nil, parseError(name, err)
	}
	var out bytes.Buffer
	if err := tpl.Execute(&out, exec.NewContext(templateContext(vars))); err != nil {
		return nil, execError(name, toks, err)
	}
	if strings.HasSuffix(name, ".ipynb") {
		if err := checkJSON(name, out.Bytes()); err != nil {
			return nil, err
		}
	}
	return out.Bytes(), nil
}

// templateContext is what a template sees: the variables, plus hostvars and
// inventory_hostname as Ansible provides them, because the original's
// notebooks read keys with dashes through
// hostvars[inventory_hostname]['IP-WKSHP-Ansible101'].
func templateContext(vars Vars) map[string]any {
	ctx := make(map[string]any, len(vars)+2)
	host := DefaultInventoryHostname
	for k, v := range vars {
		if k == "hostvars" {
			continue // always built here, from the variables themselves
		}
		ctx[k] = v
	}
	if h, ok := vars["inventory_hostname"].(string); ok && h != "" {
		host = h
	}
	ctx["inventory_hostname"] = host
	// A copy without hostvars, so that the context holds no cycle.
	self := make(map[string]any, len(ctx))
	for k, v := range ctx {
		self[k] = v
	}
	ctx["hostvars"] = map[string]any{host: self}
	return ctx
}

// normalizeNewlines turns "\r\n" and "\r" into "\n", as Jinja2's lexer (and
// gonja's) does, so that the offsets of keepRawNewline are gonja's offsets.
func normalizeNewlines(s string) string {
	if !strings.Contains(s, "\r") {
		return s
	}
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n")
}

// sourceLoader hands gonja the one template being rendered. Include, import
// and extends are not used by the original's content; refusing them here
// also keeps a template from reading files of the host.
type sourceLoader struct{ name, src string }

func (l sourceLoader) Read(path string) (io.Reader, error) {
	if path != l.name {
		return nil, fmt.Errorf("%q: include, import and extends are not supported", path)
	}
	return strings.NewReader(l.src), nil
}

func (l sourceLoader) Resolve(path string) (string, error) {
	if path != l.name {
		return "", fmt.Errorf("%q: include, import and extends are not supported", path)
	}
	return path, nil
}

func (l sourceLoader) Inherit(string) (loaders.Loader, error) { return l, nil }

var silenceOnce sync.Once

// silenceGonja keeps gonja from writing to stderr. This is the one piece of
// global state the package touches, once per process:
//   - gonja's own trace switch (logging.SetEnabled), which only gonja reads;
//   - logrus's standard logger, which gonja writes a few errors to (e.g.
//     "Value.Integer() not available"); it is silenced only while it still
//     has its default output (os.Stderr), so that a program that configured
//     logrus for itself keeps its settings. Nothing else in wod uses logrus.
//
// We do not call gonja.SetLoggerOutput, which sets logrus's output
// unconditionally.
func silenceGonja() {
	silenceOnce.Do(func() {
		logging.SetEnabled(false)
		if std := logrus.StandardLogger(); std.Out == os.Stderr {
			logrus.SetOutput(io.Discard)
		}
	})
}
