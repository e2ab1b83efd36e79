package lti_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/lti"
	"github.com/wod-dev/wod/lti/ltitest"
	"github.com/wod-dev/wod/store"
	"github.com/wod-dev/wod/store/storetest"
)

const (
	issuer   = "https://moodle.uni.example"
	clientID = "wod-client-7"
)

type fixture struct {
	t     *testing.T
	tool  *lti.Tool
	plat  *ltitest.Platform
	clock *storetest.Clock
	db    *store.DB
}

func newFixture(t *testing.T, db *store.DB, clock *storetest.Clock) *fixture {
	t.Helper()
	plat := ltitest.New(t)
	if err := db.CreateLTIPlatform(context.Background(), &wod.LTIPlatform{Name: "moodle", Issuer: issuer, ClientID: clientID,
		DeploymentIDs: []string{"dep-1"}, AuthURL: "https://moodle.uni.example/mod/lti/auth.php?x=1", JWKSURL: plat.JWKSURL()}); err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, plat: plat, clock: clock, db: db,
		tool: &lti.Tool{Platforms: db, Clock: clock, PublicURL: "http://wod.test"}}
}

// login starts a launch and returns the state and nonce the platform
// receives.
func (f *fixture) login(target string) (state, nonce string) {
	f.t.Helper()
	to, err := f.tool.Login(context.Background(), lti.LoginRequest{Issuer: issuer, LoginHint: "hint-42",
		TargetLinkURI: target, MessageHint: "msg-9"})
	if err != nil {
		f.t.Fatalf("login: %v", err)
	}
	u, err := url.Parse(to)
	if err != nil || u.Host != "moodle.uni.example" || u.Path != "/mod/lti/auth.php" {
		f.t.Fatalf("login redirect %q", to)
	}
	q := u.Query()
	for k, want := range map[string]string{"x": "1", "scope": "openid", "response_type": "id_token",
		"response_mode": "form_post", "prompt": "none", "client_id": clientID, "login_hint": "hint-42",
		"lti_message_hint": "msg-9", "redirect_uri": "http://wod.test/lti/launch"} {
		if q.Get(k) != want {
			f.t.Errorf("login redirect: %s = %q, want %q", k, q.Get(k), want)
		}
	}
	if q.Get("state") == "" || q.Get("nonce") == "" || q.Get("state") == q.Get("nonce") {
		f.t.Fatalf("login redirect without state or nonce: %s", to)
	}
	return q.Get("state"), q.Get("nonce")
}

func TestLaunch(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		f := newFixture(t, db, clock)
		ctx := context.Background()

		state, nonce := f.login("http://wod.test/lti/launch")
		token := f.plat.Sign(ltitest.LaunchClaims(issuer, clientID, nonce, clock.Now()))
		l, err := f.tool.Launch(ctx, token, state)
		if err != nil {
			t.Fatalf("launch: %v", err)
		}
		if l.Email != "ann@uni.example" || l.Name != "Ann Smith" || l.Workshop != "WKSHP-API101" ||
			l.Course != "Intro to APIs" || l.Subject != "learner-42" || l.Platform.Name != "moodle" {
			t.Fatalf("launch: %+v", l)
		}
		// A state serves one launch.
		if _, err := f.tool.Launch(ctx, token, state); wod.ErrorCode(err) != wod.ENOTFOUND {
			t.Fatalf("replayed launch: %v", err)
		}

		// The workshop from the target link, and the name from its parts.
		state, nonce = f.login("http://wod.test/lti/launch?workshop=WKSHP-Target")
		c := ltitest.LaunchClaims(issuer, clientID, nonce, clock.Now())
		delete(c, "https://purl.imsglobal.org/spec/lti/claim/custom")
		delete(c, "name")
		c["given_name"], c["family_name"] = "Bo", "Li"
		c["https://purl.imsglobal.org/spec/lti/claim/target_link_uri"] = "http://wod.test/lti/launch?workshop=WKSHP-Target"
		if l, err := f.tool.Launch(ctx, f.plat.Sign(c), state); err != nil || l.Workshop != "WKSHP-Target" || l.Name != "Bo Li" {
			t.Fatalf("launch by target link: %+v %v", l, err)
		}

		// The platform rotated its key: the set is fetched again.
		before := f.plat.Fetches.Load()
		f.plat.Rotate("key-2")
		clock.Advance(11 * time.Second) // the key set is refetched at most every 10 s
		state, nonce = f.login("http://wod.test/lti/launch")
		if _, err := f.tool.Launch(ctx, f.plat.Sign(ltitest.LaunchClaims(issuer, clientID, nonce, clock.Now())), state); err != nil {
			t.Fatalf("launch after a key rotation: %v", err)
		}
		if f.plat.Fetches.Load() != before+1 {
			t.Fatalf("key set fetched %d times for the rotation, want once", f.plat.Fetches.Load()-before)
		}

		// Two hours later the platform's key set endpoint is down: launches
		// go on with the set it served last.
		clock.Advance(2 * time.Hour)
		f.plat.BreakJWKS(true)
		state, nonce = f.login("http://wod.test/lti/launch")
		if _, err := f.tool.Launch(ctx, f.plat.Sign(ltitest.LaunchClaims(issuer, clientID, nonce, clock.Now())), state); err != nil {
			t.Fatalf("launch while the key set endpoint is down: %v", err)
		}
		// A tool that never fetched the set cannot verify anything then.
		fresh := &lti.Tool{Platforms: db, Clock: clock, PublicURL: "http://wod.test"}
		state, nonce = f.login("http://wod.test/lti/launch")
		if _, err := fresh.Launch(ctx, f.plat.Sign(ltitest.LaunchClaims(issuer, clientID, nonce, clock.Now())), state); wod.ErrorCode(err) != wod.EUNAVAILABLE {
			t.Fatalf("launch with no key set at all: %v", err)
		}
	})
}

