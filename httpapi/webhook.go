package httpapi

import (
	"context"
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/operator"
)

type webhookCreate struct {
	URL         string                 `json:"url" maxLength:"2000" doc:"Where messages are posted: an http or https URL"`
	Description string                 `json:"description,omitempty" maxLength:"200"`
	Events      []wod.WebhookEventType `json:"events" minItems:"1" maxItems:"50" doc:"Event types to receive; see GET /api/v1/webhooks/event-types"`
}

type webhookPatch struct {
	URL         *string                `json:"url,omitempty" maxLength:"2000"`
	Description *string                `json:"description,omitempty" maxLength:"200"`
	Events      []wod.WebhookEventType `json:"events,omitempty" maxItems:"50"`
}

type webhookWithSecret struct {
	*wod.WebhookEndpoint
	Secret string `json:"secret" doc:"The signing secret (whsec_…), shown this once; verify the webhook-signature header with it"`
}

type webhookEventType struct {
	Type wod.WebhookEventType `json:"type"`
	Doc  string               `json:"doc"`
}

type createWebhookInput struct{ Body webhookCreate }

type updateWebhookInput struct {
	IDParam
	Body webhookPatch
}

type listDeliveriesInput struct {
	IDParam
	State string `query:"state" enum:"queued,sending,delivered,failed," doc:"Only deliveries in this state"`
	Paging
}

type redeliverInput struct {
	IDParam
	Delivery int64 `path:"delivery"`
}

func (s *Server) registerWebhooks() {
	tags := []string{"Webhooks"}
	var types []string
	for _, t := range wod.WebhookTriggers {
		types = append(types, "`"+string(t.Type)+"` ("+t.Doc+")")
	}
	signing := " Each message is a JSON object {type, timestamp, data} posted with the Standard Webhooks headers " +
		"`webhook-id` (the same on every attempt), `webhook-timestamp` and `webhook-signature` " +
		"(`v1,` and the base64 HMAC-SHA256 of `id.timestamp.body` under the secret's key)."
	register(s, huma.Operation{OperationID: "list-webhook-event-types", Method: http.MethodGet,
		Path: APIPrefix + "/webhooks/event-types", Summary: "List the webhook event types", Tags: tags,
		Description: "The types an endpoint may subscribe to: " + strings.Join(types, "; ") + "."},
		wod.RoleAdmin, s.listWebhookEventTypes)
	register(s, huma.Operation{OperationID: "list-webhooks", Method: http.MethodGet, Path: APIPrefix + "/webhooks",
		Summary: "List webhook endpoints", Tags: tags,
		Description: "Their URLs, events, pauses and failure streaks; never the secrets."},
		wod.RoleAdmin, s.listWebhooks)
	register(s, huma.Operation{OperationID: "create-webhook", Method: http.MethodPost, Path: APIPrefix + "/webhooks",
		Summary: "Add a webhook endpoint", Tags: tags, DefaultStatus: http.StatusCreated,
		Description: "The signing secret is generated and in the answer, once." + signing},
		wod.RoleAdmin, s.createWebhook)
	register(s, huma.Operation{OperationID: "get-webhook", Method: http.MethodGet, Path: APIPrefix + "/webhooks/{id}",
		Summary: "Show a webhook endpoint", Tags: tags}, wod.RoleAdmin, s.getWebhook)
	register(s, huma.Operation{OperationID: "update-webhook", Method: http.MethodPatch, Path: APIPrefix + "/webhooks/{id}",
		Summary: "Change a webhook endpoint", Tags: tags,
		Description: "Its URL, description or events (the list replaces the old one)."}, wod.RoleAdmin, s.updateWebhook)
	register(s, huma.Operation{OperationID: "delete-webhook", Method: http.MethodDelete, Path: APIPrefix + "/webhooks/{id}",
		Summary: "Remove a webhook endpoint", Tags: tags, DefaultStatus: http.StatusNoContent,
		Description: "With its deliveries."}, wod.RoleAdmin, s.deleteWebhook)
	register(s, huma.Operation{OperationID: "rotate-webhook-secret", Method: http.MethodPost,
		Path: APIPrefix + "/webhooks/{id}/rotate-secret", Summary: "Give a webhook endpoint a new secret", Tags: tags,
		Description: "The new secret is in the answer, once; every message from now on is signed with it."},
		wod.RoleAdmin, s.rotateWebhookSecret)
	register(s, huma.Operation{OperationID: "pause-webhook", Method: http.MethodPost, Path: APIPrefix + "/webhooks/{id}/pause",
		Summary: "Pause a webhook endpoint", Tags: tags,
		Description: "Nothing is sent to it until it is resumed; its deliveries wait. An endpoint that keeps failing is paused " +
			"on its own, with an alert to the operators."}, wod.RoleAdmin, s.pauseWebhook)
	register(s, huma.Operation{OperationID: "resume-webhook", Method: http.MethodPost, Path: APIPrefix + "/webhooks/{id}/resume",
		Summary: "Resume a webhook endpoint", Tags: tags,
		Description: "Its waiting deliveries go out now, with their attempts counted afresh."}, wod.RoleAdmin, s.resumeWebhook)
	register(s, huma.Operation{OperationID: "list-webhook-deliveries", Method: http.MethodGet,
		Path: APIPrefix + "/webhooks/{id}/deliveries", Summary: "List an endpoint's deliveries", Tags: tags,
		Description: "Newest first, each with its message, state, attempts and last answer (status, the start of the body, error)."},
		wod.RoleAdmin, s.listWebhookDeliveries)
	register(s, huma.Operation{OperationID: "redeliver-webhook", Method: http.MethodPost,
		Path: APIPrefix + "/webhooks/{id}/deliveries/{delivery}/redeliver", Summary: "Send a delivery again", Tags: tags,
		Description: "Queues it now, with its attempts counted afresh and the same webhook-id; 409 while it is being sent."},
		wod.RoleAdmin, s.redeliverWebhook)
}

