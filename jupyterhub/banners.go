package jupyterhub

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Banner is an announcement on every page of the managed hub.
type Banner struct {
	Text    string // plain text
	Warning bool
}

const (
	templatesDir = "templates"
	bannersFile  = "wod-banners.html"
	// pageTemplate replaces the stock page.html's announcement with the
	// banners file on every page (login, home, spawn, logout…). Jinja
	// reloads a template whose file changed, so new banners show without a
	// restart of the hub.
	pageTemplate = `{# Written by wod at every start of the hub: the platform's announcements on every page. #}
{% extends "templates/page.html" %}
{% block announcement %}{% include "` + bannersFile + `" ignore missing %}{% endblock %}
`
)

// writeTemplates lays out the hub's template directory with the banners.
func writeTemplates(dir string, banners []Banner) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("jupyterhub: templates: %w", err)
	}
	if err := writeFileAtomic(filepath.Join(dir, "page.html"), []byte(pageTemplate), 0o644); err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(dir, bannersFile), []byte(renderBanners(banners)), 0o644)
}

// bannerEscaper escapes, in one pass, what HTML reads as markup (as
// html.EscapeString does) and the braces of Jinja's delimiters.
var bannerEscaper = strings.NewReplacer("&", "&amp;", "'", "&#39;", "<", "&lt;", ">", "&gt;", `"`, "&#34;",
	"{", "&#123;", "}", "&#125;", "\r\n", "<br>", "\n", "<br>")

// renderBanners writes the banners as HTML that neither HTML nor Jinja
// reads as markup: the file is a template, so braces are escaped too.
func renderBanners(banners []Banner) string {
	var b strings.Builder
	for _, bn := range banners {
		text := strings.TrimSpace(bn.Text)
		if text == "" {
			continue
		}
		text = bannerEscaper.Replace(text)
		class := "alert-info"
		if bn.Warning {
			class = "alert-warning"
		}
		fmt.Fprintf(&b, "<div class=\"container text-center announcement alert %s\">%s</div>\n", class, text)
	}
	return b.String()
}

// SetBanners shows the banners on the hub's pages from the next page on;
// it writes only when they changed.
func (m *Managed) SetBanners(banners []Banner) error {
	text := renderBanners(banners)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.set == nil {
		return fmt.Errorf("jupyterhub: the managed hub is not started")
	}
	if text == m.banners {
		return nil
	}
	if err := writeFileAtomic(filepath.Join(m.set.cfg.TemplateDir, bannersFile), []byte(text), 0o644); err != nil {
		return err
	}
	m.banners = text
	return nil
}
