package jupyterhub

import "testing"

func TestRenderBanners(t *testing.T) {
	got := renderBanners([]Banner{
		{Text: "  Break at {{ 7*7 }} {% raw %} {# x #}\n<b>\"Tom & Jerry's\"</b>  "},
		{Text: "   "},
		{Text: "Restart at 5", Warning: true},
	})
	want := `<div class="container text-center announcement alert alert-info">Break at &#123;&#123; 7*7 &#125;&#125; &#123;% raw %&#125; &#123;# x #&#125;<br>&lt;b&gt;&#34;Tom &amp; Jerry&#39;s&#34;&lt;/b&gt;</div>
<div class="container text-center announcement alert alert-warning">Restart at 5</div>
`
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if renderBanners(nil) != "" {
		t.Error("no banners, some HTML")
	}
}
