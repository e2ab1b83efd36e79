package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestMetricsEndpoint: /metrics of the main address wants an operator's
// token; --metrics-addr serves it openly; requests and registrations are
// counted by route and outcome.
func TestMetricsEndpoint(t *testing.T) {
	data := t.TempDir()
	common := []string{"--data", data, "--log-level", "error"}
	if code, _, errOut := runWod(t, "", append([]string{"migrate"}, common...)...); code != 0 {
		t.Fatal(errOut)
	}
	_, tok, _ := runWod(t, "", append([]string{"token", "create", "--role", "moderator"}, common...)...)
	token := strings.TrimSpace(tok)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	addr, metricsAddr := freeAddr(t), freeAddr(t)
	go func() {
		done <- run(ctx, append([]string{"up", "--agent=false", "--addr", addr, "--metrics-addr", metricsAddr}, common...),
			func(string) string { return "" }, strings.NewReader(""), &bytes.Buffer{}, &bytes.Buffer{})
	}()
	defer func() { cancel(); <-done }()
	base := "http://" + addr
	waitReady(t, base+"/readyz")

	body, _ := json.Marshal(map[string]string{"workshop": "WKSHP-Welcome101", "name": "Ann", "email": "ann@example.com"})
	res, err := http.Post(base+"/api/v1/registrations", "application/json", bytes.NewReader(body))
	if err != nil || res.StatusCode != 201 {
		t.Fatalf("register: %v %v", res, err)
	}
	res.Body.Close()

	get := func(url, token string) (int, string) {
		req, _ := http.NewRequest("GET", url, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	if code, _ := get(base+"/metrics", ""); code != 401 {
		t.Fatalf("anonymous /metrics: %d", code)
	}
	if code, _ := get(base+"/metrics", "not-a-token"); code != 401 {
		t.Fatalf("/metrics with a bad token: %d", code)
	}
	code, text := get(base+"/metrics", token)
	if code != 200 {
		t.Fatalf("/metrics with a token: %d %s", code, text)
	}
	for _, want := range []string{
		`wod_registration_requests_total{outcome="booked"} 1`,
		`wod_http_requests_total{code="201",route="POST /api/v1/registrations"} 1`,
		`wod_registrations{state="pending"} 1`,
		`wod_workshop_seats_taken{location="local",workshop="WKSHP-Welcome101"} 1`,
		`wod_mails{state="`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("no %q in /metrics", want)
		}
	}
	if code, open := get("http://"+metricsAddr+"/metrics", ""); code != 200 || !strings.Contains(open, "wod_build_info") {
		t.Fatalf("--metrics-addr: %d", code)
	}
	if code, _ := get("http://"+metricsAddr+"/api/v1/registrations", ""); code != 404 {
		t.Fatalf("--metrics-addr serves more than /metrics: %d", code)
	}
}
