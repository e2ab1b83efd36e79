package lti_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jwt"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/lti"
	"github.com/wod-dev/wod/lti/ltitest"
	"github.com/wod-dev/wod/store"
	"github.com/wod-dev/wod/store/storetest"
)

// TestDeepLinking: an instructor's request to add content gets a token to
// answer it with; the answer is a JWT signed by the tool's key, for the
// platform, with one resource link per workshop picked and the request's
// data echoed.
func TestDeepLinking(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		ctx := context.Background()
		f := newFixture(t, db, clock)
		key, err := lti.LoadOrCreateKey(filepath.Join(t.TempDir(), lti.KeyFile))
		if err != nil {
			t.Fatal(err)
		}
		f.tool.Key = key
		const returnURL = "https://moodle.uni.example/mod/lti/contentitem_return.php?course=3"

		state, nonce := f.login("http://wod.test/lti/launch")
		c := ltitest.DeepLinkingClaims(ltitest.LaunchClaims(issuer, clientID, nonce, clock.Now()), returnURL)
		l, err := f.tool.Launch(ctx, f.plat.Sign(c), state)
		if err != nil || l.DeepLink == nil || l.DeepLink.ReturnOrigin != "https://moodle.uni.example" || !l.DeepLink.AcceptMultiple {
			t.Fatalf("deep-linking launch: %+v %v", l, err)
		}
		to, signed, err := f.tool.DeepLinkResponse(ctx, l.DeepLink.Token, []lti.Pick{
			{Workshop: "WKSHP-API101", Title: "APIs 101", Text: "REST hands-on"}, {Workshop: "WKSHP-Go", Title: "Go"}})
		if err != nil || to != returnURL {
			t.Fatalf("response: %q %v", to, err)
		}
		jwks, err := f.tool.JWKS()
		if err != nil {
			t.Fatal(err)
		}
		set, err := jwk.Parse(jwks)
		if err != nil {
			t.Fatal(err)
		}
		tok, err := jwt.Parse([]byte(signed), jwt.WithKeySet(set), jwt.WithIssuer(clientID), jwt.WithAudience(issuer),
			jwt.WithClock(jwt.ClockFunc(clock.Now)))
		if err != nil {
			t.Fatalf("the answer does not verify with the tool's key set: %v", err)
		}
		var mt, data, deployment string
		var items []map[string]any
		tok.Get("https://purl.imsglobal.org/spec/lti/claim/message_type", &mt)
		tok.Get("https://purl.imsglobal.org/spec/lti-dl/claim/data", &data)
		tok.Get("https://purl.imsglobal.org/spec/lti/claim/deployment_id", &deployment)
		var raw any
		tok.Get("https://purl.imsglobal.org/spec/lti-dl/claim/content_items", &raw)
		for _, it := range raw.([]any) {
			items = append(items, it.(map[string]any))
		}
		if mt != "LtiDeepLinkingResponse" || data != "opaque-42" || deployment != "dep-1" || len(items) != 2 ||
			items[0]["type"] != "ltiResourceLink" || items[0]["url"] != "http://wod.test/lti/launch?workshop=WKSHP-API101" ||
			items[0]["custom"].(map[string]any)["workshop"] != "WKSHP-API101" || items[1]["title"] != "Go" {
			t.Fatalf("answer: %s %s %s %v", mt, data, deployment, items)
		}
		if _, _, err := f.tool.DeepLinkResponse(ctx, l.DeepLink.Token, []lti.Pick{{Workshop: "WKSHP-API101"}}); wod.ErrorCode(err) != wod.ENOTFOUND {
			t.Fatalf("the token answered twice: %v", err)
		}

		// A deep-linking token is no launch's state, whatever nonce the
		// browser made the platform sign.
		state, nonce = f.login("http://wod.test/lti/launch")
		c = ltitest.DeepLinkingClaims(ltitest.LaunchClaims(issuer, clientID, nonce, clock.Now()), returnURL)
		l, err = f.tool.Launch(ctx, f.plat.Sign(c), state)
		if err != nil {
			t.Fatal(err)
		}
		forged := ltitest.LaunchClaims(issuer, clientID, "deep-link", clock.Now())
		if _, err := f.tool.Launch(ctx, f.plat.Sign(forged), l.DeepLink.Token); wod.ErrorCode(err) != wod.ENOTFOUND {
			t.Fatalf("a deep-linking token used as a launch state: %v", err)
		}

		// Learners do not add content.
		state, nonce = f.login("http://wod.test/lti/launch")
		c = ltitest.DeepLinkingClaims(ltitest.LaunchClaims(issuer, clientID, nonce, clock.Now()), returnURL)
		c["https://purl.imsglobal.org/spec/lti/claim/roles"] = []string{"http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"}
		if _, err := f.tool.Launch(ctx, f.plat.Sign(c), state); wod.ErrorCode(err) != wod.EFORBIDDEN {
			t.Fatalf("a learner's deep linking: %v", err)
		}
	})
}