func (s *Server) listWebhookEventTypes(ctx context.Context, _ *struct{}) (*body[[]webhookEventType], error) {
	out := make([]webhookEventType, len(wod.WebhookTriggers))
	for i, t := range wod.WebhookTriggers {
		out[i] = webhookEventType{Type: t.Type, Doc: t.Doc}
	}
	return &body[[]webhookEventType]{out}, nil
}

func (s *Server) listWebhooks(ctx context.Context, _ *struct{}) (*body[[]*wod.WebhookEndpoint], error) {
	es, err := s.Webhooks.FindWebhooks(ctx)
	if es == nil {
		es = []*wod.WebhookEndpoint{}
	}
	return &body[[]*wod.WebhookEndpoint]{es}, err
}

func (s *Server) createWebhook(ctx context.Context, in *createWebhookInput) (*body[webhookWithSecret], error) {
	e, secret, err := s.Operator.CreateWebhook(ctx, CallerFrom(ctx), operator.WebhookSpec{URL: in.Body.URL,
		Description: in.Body.Description, Events: in.Body.Events})
	if err != nil {
		return nil, err
	}
	return &body[webhookWithSecret]{webhookWithSecret{e, secret}}, nil
}

func (s *Server) getWebhook(ctx context.Context, in *IDParam) (*body[*wod.WebhookEndpoint], error) {
	e, err := s.Webhooks.FindWebhook(ctx, in.ID)
	return &body[*wod.WebhookEndpoint]{e}, err
}

func (s *Server) updateWebhook(ctx context.Context, in *updateWebhookInput) (*body[*wod.WebhookEndpoint], error) {
	e, err := s.Operator.UpdateWebhook(ctx, CallerFrom(ctx), in.ID, operator.WebhookChange{URL: in.Body.URL,
		Description: in.Body.Description, Events: in.Body.Events})
	return &body[*wod.WebhookEndpoint]{e}, err
}

func (s *Server) deleteWebhook(ctx context.Context, in *IDParam) (*empty, error) {
	return &empty{}, s.Operator.DeleteWebhook(ctx, CallerFrom(ctx), in.ID)
}

func (s *Server) rotateWebhookSecret(ctx context.Context, in *IDParam) (*body[webhookWithSecret], error) {
	e, secret, err := s.Operator.RotateWebhookSecret(ctx, CallerFrom(ctx), in.ID)
	if err != nil {
		return nil, err
	}
	return &body[webhookWithSecret]{webhookWithSecret{e, secret}}, nil
}

func (s *Server) pauseWebhook(ctx context.Context, in *IDParam) (*body[*wod.WebhookEndpoint], error) {
	e, err := s.Operator.PauseWebhook(ctx, CallerFrom(ctx), in.ID)
	return &body[*wod.WebhookEndpoint]{e}, err
}

func (s *Server) resumeWebhook(ctx context.Context, in *IDParam) (*body[*wod.WebhookEndpoint], error) {
	e, err := s.Operator.ResumeWebhook(ctx, CallerFrom(ctx), in.ID)
	return &body[*wod.WebhookEndpoint]{e}, err
}

func (s *Server) listWebhookDeliveries(ctx context.Context, in *listDeliveriesInput) (*list[*wod.WebhookDelivery], error) {
	if _, err := s.Webhooks.FindWebhook(ctx, in.ID); err != nil {
		return nil, err
	}
	f := wod.WebhookDeliveryFilter{EndpointID: &in.ID, Page: in.page()}
	if in.State != "" {
		st := wod.WebhookDeliveryState(in.State)
		f.State = &st
	}
	ds, n, err := s.Webhooks.FindWebhookDeliveries(ctx, f)
	if err != nil {
		return nil, err
	}
	return newList(ds, n), nil
}

func (s *Server) redeliverWebhook(ctx context.Context, in *redeliverInput) (*body[*wod.WebhookDelivery], error) {
	d, err := s.Webhooks.FindWebhookDelivery(ctx, in.Delivery)
	if err != nil {
		return nil, err
	}
	if d.EndpointID != in.ID {
		return nil, wod.Errorf(wod.ENOTFOUND, "webhook %d has no delivery %d", in.ID, in.Delivery)
	}
	d, err = s.Operator.RedeliverWebhook(ctx, CallerFrom(ctx), in.Delivery)
	return &body[*wod.WebhookDelivery]{d}, err
}
