package content

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/wod-dev/wod"
)

// SamplePassword is PASSSTU when Check renders a workshop.
const SamplePassword = "Sample-Passw0rd"

// Report is what Check found in one workshop folder.
type Report struct {
	// Workshop is the folder's name, e.g. WKSHP-API101.
	Workshop string
	// Files are the templated files rendered, slash paths in the folder.
	Files []string
	// Problems are every problem found, by file and line.
	Problems []Problem
	// Kernels are the Jupyter kernels its notebooks run on.
	Kernels []KernelNeed
}

// Problem is one problem of a templated file. An undefined variable is
// reported once per file, where it is first met.
type Problem struct {
	TemplateError
	// Modes are the MODEWS values the problem shows with (WKSHP, CHLG), both
	// for most problems; one when the problem is in a branch of
	// `{% if MODEWS == … %}`.
	Modes []string
}

func (p Problem) String() string {
	s := p.TemplateError.Error()
	if len(p.Modes) == 1 {
		s += " (with MODEWS=" + p.Modes[0] + " only)"
	}
	return s
}

// OK reports whether the workshop has no problem.
func (r Report) OK() bool { return len(r.Problems) == 0 }

// String lists the problems for a human, one per line.
func (r Report) String() string {
	var b strings.Builder
	switch len(r.Problems) {
	case 0:
		fmt.Fprintf(&b, "%s: %s render for a sample student: ok\n", r.Workshop, plural(len(r.Files), "templated file"))
	default:
		fmt.Fprintf(&b, "%s: %s in %s:\n", r.Workshop, plural(len(r.Problems), "problem"), plural(len(r.Files), "templated file"))
		for _, p := range r.Problems {
			b.WriteString("  " + p.String() + "\n")
		}
	}
	return b.String()
}

// plural says "1 problem", "2 problems".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// Check renders every templated file of the workshop folder dir for a sample
// student, as `wod workshop test` does: STDID 1 (first seat 1), PASSSTU
// SamplePassword, WORKSHOP the folder's name, with MODEWS WKSHP and again
// with CHLG, over vars (the configuration: branding, appliances…; see
// BuildVars). It reports every problem, not the first: each undefined
// variable of each file, with the line and column of its first use (the
// file is rendered again with the variable defined as a placeholder, until
// it renders), syntax and rendering errors, and rendered notebooks that are
// not valid JSON. Variables that create hooks write (HTTPPORT, tokens…) are
// not known here: pass sample values in vars to check what follows them.
//
// Files are read through an os.Root, and symbolic links are skipped, as
// Deploy does. The error is for a folder that cannot be read.
func Check(dir string, vars Vars) (Report, error) {
	return check(dir, vars, "", nil)
}

// script is a file of a content directory's scripts folder, rendered for
// the student as the workshop's files are.
type script struct {
	name string // as reported: scripts/<name>
	text []byte
}

// check is Check with the sample student's appliance address, if any, and
// the scripts the workshop compiles.
func check(dir string, vars Vars, appliance string, scripts []script) (Report, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return Report{}, fmt.Errorf("content: check %s: %w", dir, err)
	}
	rep := Report{Workshop: filepath.Base(abs)}
	root, err := os.OpenRoot(abs)
	if err != nil {
		return rep, fmt.Errorf("content: check: %w", err)
	}
	defer root.Close()
	files, err := templatedFiles(root.FS())
	if err != nil {
		return rep, fmt.Errorf("content: check %s: %w", dir, err)
	}
	rep.Files = files
	rep.Kernels = Kernels(root.FS())
	r := NewRenderer()
	var c checker
	for _, mode := range []wod.SessionType{wod.SessionWorkshop, wod.SessionChallenge} {
		base, err := BuildVars(vars, nil, Student{Number: 1, Password: SamplePassword, Session: mode,
			Workshop: rep.Workshop, SeatMin: 1, Appliance: appliance})
		if err != nil {
			return rep, err
		}
		for _, f := range files {
			text, err := root.ReadFile(filepath.FromSlash(f))
			if err != nil {
				return rep, fmt.Errorf("content: check: %w", err)
			}
			c.file(r, path.Join(rep.Workshop, f), text, base, Mode(mode))
		}
		for _, s := range scripts {
			c.file(r, s.name, s.text, base, Mode(mode))
		}
	}
	for _, s := range scripts {
		rep.Files = append(rep.Files, s.name)
	}
	slices.SortStableFunc(c.problems, func(a, b Problem) int {
		return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line), cmp.Compare(a.Column, b.Column))
	})
	rep.Problems = c.problems
	return rep, nil
}

