package web

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/wod-dev/wod"
)

// A participant who lost the mail can have the status link sent again. The
// page answers the same whether or not the address is registered, so that
// it tells a stranger nothing; the engine sends at most one every ten
// minutes, and the registration rate limit bounds the requests.

func (p *Pages) registerResend(mux *http.ServeMux) {
	mux.HandleFunc("GET /resend-link", p.resendForm)
	mux.HandleFunc("POST /resend-link", p.resend)
}

type resendData struct {
	Email, Problem string
	Sent           bool
}

func (p *Pages) resendForm(w http.ResponseWriter, r *http.Request) {
	p.render(w, r, http.StatusOK, "portal/resend.html", p.view(r.Context(), "Send my link again",
		resendData{Email: r.URL.Query().Get("email")}))
}

func (p *Pages) resend(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	d := resendData{Email: strings.TrimSpace(r.PostFormValue("email"))}
	status := http.StatusOK
	if ok, wait := p.Gate.AllowRegistration(r.Context()); !ok {
		status = http.StatusTooManyRequests
		w.Header().Set("Retry-After", itoa(int(wait.Seconds())+1))
		d.Problem = fmt.Sprintf("Too many requests from your network just now. Please try again in %d seconds.", int(wait.Seconds())+1)
	} else if err := p.Registrar.ResendLink(r.Context(), d.Email); err != nil {
		if wod.ErrorCode(err) != wod.EINVALID {
			p.fail(w, r, err)
			return
		}
		status = http.StatusUnprocessableEntity
		d.Problem = "Please enter the e-mail address you registered with."
	} else {
		d.Sent = true
	}
	p.render(w, r, status, "portal/resend.html", p.view(r.Context(), "Send my link again", d))
}
