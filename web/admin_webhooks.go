package web

import (
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/operator"
)

// Webhook endpoints are for admins: their URLs and secrets carry the
// platform's events (participants' names and addresses among them) to
// other systems. A secret is written into the page that answers its
// creation or rotation and nowhere else.

func (p *Pages) registerAdminWebhooks(mux *http.ServeMux) {
	admin := func(h func(http.ResponseWriter, *http.Request, *adminRequest)) http.HandlerFunc {
		return p.admin(wod.RoleAdmin, h)
	}
	mux.HandleFunc("GET /admin/webhooks", admin(p.webhooks))
	mux.HandleFunc("POST /admin/webhooks", admin(p.createWebhook))
	mux.HandleFunc("GET /admin/webhooks/{id}", admin(p.webhook))
	mux.HandleFunc("POST /admin/webhooks/{id}", admin(p.updateWebhook))
	mux.HandleFunc("POST /admin/webhooks/{id}/rotate", admin(p.rotateWebhook))
	mux.HandleFunc("POST /admin/webhooks/{id}/pause", admin(p.webhookAction("pause")))
	mux.HandleFunc("POST /admin/webhooks/{id}/resume", admin(p.webhookAction("resume")))
	mux.HandleFunc("POST /admin/webhooks/{id}/delete", admin(p.webhookAction("delete")))
	mux.HandleFunc("POST /admin/webhooks/{id}/deliveries/{delivery}/redeliver", admin(p.redeliverWebhook))
}

const webhooksPage = "/admin/webhooks"

// webhookForm is an endpoint's form as typed.
type webhookForm struct {
	URL, Description string
	Events           []wod.WebhookEventType
	Errors           map[string]string
}

// webhookFormView is what the form's template needs.
type webhookFormView struct {
	Form                 webhookForm
	Types                []wod.WebhookTrigger
	CSRF, Action, Button string
}

// For is the form as a page shows it, posting to action.
func (f webhookForm) For(csrf, action, button string) webhookFormView {
	return webhookFormView{Form: f, Types: wod.WebhookTriggers, CSRF: csrf, Action: action, Button: button}
}

// Has reports whether the form ticks the event type.
func (f webhookForm) Has(t wod.WebhookEventType) bool { return slices.Contains(f.Events, t) }

type webhooksData struct {
	Endpoints []*wod.WebhookEndpoint
	Types     []wod.WebhookTrigger
	Form      webhookForm
	// NewSecret is the secret of endpoint SecretFor, created or rotated by
	// this request.
	NewSecret string
	SecretFor int64
}

type webhookData struct {
	Endpoint   *wod.WebhookEndpoint
	Types      []wod.WebhookTrigger
	Form       webhookForm
	Deliveries []*wod.WebhookDelivery
	Total      int
	NewSecret  string
}

func readWebhookForm(r *http.Request) webhookForm {
	r.ParseForm()
	f := webhookForm{URL: strings.TrimSpace(r.PostFormValue("url")), Description: strings.TrimSpace(r.PostFormValue("description")),
		Events: []wod.WebhookEventType{}, Errors: map[string]string{}}
	for _, t := range r.PostForm["events"] {
		f.Events = append(f.Events, wod.WebhookEventType(t))
	}
	return f
}

func (p *Pages) webhooks(w http.ResponseWriter, r *http.Request, a *adminRequest) {
	p.renderWebhooks(w, r, a, http.StatusOK, &webhooksData{})
}

func (p *Pages) renderWebhooks(w http.ResponseWriter, r *http.Request, a *adminRequest, status int, d *webhooksData) {
	es, err := p.Webhooks.FindWebhooks(r.Context())
	if err != nil {
		p.fail(w, r, err)
		return
	}
	d.Endpoints, d.Types = es, wod.WebhookTriggers
	title := "Webhooks"
	if len(d.Form.Errors) > 0 {
		title = "Please check the form — " + title
	}
	p.render(w, r, status, "admin/webhooks.html", p.adminView(w, r, a, "webhooks", title, d))
}

func (p *Pages) createWebhook(w http.ResponseWriter, r *http.Request, a *adminRequest) {
	f := readWebhookForm(r)
	e, secret, err := p.Operator.CreateWebhook(r.Context(), a.Caller, operator.WebhookSpec{URL: f.URL,
		Description: f.Description, Events: f.Events})
	if err != nil {
		if f.Errors, _ = fieldErrors(err); f.Errors != nil {
			p.renderWebhooks(w, r, a, http.StatusUnprocessableEntity, &webhooksData{Form: f})
			return
		}
		p.fail(w, r, err)
		return
	}
	p.renderWebhooks(w, r, a, http.StatusCreated, &webhooksData{NewSecret: secret, SecretFor: e.ID})
}