// CheckWorkshop checks a workshop loaded by Load: its folder is
// w.ContentDir/w.Slug. The import calls it for every loaded workshop and
// shows the reports; a report that is not OK means a participant's
// deployment would fail (an undefined variable) or give a broken notebook.
// Beyond Check, it checks what the workshop's settings need: the appliance's
// address, and the scripts it compiles, looked up in the scripts folders of
// contentDirs (the agent's content directories, public first; none means
// w.ContentDir) and rendered as the agent would.
func CheckWorkshop(w *wod.Workshop, vars Vars, contentDirs []string) (Report, error) {
	if w.ContentDir == "" || !wod.ValidSlug(w.Slug) {
		return Report{Workshop: w.Slug}, fmt.Errorf("content: check: workshop %q has no content folder", w.Slug)
	}
	if len(contentDirs) == 0 {
		contentDirs = []string{w.ContentDir}
	}
	var scripts []script
	var missing []error
	for _, name := range w.Compile {
		p, err := ScriptPath(contentDirs, name)
		var text []byte
		if err == nil {
			text, err = os.ReadFile(p)
		}
		if err != nil {
			missing = append(missing, err)
			continue
		}
		scripts = append(scripts, script{name: path.Join("scripts", name), text: text})
	}
	// The sample student sits on the first seat; the last seat is checked
	// too: a multi-appliance range must fit its network.
	appliance, err := ApplianceTarget(vars, w.Slug, w.Appliance, w.SeatMin, w.SeatMin)
	if err == nil {
		_, err = ApplianceTarget(vars, w.Slug, w.Appliance, max(w.SeatMax, w.SeatMin), w.SeatMin)
	}
	if err != nil {
		// Reported once, below, not again by every file that uses it.
		appliance = sampleAppliance
	}
	rep, cerr := check(filepath.Join(w.ContentDir, w.Slug), vars, appliance, scripts)
	if cerr != nil {
		return rep, cerr
	}
	yml := path.Join(w.Slug, "wod.yml")
	for _, err := range missing {
		rep.Problems = append(rep.Problems, Problem{
			TemplateError: TemplateError{File: yml, Kind: KindConfig, Name: "compile", Message: "compile: " + err.Error()},
			Modes:         []string{ModeWorkshop, ModeChallenge}})
	}
	if err != nil {
		rep.Problems = append(rep.Problems, Problem{
			TemplateError: TemplateError{File: yml, Kind: KindConfig, Name: ApplianceKey(w.Slug),
				Message: strings.TrimPrefix(err.Error(), "content: ")},
			Modes: []string{ModeWorkshop, ModeChallenge}})
	}
	return rep, nil
}

// ScriptPath returns the path of scripts/<name> in the last of the content
// directories that has it (a private overlay wins), as the agent looks up the
// scripts a workshop compiles.
func ScriptPath(contentDirs []string, name string) (string, error) {
	if name != filepath.Base(name) || name == "." || name == ".." {
		return "", fmt.Errorf("%q is not a script name", name)
	}
	for i := len(contentDirs) - 1; i >= 0; i-- {
		p := filepath.Join(contentDirs[i], "scripts", name)
		if info, err := os.Stat(p); err == nil && info.Mode().IsRegular() {
			return p, nil
		}
	}
	return "", fmt.Errorf("script %q is in none of the scripts folders of %s", name, strings.Join(contentDirs, ", "))
}

// sampleAppliance stands in for an appliance address the configuration
// lacks while the files are checked (an address reserved for documentation).
const sampleAppliance = "192.0.2.1"

// templatedFiles lists the files Deploy would render, in lexical order.
func templatedFiles(fsys fs.FS) ([]string, error) {
	var files []string
	err := fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() && deployed(name) && Templated(name) {
			files = append(files, name)
		}
		return nil
	})
	return files, err
}

// checker gathers the problems of the files, merging those seen in both
// modes.
type checker struct {
	problems []Problem
}

// file renders one file until it renders or fails for another reason than
// an undefined variable, defining each undefined one as a placeholder.
func (c *checker) file(r *Renderer, name string, text []byte, base Vars, mode string) {
	vars := base.Clone()
	// Each round defines one more variable, so there are at most as many
	// rounds as the file has names; the bound is a guard, not a limit.
	for range len(text) + 1 {
		_, err := r.RenderFile(name, text, vars)
		if err == nil {
			return
		}
		var te *TemplateError
		if !errors.As(err, &te) {
			te = &TemplateError{File: name, Kind: KindRender, Message: err.Error()}
		}
		c.add(*te, mode)
		if te.Kind != KindUndefined {
			return
		}
		if _, ok := vars[te.Name]; ok {
			return // defined, yet reported undefined: do not loop
		}
		vars[te.Name] = "<" + te.Name + ">"
	}
}

// add records a problem, or the mode of one already recorded. An undefined
// variable is one problem per file, wherever each mode first meets it.
func (c *checker) add(te TemplateError, mode string) {
	i := slices.IndexFunc(c.problems, func(p Problem) bool {
		if te.Kind == KindUndefined {
			return p.Kind == KindUndefined && p.File == te.File && p.Name == te.Name
		}
		return p.TemplateError == te
	})
	if i < 0 {
		c.problems = append(c.problems, Problem{TemplateError: te, Modes: []string{mode}})
		return
	}
	if !slices.Contains(c.problems[i].Modes, mode) {
		c.problems[i].Modes = append(c.problems[i].Modes, mode)
	}
}
