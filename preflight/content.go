package preflight

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/content"
	"github.com/wod-dev/wod/gitcontent"
)

// checkContentRepos asks each --content-repo repository for its branch,
// with its credentials, writing nothing.
func (c *Checker) checkContentRepos(ctx context.Context, add addCheck) {
	for _, v := range c.Config.ContentRepos {
		spec, err := gitcontent.ParseSpec(v)
		if err != nil {
			add("content repository", Fail, "%v", err)
			continue
		}
		lctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		head, err := gitcontent.Reachable(lctx, spec)
		cancel()
		if err != nil {
			add("content repository", Fail, "%v", err)
			continue
		}
		add("content repository", OK, "%s is reachable, at %s", spec.Display(), head[:12])
	}
}

// checkContent renders every workshop of --content for a sample student,
// and looks for the compilers of the workshops that compile scripts.
func (c *Checker) checkContent(ctx context.Context, add addCheck) {
	c.checkContentRepos(ctx, add)
	dirs := c.Config.Content
	if len(dirs) == 0 && len(c.Config.ContentRepos) > 0 {
		return
	}
	if len(dirs) == 0 {
		add("content", Skip, "no --content: wod up uses the bundled sample")
		return
	}
	ws, err := content.Load(dirs)
	if err != nil {
		add("content", Fail, "%s", explainLines(err))
		return
	}
	bad := 0
	for _, w := range ws {
		rep, err := content.CheckWorkshop(w, c.Vars, dirs)
		if err != nil {
			add("content", Fail, "%s: %v", w.Slug, err)
			bad++
			continue
		}
		if !rep.OK() {
			status := Fail
			if c.Config.ContentCheck == "warn" {
				status = Warn
			}
			add("content", status, "%s", strings.TrimSpace(rep.String()))
			bad++
		}
	}
	if bad == 0 {
		add("content", OK, "%d workshop(s) in %s render for a sample student", len(ws), strings.Join(dirs, ", "))
	}
	var compile []string
	for _, w := range ws {
		if len(w.Compile) > 0 {
			compile = append(compile, w.Slug)
		}
	}
	if len(compile) > 0 {
		missing := missingTools("shc", "cc")
		if len(missing) > 0 {
			add("compile", Fail, "%s compile scripts, but this machine lacks %s: apt-get install shc gcc",
				strings.Join(compile, ", "), strings.Join(missing, " and "))
		} else {
			add("compile", OK, "shc and a C compiler for %s", strings.Join(compile, ", "))
		}
	}
}

// explainLines flattens a content error with its fields, one per line.
func explainLines(err error) string {
	var we *wod.Error
	if !errors.As(err, &we) {
		return err.Error()
	}
	lines := []string{we.Message}
	for _, f := range we.Fields {
		lines = append(lines, "  "+f.Field+": "+f.Message)
	}
	return strings.Join(lines, "\n")
}
