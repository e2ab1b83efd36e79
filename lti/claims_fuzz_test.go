package lti_test

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/lti"
	"github.com/wod-dev/wod/lti/ltitest"
	"github.com/wod-dev/wod/store"
	"github.com/wod-dev/wod/store/storetest"
	"github.com/wod-dev/wod/testenv"
)

// fuzzTool is a tool with one platform, on SQLite, for the fuzz targets:
// login returns the state and nonce of a fresh launch.
type fuzzTool struct {
	tool  *lti.Tool
	plat  *ltitest.Platform
	clock *storetest.Clock
}

func newFuzzTool(f *testing.F) *fuzzTool {
	clock := storetest.NewClock(time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC))
	db := storetest.Open(f, store.SQLite, clock)
	plat := ltitest.New(f)
	if err := db.CreateLTIPlatform(context.Background(), &wod.LTIPlatform{Name: "moodle", Issuer: issuer, ClientID: clientID,
		DeploymentIDs: []string{"dep-1"}, AuthURL: "https://moodle.uni.example/mod/lti/auth.php", JWKSURL: plat.JWKSURL()}); err != nil {
		f.Fatal(err)
	}
	return &fuzzTool{tool: &lti.Tool{Platforms: db, Clock: clock, PublicURL: "http://wod.test"}, plat: plat, clock: clock}
}

func (ft *fuzzTool) login(t *testing.T) (state, nonce string) {
	to, err := ft.tool.Login(context.Background(), lti.LoginRequest{Issuer: issuer, LoginHint: "hint",
		TargetLinkURI: "http://wod.test/lti/launch"})
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	u, err := url.Parse(to)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query().Get("state"), u.Query().Get("nonce")
}

// refusal checks that a refused launch says why as the tool's own errors
// do: a bad or unverifiable token is the platform's fault, never the
// tool's (no EINTERNAL), and never a panic.
func refusal(t *testing.T, err error) {
	t.Helper()
	switch wod.ErrorCode(err) {
	case wod.EINVALID, wod.EUNAUTHORIZED, wod.EFORBIDDEN:
	default:
		t.Fatalf("refused with %q: %v", wod.ErrorCode(err), err)
	}
}

// FuzzLaunchClaims signs, as the platform, the claims of a valid launch
// with a fuzzed JSON object laid over them (every LTI and OpenID claim the
// tool reads, with any value of any type), and launches: the tool refuses
// with a reason or returns a launch that names a learner and a workshop (or
// a deep-linking request).
func FuzzLaunchClaims(f *testing.F) {
	for _, seed := range []string{
		`{}`,
		`{"email": ""}`,
		`{"sub": "  "}`,
		`{"name": "", "given_name": " Bo", "family_name": "Li "}`,
		`{"https://purl.imsglobal.org/spec/lti/claim/custom": {"workshop": 7}}`,
		`{"https://purl.imsglobal.org/spec/lti/claim/custom": null, "https://purl.imsglobal.org/spec/lti/claim/target_link_uri": "http://wod.test/lti/WKSHP-Target"}`,
		`{"https://purl.imsglobal.org/spec/lti/claim/custom": [], "https://purl.imsglobal.org/spec/lti/claim/target_link_uri": "%zz"}`,
		`{"https://purl.imsglobal.org/spec/lti/claim/version": "1.1"}`,
		`{"https://purl.imsglobal.org/spec/lti/claim/deployment_id": ["dep-1"]}`,
		`{"https://purl.imsglobal.org/spec/lti/claim/message_type": "LtiDeepLinkingRequest", "https://purl.imsglobal.org/spec/lti/claim/roles": ["http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"], "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings": {"deep_link_return_url": "https://moodle.uni.example/dl", "accept_types": ["ltiResourceLink"]}}`,
		`{"https://purl.imsglobal.org/spec/lti-ags/claim/endpoint": {"scope": ["https://purl.imsglobal.org/spec/lti-ags/scope/score"], "lineitem": "https://m/li"}}`,
		`{"https://purl.imsglobal.org/spec/lti/claim/context": "CS101", "azp": 1}`,
		`{"nonce": "another"}`,
	} {
		f.Add([]byte(seed))
	}
	ft := newFuzzTool(f)
	f.Fuzz(func(t *testing.T, over []byte) {
		defer testenv.StopHang(over)()
		var extra map[string]any
		if json.Unmarshal(over, &extra) != nil {
			return // the platform signs a JSON object: nothing else reaches the claims
		}
		state, nonce := ft.login(t)
		c := ltitest.LaunchClaims(issuer, clientID, nonce, ft.clock.Now())
		for k, v := range extra {
			switch k {
			case "iss", "aud", "exp", "nbf", "iat", "jti":
				continue // verified by the JWT library before any claim is read
			case "sub":
				if _, ok := v.(string); !ok {
					continue // the library types it; a platform's signer would too
				}
			}
			c[k] = v
		}
		l, err := ft.tool.Launch(context.Background(), ft.plat.SignFor(t, c), state)
		if err != nil {
			refusal(t, err)
			return
		}
		if l.Platform == nil || l.Platform.Issuer != issuer {
			t.Fatalf("a launch of no platform: %+v", l)
		}
		if l.DeepLink != nil {
			if l.DeepLink.Token == "" || !strings.HasPrefix(l.DeepLink.ReturnOrigin, "http") {
				t.Fatalf("deep link %+v", l.DeepLink)
			}
			return
		}
		if strings.TrimSpace(l.Subject) == "" || l.Email == "" || l.Workshop == "" || l.Workshop != strings.TrimSpace(l.Workshop) {
			t.Fatalf("accepted a launch without a learner or a workshop: %+v", l)
		}
		if l.Name != strings.TrimSpace(l.Name) {
			t.Fatalf("name %q is not trimmed", l.Name)
		}
	})
}

// FuzzLaunchToken posts a fuzzed id_token, as anyone on the Internet can:
// it never verifies, and the refusal is the tool's own error.
func FuzzLaunchToken(f *testing.F) {
	ft := newFuzzTool(f)
	valid := ft.plat.Sign(ltitest.LaunchClaims(issuer, clientID, "n", ft.clock.Now()))
	for _, seed := range []string{
		"", "a.b.c", "..", valid, valid + "x", strings.Replace(valid, ".", "..", 1),
		"eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",
		"eyJhbGciOiJIUzI1NiIsImtpZCI6ImtleS0xIn0.e30.AAAA",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, token string) {
		defer testenv.StopHang(token)()
		state, _ := ft.login(t)
		l, err := ft.tool.Launch(context.Background(), token, state)
		if err == nil {
			t.Fatalf("an unsigned token launched %+v", l)
		}
		refusal(t, err)
	})
}
