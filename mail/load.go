package mail

import (
	"embed"
	"fmt"
	htmltemplate "html/template"
	"os"
	"path/filepath"
	"slices"
	"strings"
	texttemplate "text/template"

	"github.com/wod-dev/wod"
)

// The embedded templates: for each kind, <kind>.subject.tmpl and
// <kind>.txt.tmpl (text/template) and <kind>.html.tmpl (html/template), plus
// the two layouts that every kind's text and HTML body are parsed with.
//
//go:embed templates/*
var embedded embed.FS

const (
	// layoutHTML is the page every HTML body is drawn in. It calls the
	// kind's "heading" and "content" templates and its optional "action"
	// block, and defines "button".
	layoutHTML = "layout.html.tmpl"
	// layoutText defines "greeting" and "footer" for the text bodies.
	layoutText = "layout.txt.tmpl"
)

// source is one template's text and where it came from, for errors.
type source struct {
	text   string
	origin string
}

// templateNames lists every template file name the renderer uses.
func templateNames() []string {
	names := []string{layoutHTML, layoutText}
	for _, k := range Kinds() {
		names = append(names, string(k)+".subject.tmpl", string(k)+".txt.tmpl", string(k)+".html.tmpl")
	}
	return names
}

// loadSources reads the embedded templates, then replaces those that
// overrideDir holds a file of the same name for. A file there that matches
// no template name is an error, so that a typo does not silently leave the
// embedded template in use. Dot files (editor swap files, .gitkeep) are
// ignored.
func loadSources(overrideDir string) (map[string]source, error) {
	names := templateNames()
	srcs := make(map[string]source, len(names))
	for _, n := range names {
		b, err := embedded.ReadFile("templates/" + n)
		if err != nil {
			return nil, fmt.Errorf("embedded mail template %s: %w", n, err)
		}
		srcs[n] = source{text: string(b), origin: "embedded templates/" + n}
	}
	if overrideDir == "" {
		return srcs, nil
	}
	entries, err := os.ReadDir(overrideDir)
	if err != nil {
		return nil, fmt.Errorf("mail template directory: %w", err)
	}
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") {
			continue
		}
		path := filepath.Join(overrideDir, name)
		if !slices.Contains(names, name) {
			return nil, fmt.Errorf("mail template %s: unknown template name (known: %s)",
				path, strings.Join(names, ", "))
		}
		info, err := os.Stat(path) // follows symbolic links, as ReadFile will
		if err != nil {
			return nil, fmt.Errorf("mail template %s: %w", path, err)
		}
		if !info.Mode().IsRegular() {
			return nil, fmt.Errorf("mail template %s: not a regular file", path)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("mail template %s: %w", path, err)
		}
		srcs[name] = source{text: string(b), origin: path}
	}
	return srcs, nil
}

// parseSet parses the templates of kind k. Templates are named after their
// file, so that errors from text/template and html/template name the file
// and the line; the wrapping names where the file came from.
func parseSet(k wod.MailKind, srcs map[string]source, funcs map[string]any) (*templateSet, error) {
	subjectName, textName, htmlName := string(k)+".subject.tmpl", string(k)+".txt.tmpl", string(k)+".html.tmpl"
	set := &templateSet{}

	src := srcs[subjectName]
	t, err := texttemplate.New(subjectName).Option("missingkey=error").Funcs(funcs).Parse(src.text)
	if err != nil {
		return nil, fmt.Errorf("mail template %s: %w", src.origin, err)
	}
	set.subject = t

	layout := srcs[layoutText]
	t, err = texttemplate.New(layoutText).Option("missingkey=error").Funcs(funcs).Parse(layout.text)
	if err != nil {
		return nil, fmt.Errorf("mail template %s: %w", layout.origin, err)
	}
	src = srcs[textName]
	if t, err = t.New(textName).Parse(src.text); err != nil {
		return nil, fmt.Errorf("mail template %s: %w", src.origin, err)
	}
	set.text = t

	layout = srcs[layoutHTML]
	h, err := htmltemplate.New(layoutHTML).Option("missingkey=error").Funcs(funcs).Parse(layout.text)
	if err != nil {
		return nil, fmt.Errorf("mail template %s: %w", layout.origin, err)
	}
	src = srcs[htmlName]
	if _, err = h.New(htmlName).Parse(src.text); err != nil {
		return nil, fmt.Errorf("mail template %s: %w", src.origin, err)
	}
	set.html = h // executed by the layout's name: the kind's file only defines templates
	return set, nil
}