func TestLaunchRefusals(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		f := newFixture(t, db, clock)
		ctx := context.Background()
		forger := ltitest.New(t)
		for _, c := range []struct {
			name   string
			change func(c map[string]any, nonce string) (token string)
			code   string
			word   string
		}{
			{"signed by another key", func(c map[string]any, _ string) string { return forger.Sign(c) }, wod.EUNAUTHORIZED, "verify"},
			{"another audience", func(c map[string]any, _ string) string {
				c["aud"] = "someone-else"
				return f.plat.Sign(c)
			}, wod.EUNAUTHORIZED, "aud"},
			{"another issuer", func(c map[string]any, _ string) string {
				c["iss"] = "https://evil.example"
				return f.plat.Sign(c)
			}, wod.EUNAUTHORIZED, "iss"},
			{"expired", func(c map[string]any, _ string) string {
				c["exp"] = clock.Now().Add(-5 * time.Minute).Unix()
				return f.plat.Sign(c)
			}, wod.EUNAUTHORIZED, "exp"},
			{"issued long ago", func(c map[string]any, _ string) string {
				c["iat"] = clock.Now().Add(-time.Hour).Unix()
				return f.plat.Sign(c)
			}, wod.EUNAUTHORIZED, "too old"},
			{"another nonce", func(c map[string]any, _ string) string {
				c["nonce"] = "not-the-one"
				return f.plat.Sign(c)
			}, wod.EUNAUTHORIZED, "nonce"},
			{"another deployment", func(c map[string]any, _ string) string {
				c["https://purl.imsglobal.org/spec/lti/claim/deployment_id"] = "dep-9"
				return f.plat.Sign(c)
			}, wod.EUNAUTHORIZED, "dep-9"},
			{"a submission review", func(c map[string]any, _ string) string {
				c["https://purl.imsglobal.org/spec/lti/claim/message_type"] = "LtiSubmissionReviewRequest"
				return f.plat.Sign(c)
			}, wod.EINVALID, "resource links"},
			{"LTI 1.1", func(c map[string]any, _ string) string {
				c["https://purl.imsglobal.org/spec/lti/claim/version"] = "1.1"
				return f.plat.Sign(c)
			}, wod.EINVALID, "version"},
			{"anonymous (no sub)", func(c map[string]any, _ string) string {
				delete(c, "sub")
				return f.plat.Sign(c)
			}, wod.EINVALID, "no sub"},
			{"no e-mail", func(c map[string]any, _ string) string {
				delete(c, "email")
				return f.plat.Sign(c)
			}, wod.EINVALID, "privacy"},
			{"no workshop", func(c map[string]any, _ string) string {
				delete(c, "https://purl.imsglobal.org/spec/lti/claim/custom")
				return f.plat.Sign(c)
			}, wod.EINVALID, "workshop=WKSHP-"},
			{"not a JWT", func(map[string]any, string) string { return "garbage" }, wod.EUNAUTHORIZED, "verify"},
		} {
			t.Run(c.name, func(t *testing.T) {
				state, nonce := f.login("http://wod.test/lti/launch")
				_, err := f.tool.Launch(ctx, c.change(ltitest.LaunchClaims(issuer, clientID, nonce, clock.Now()), nonce), state)
				if wod.ErrorCode(err) != c.code || !strings.Contains(err.Error(), c.word) {
					t.Fatalf("got %v (%s), want %s mentioning %q", err, wod.ErrorCode(err), c.code, c.word)
				}
			})
		}

		// A state expires.
		state, nonce := f.login("http://wod.test/lti/launch")
		clock.Advance(11 * time.Minute)
		if _, err := f.tool.Launch(ctx, f.plat.Sign(ltitest.LaunchClaims(issuer, clientID, nonce, clock.Now())), state); wod.ErrorCode(err) != wod.ENOTFOUND {
			t.Fatalf("expired state: %v", err)
		}
		if _, err := f.tool.Launch(ctx, "x", "unknown-state"); wod.ErrorCode(err) != wod.ENOTFOUND {
			t.Fatalf("unknown state: %v", err)
		}
		// A login from a platform nobody registered.
		if _, err := f.tool.Login(ctx, lti.LoginRequest{Issuer: "https://other.example", LoginHint: "h", TargetLinkURI: "t"}); wod.ErrorCode(err) != wod.ENOTFOUND {
			t.Fatalf("unknown platform: %v", err)
		}
		if _, err := f.tool.Login(ctx, lti.LoginRequest{Issuer: issuer}); wod.ErrorCode(err) != wod.EINVALID || !strings.Contains(err.Error(), "login") {
			t.Fatalf("incomplete login: %v", err)
		}
	})
}