func (p *Pages) webhook(w http.ResponseWriter, r *http.Request, a *adminRequest) {
	p.renderWebhook(w, r, a, http.StatusOK, &webhookData{})
}

func (p *Pages) renderWebhook(w http.ResponseWriter, r *http.Request, a *adminRequest, status int, d *webhookData) {
	id, err := pathID(r)
	if err == nil {
		d.Endpoint, err = p.Webhooks.FindWebhook(r.Context(), id)
	}
	if err == nil {
		d.Deliveries, d.Total, err = p.Webhooks.FindWebhookDeliveries(r.Context(),
			wod.WebhookDeliveryFilter{EndpointID: &id, Page: wod.Page{Limit: 100}})
	}
	if err != nil {
		p.fail(w, r, err)
		return
	}
	d.Types = wod.WebhookTriggers
	if d.Form.Errors == nil {
		d.Form = webhookForm{URL: d.Endpoint.URL, Description: d.Endpoint.Description, Events: d.Endpoint.Events}
	}
	title := "Webhook " + strconv.FormatInt(id, 10)
	if len(d.Form.Errors) > 0 {
		title = "Please check the form — " + title
	}
	p.render(w, r, status, "admin/webhook.html", p.adminView(w, r, a, "webhooks", title, d))
}

func (p *Pages) updateWebhook(w http.ResponseWriter, r *http.Request, a *adminRequest) {
	f := readWebhookForm(r)
	id, err := pathID(r)
	if err == nil {
		_, err = p.Operator.UpdateWebhook(r.Context(), a.Caller, id, operator.WebhookChange{URL: &f.URL,
			Description: &f.Description, Events: f.Events})
	}
	if err != nil {
		if f.Errors, _ = fieldErrors(err); f.Errors != nil {
			p.renderWebhook(w, r, a, http.StatusUnprocessableEntity, &webhookData{Form: f})
			return
		}
		p.actionFailed(w, r, webhooksPage, err)
		return
	}
	p.done(w, r, webhooksPage+"/"+strconv.FormatInt(id, 10), "Webhook saved.")
}

func (p *Pages) rotateWebhook(w http.ResponseWriter, r *http.Request, a *adminRequest) {
	id, err := pathID(r)
	var secret string
	if err == nil {
		_, secret, err = p.Operator.RotateWebhookSecret(r.Context(), a.Caller, id)
	}
	if err != nil {
		p.actionFailed(w, r, webhooksPage, err)
		return
	}
	p.renderWebhook(w, r, a, http.StatusOK, &webhookData{NewSecret: secret})
}

// webhookAction pauses, resumes or deletes the endpoint of the path.
func (p *Pages) webhookAction(action string) func(http.ResponseWriter, *http.Request, *adminRequest) {
	return func(w http.ResponseWriter, r *http.Request, a *adminRequest) {
		id, err := pathID(r)
		back, msg := webhooksPage+"/"+strconv.FormatInt(id, 10), ""
		if err == nil {
			switch action {
			case "pause":
				_, err = p.Operator.PauseWebhook(r.Context(), a.Caller, id)
				msg = "Webhook paused: its deliveries wait until it is resumed."
			case "resume":
				_, err = p.Operator.ResumeWebhook(r.Context(), a.Caller, id)
				msg = "Webhook resumed: its waiting deliveries go out now."
			case "delete":
				err = p.Operator.DeleteWebhook(r.Context(), a.Caller, id)
				back, msg = webhooksPage, "Webhook removed, with its deliveries."
			}
		}
		if err != nil {
			p.actionFailed(w, r, webhooksPage, err)
			return
		}
		p.done(w, r, back, msg)
	}
}

func (p *Pages) redeliverWebhook(w http.ResponseWriter, r *http.Request, a *adminRequest) {
	id, err := pathID(r)
	back := webhooksPage + "/" + strconv.FormatInt(id, 10)
	var did int64
	if err == nil {
		did, err = strconv.ParseInt(r.PathValue("delivery"), 10, 64)
	}
	var d *wod.WebhookDelivery
	if err == nil {
		d, err = p.Webhooks.FindWebhookDelivery(r.Context(), did)
	}
	if err == nil && d.EndpointID != id {
		err = wod.Errorf(wod.ENOTFOUND, "webhook %d has no delivery %d", id, did)
	}
	if err == nil {
		_, err = p.Operator.RedeliverWebhook(r.Context(), a.Caller, did)
	}
	if err != nil {
		p.actionFailed(w, r, back, err)
		return
	}
	p.done(w, r, back, "Delivery "+strconv.FormatInt(did, 10)+" queued to be sent again.")
}
