package webhook_test

import (
	"strings"
	"testing"
	"time"

	"github.com/wod-dev/wod/webhook"
)

// TestSignKnownVector checks Sign against the example of the Standard
// Webhooks specification's reference libraries.
func TestSignKnownVector(t *testing.T) {
	sig, err := webhook.Sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek",
		time.Unix(1614265330, 0), []byte(`{"test": 2432232314}`))
	if err != nil || sig != "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=" {
		t.Fatalf("signature %q, %v", sig, err)
	}
}

func TestSecretsAndDisplay(t *testing.T) {
	a, b := webhook.NewSecret(), webhook.NewSecret()
	if a == b || !strings.HasPrefix(a, "whsec_") || len(a) != len("whsec_")+44 {
		t.Fatalf("secrets %q %q", a, b)
	}
	if _, err := webhook.Sign("whsec_not base64!", "msg", time.Now(), nil); err == nil {
		t.Fatal("signed with a secret that is not base64")
	}
	for raw, want := range map[string]string{
		"https://hooks.slack.com/services/T0/B0/XXXX": "https://hooks.slack.com/…",
		"http://127.0.0.1:9000/":                      "http://127.0.0.1:9000",
		"https://example.com?token=x":                 "https://example.com/…",
		"::":                                          "(an unparsable URL)",
	} {
		if got := webhook.Display(raw); got != want {
			t.Errorf("Display(%q) = %q, want %q", raw, got, want)
		}
	}
}
