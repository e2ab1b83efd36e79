// Package webhook speaks the sending side of the Standard Webhooks
// specification (https://www.standardwebhooks.com): secrets in the whsec_
// format, the webhook-id / webhook-timestamp / webhook-signature headers,
// and an HTTP client fit to call addresses that operators type in.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// SecretPrefix starts every signing secret, as the specification's
// libraries expect it.
const SecretPrefix = "whsec_"

// NewSecret returns a new signing secret: whsec_ and 32 random bytes in
// base64.
func NewSecret() string {
	b := make([]byte, 32)
	rand.Read(b)
	return SecretPrefix + base64.StdEncoding.EncodeToString(b)
}

// secretKey decodes a whsec_ secret into its HMAC key.
func secretKey(secret string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, SecretPrefix))
	if err != nil || len(key) == 0 {
		return nil, errors.New("the webhook secret is not whsec_ and base64")
	}
	return key, nil
}

// Sign returns the webhook-signature header's value for a message:
// "v1," and the base64 HMAC-SHA256, under the secret's key, of
// "{id}.{timestamp}.{body}".
func Sign(secret, id string, at time.Time, body []byte) (string, error) {
	key, err := secretKey(secret)
	if err != nil {
		return "", err
	}
	mac := hmac.New(sha256.New, key)
	fmt.Fprintf(mac, "%s.%d.", id, at.Unix())
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil)), nil
}

// Answer is what an endpoint said to one attempt.
type Answer struct {
	// Status is the HTTP status, 0 when no answer came.
	Status int
	// Body is the beginning of the answer's body, valid UTF-8.
	Body string
}

// OK reports whether the endpoint took the message (any 2xx).
func (a Answer) OK() bool { return a.Status >= 200 && a.Status < 300 }

// MaxResponse is how much of an answer's body is read and kept.
const MaxResponse = 1024

// Client sends signed messages.
type Client struct {
	HTTP *http.Client
	// UserAgent names the sender.
	UserAgent string
}

// NewClient returns a client whose requests give up after timeout and that
// follows a redirect only to the same scheme and host: an endpoint must not
// bounce signed messages to someone else.
func NewClient(timeout time.Duration, userAgent string) *Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.ResponseHeaderTimeout = timeout
	tr.MaxIdleConnsPerHost = 4
	return &Client{UserAgent: userAgent, HTTP: &http.Client{
		Timeout:   timeout,
		Transport: tr,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 3 {
				return errors.New("stopped after 3 redirects")
			}
			if first := via[0].URL; req.URL.Scheme != first.Scheme || req.URL.Host != first.Host {
				return fmt.Errorf("redirect to another host (%s://%s) not followed", req.URL.Scheme, req.URL.Host)
			}
			return nil
		},
	}}
}

// Send posts a message, signed, and returns the endpoint's answer. An
// error means no answer came (or it could not be read); a non-2xx answer
// is no error: the caller decides.
func (c *Client) Send(ctx context.Context, url, secret, id string, at time.Time, body []byte) (Answer, error) {
	sig, err := Sign(secret, id, at, body)
	if err != nil {
		return Answer{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return Answer{}, fmt.Errorf("webhook request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", c.UserAgent)
	req.Header.Set("webhook-id", id)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(at.Unix(), 10))
	req.Header.Set("webhook-signature", sig)
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return Answer{}, redact(err, url)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponse))
	// The rest is drained, up to a bound, so that the connection can serve
	// the next message.
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	ans := Answer{Status: resp.StatusCode, Body: excerpt(b)}
	if err != nil {
		return ans, fmt.Errorf("read the answer: %w", err)
	}
	return ans, nil
}

// redact takes the URL out of a request's error: its path or query may
// hold the receiver's token (chat services put it in the path).
func redact(err error, _ string) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s %s: %w", ue.Op, Display(ue.URL), ue.Err)
	}
	return err
}

// Display is an endpoint's URL as logs, errors and mails show it: scheme
// and host only, for its path or query may hold the receiver's token.
func Display(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "(an unparsable URL)"
	}
	out := u.Scheme + "://" + u.Host
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		out += "/…"
	}
	return out
}

// excerpt is b as valid UTF-8, cut to MaxResponse bytes.
func excerpt(b []byte) string {
	s := strings.ToValidUTF8(string(b), "\uFFFD")
	for len(s) > MaxResponse {
		_, size := utf8.DecodeLastRuneInString(s)
		s = s[:len(s)-size]
	}
	return s
}
