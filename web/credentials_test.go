package web_test

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/operator"
)

// TestStatusLoginURLWithTrailingSlash: a hub URL saved with a trailing slash
// gives the participant the same clean login link everywhere it is shown —
// the status page, the API (participant's and operator's views), the admin
// page and the credentials mail — never "…//hub/login".
func TestStatusLoginURLWithTrailingSlash(t *testing.T) {
	t.Parallel()
	forEach(t, func(t *testing.T, s *site) {
		slashed := "http://hub.test/"
		if _, err := s.db.UpdateLocation(s.ctx, s.loc.Name, wod.LocationUpdate{HubURL: &slashed}); err != nil {
			t.Fatal(err)
		}
		s.workshop("WKSHP-A", "Workshop A", 1, 5)
		r, err := s.eng.Register(s.ctx, wod.RegistrationRequest{Workshop: "WKSHP-A", Name: "Ann", Email: "ann@example.com"})
		if err != nil {
			t.Fatal(err)
		}
		s.ready("Pw-Slash-1")
		const login = "http://hub.test/hub/login"
		const launch = login + "?next=%2Fhub%2Fuser%2Fstudent1%2F"
		clean := func(where, text string, want ...string) {
			t.Helper()
			if strings.Contains(text, "hub.test//") {
				t.Errorf("%s has a doubled slash: %s", where, text)
			}
			for _, w := range want {
				if !strings.Contains(text, w) {
					t.Errorf("%s lacks %q: %s", where, w, text)
				}
			}
		}

		tok := s.keys.StatusToken(r.ID)
		code, page := s.get("/status/" + tok)
		if code != http.StatusOK {
			t.Fatalf("status page: %d", code)
		}
		clean("the status page", page, launch)

		code, raw := s.get("/api/v1/status/" + tok)
		var status struct {
			LoginURL string `json:"login_url"`
		}
		if err := json.Unmarshal([]byte(raw), &status); code != http.StatusOK || err != nil || status.LoginURL != login {
			t.Errorf("the status API: %d %v %s", code, err, raw)
		}

		ops := &operator.Service{Tokens: s.db, Events: s.db, Clock: s.clock, Logger: slog.New(slog.DiscardHandler)}
		_, secretTok, err := ops.CreateToken(s.ctx, &wod.Caller{Name: "test"},
			operator.TokenSpec{Name: "mod", Role: wod.RoleModerator})
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("%s/api/v1/registrations/%d", s.url, r.ID), nil)
		req.Header.Set("Authorization", "Bearer "+secretTok)
		res, raw := s.send(req)
		var view struct {
			LoginURL string `json:"login_url"`
			Password string `json:"password"`
		}
		if err := json.Unmarshal([]byte(raw), &view); res.StatusCode != http.StatusOK || err != nil ||
			view.LoginURL != login || view.Password != "Pw-Slash-1" {
			t.Errorf("the operator's API view: %d %v %s", res.StatusCode, err, raw)
		}

		s.operator("mia", wod.RoleModerator, "Moderator-Pass-1")
		s.login("mia", "Moderator-Pass-1")
		code, page = s.get(fmt.Sprintf("/admin/registrations/%d", r.ID))
		if code != http.StatusOK {
			t.Fatalf("admin page: %d", code)
		}
		clean("the admin page", page, login)

		kind := wod.MailCredentials
		ms, _, err := s.db.FindMails(s.ctx, wod.MailFilter{RegistrationID: &r.ID, Kind: &kind})
		if err != nil || len(ms) != 1 {
			t.Fatalf("credentials mail: %v %v", ms, err)
		}
		clean("the credentials mail", ms[0].Text, login)
		clean("the credentials mail's HTML", ms[0].HTML)
	})
}
