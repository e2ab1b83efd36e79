package httpapi_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"testing"

	"github.com/wod-dev/wod/httpapi"
)

// The HTTP round trips (wod up, GitHub's and GitLab's headers) are in
// cmd/wod's TestContentFromGit; this covers the forms of a bad signature.
func TestVerifyContentHook(t *testing.T) {
	t.Parallel()
	body := []byte(`{"ref":"refs/heads/main"}`)
	mac := hmac.New(sha256.New, []byte("the-secret"))
	mac.Write(body)
	good := "sha256=" + hex.EncodeToString(mac.Sum(nil))
	for _, c := range []struct {
		name, secret, github, gitlab string
		want                         bool
	}{
		{"GitHub", "the-secret", good, "", true},
		{"GitLab", "the-secret", "", "the-secret", true},
		{"nothing", "the-secret", "", "", false},
		{"no secret configured", "", good, "", false},
		{"no secret configured, empty token", "", "", "", false},
		{"sha1 form", "the-secret", "sha1=" + good[7:], "", false},
		{"truncated", "the-secret", good[:len(good)-2], "", false},
		{"another secret", "other", good, "", false},
		{"GitLab, another token", "the-secret", "", "the-secre", false},
		{"a bad GitHub signature is not saved by a GitLab token", "the-secret", "sha256=00", "the-secret", false},
	} {
		if got := httpapi.VerifyContentHook(c.secret, c.github, c.gitlab, body); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}
