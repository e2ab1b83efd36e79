package httpapi

import (
	"encoding/json"
	"html/template"
	"net/http"
	"slices"
	"sort"
	"strings"

	"github.com/danielgtaylor/huma/v2"
)

// docs renders the OpenAPI document as one self-contained page: no CDN, no
// JavaScript, readable on a phone.
func (s *Server) docs(w http.ResponseWriter, r *http.Request) {
	oapi := s.api.OpenAPI()
	type param struct {
		Name, In, Type, Doc string
		Required            bool
	}
	type op struct {
		Method, Path, ID, Summary, Description, Role, Body string
		Params                                             []param
		Statuses                                           []string
	}
	groups := map[string][]op{}
	for path, item := range oapi.Paths {
		for _, m := range []struct {
			name string
			o    *huma.Operation
		}{{"GET", item.Get}, {"POST", item.Post}, {"PUT", item.Put}, {"PATCH", item.Patch}, {"DELETE", item.Delete}} {
			if m.o == nil || m.o.Hidden {
				continue
			}
			o := op{Method: m.name, Path: path, ID: m.o.OperationID, Summary: m.o.Summary,
				Description: m.o.Description}
			if role, ok := m.o.Extensions["x-wod-role"].(string); ok {
				o.Role = role
			}
			for _, p := range m.o.Parameters {
				pp := param{Name: p.Name, In: p.In, Doc: p.Description, Required: p.Required}
				if p.Schema != nil {
					pp.Type = p.Schema.Type
					if len(p.Schema.Enum) > 0 {
						var vals []string
						for _, e := range p.Schema.Enum {
							if v, _ := e.(string); v != "" {
								vals = append(vals, v)
							}
						}
						pp.Type += " (" + strings.Join(vals, ", ") + ")"
					}
				}
				o.Params = append(o.Params, pp)
			}
			if m.o.RequestBody != nil {
				if c := m.o.RequestBody.Content["application/json"]; c != nil && c.Schema != nil {
					o.Body = schemaJSON(oapi, c.Schema)
				}
			}
			for code := range m.o.Responses {
				o.Statuses = append(o.Statuses, code)
			}
			sort.Strings(o.Statuses)
			tag := "Other"
			if len(m.o.Tags) > 0 {
				tag = m.o.Tags[0]
			}
			groups[tag] = append(groups[tag], o)
		}
	}
	var tags []string
	for t, ops := range groups {
		tags = append(tags, t)
		slices.SortFunc(ops, func(a, b op) int {
			if c := strings.Compare(a.Path, b.Path); c != 0 {
				return c
			}
			return strings.Compare(a.Method, b.Method)
		})
	}
	sort.Strings(tags)
	type group struct {
		Tag string
		Ops []op
	}
	var data struct {
		Title, Description, Version, Spec string
		Groups                            []group
	}
	data.Title, data.Description, data.Version = oapi.Info.Title, oapi.Info.Description, oapi.Info.Version
	data.Spec = APIPrefix + "/openapi.json"
	for _, t := range tags {
		data.Groups = append(data.Groups, group{t, groups[t]})
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := docsPage.Execute(w, data); err != nil {
		s.Logger.Error("render API docs", "error", err)
	}
}

// schemaJSON shows a request schema with its references resolved one level.
func schemaJSON(oapi *huma.OpenAPI, sch *huma.Schema) string {
	if sch.Ref != "" {
		if resolved := oapi.Components.Schemas.SchemaFromRef(sch.Ref); resolved != nil {
			sch = resolved
		}
	}
	fields := map[string]string{}
	for name, p := range sch.Properties {
		if p.Ref != "" {
			if resolved := oapi.Components.Schemas.SchemaFromRef(p.Ref); resolved != nil {
				p = resolved
			}
		}
		desc := p.Type
		if p.Type == "" && len(p.OneOf) > 0 {
			desc = "one of several types"
		}
		if slices.Contains(sch.Required, name) {
			desc += ", required"
		}
		if p.Description != "" {
			desc += " — " + p.Description
		}
		fields[name] = desc
	}
	b, _ := json.MarshalIndent(fields, "", "  ")
	return string(b)
}

var docsPage = template.Must(template.New("docs").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>
body{font:16px/1.5 system-ui,sans-serif;max-width:60rem;margin:0 auto;padding:1rem;color:#1b1b1b}
h1{font-size:1.6rem}h2{border-bottom:2px solid #01a982;padding-bottom:.2rem;margin-top:2rem}
.op{border:1px solid #ddd;border-radius:6px;padding:.6rem .9rem;margin:.8rem 0}
.m{display:inline-block;min-width:4.2rem;font-weight:700;font-family:monospace}
.GET{color:#0a6}.POST{color:#06c}.PATCH{color:#b70}.DELETE{color:#c22}
code,pre{font-family:ui-monospace,monospace;font-size:.9rem}pre{background:#f6f6f6;padding:.5rem;overflow:auto}
.role{background:#fde9c8;border-radius:4px;padding:0 .4rem;font-size:.85rem}.pub{background:#dff3e9}
table{border-collapse:collapse;font-size:.9rem}td,th{border:1px solid #ddd;padding:.2rem .5rem;text-align:left}
</style></head><body>
<h1>{{.Title}} <small>{{.Version}}</small></h1>
<p>{{.Description}}</p>
<p>Machine-readable: <a href="{{.Spec}}">{{.Spec}}</a> (OpenAPI 3.1). Errors always have the shape
<code>{"status", "code", "message", "errors": [{"field", "message"}]}</code>.</p>
{{range .Groups}}<h2>{{.Tag}}</h2>
{{range .Ops}}<div class="op" id="{{.ID}}"><div><span class="m {{.Method}}">{{.Method}}</span> <code>{{.Path}}</code>
{{if .Role}}<span class="role">{{.Role}}</span>{{else}}<span class="role pub">public</span>{{end}}</div>
<p><strong>{{.Summary}}</strong>. {{.Description}}</p>
{{if .Params}}<table><tr><th>parameter</th><th>in</th><th>type</th><th>description</th></tr>
{{range .Params}}<tr><td><code>{{.Name}}</code>{{if .Required}} *{{end}}</td><td>{{.In}}</td><td>{{.Type}}</td><td>{{.Doc}}</td></tr>{{end}}</table>{{end}}
{{if .Body}}<p>JSON body:</p><pre>{{.Body}}</pre>{{end}}
<p>Responses: {{range $i, $s := .Statuses}}{{if $i}}, {{end}}{{$s}}{{end}}</p></div>
{{end}}{{end}}
</body></html>
`))
