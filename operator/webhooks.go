package operator

import (
	"context"
	"strconv"
	"strings"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/webhook"
)

// WebhookSealer seals webhook secrets at rest (secret.Keys): the
// dispatcher needs them in clear to sign, so they cannot be hashed.
type WebhookSealer interface {
	Encrypt(plaintext string) ([]byte, error)
}

// WebhookSpec is an endpoint to add.
type WebhookSpec struct {
	URL         string
	Description string
	Events      []wod.WebhookEventType
}

// WebhookChange changes an endpoint; nil fields stay.
type WebhookChange struct {
	URL         *string
	Description *string
	Events      []wod.WebhookEventType
}

// ValidateWebhook checks an endpoint's specification without adding it.
func (s *Service) ValidateWebhook(spec WebhookSpec) error {
	e := &wod.WebhookEndpoint{URL: strings.TrimSpace(spec.URL), Description: spec.Description, Events: spec.Events}
	return e.Validate()
}

// CreateWebhook adds an endpoint with a new signing secret, which is
// returned once: only its sealed form is kept.
func (s *Service) CreateWebhook(ctx context.Context, by *wod.Caller, spec WebhookSpec) (*wod.WebhookEndpoint, string, error) {
	e := &wod.WebhookEndpoint{URL: strings.TrimSpace(spec.URL), Description: strings.TrimSpace(spec.Description),
		Events: spec.Events}
	if err := e.Validate(); err != nil {
		return nil, "", err
	}
	secretText, sealed, err := s.newWebhookSecret()
	if err != nil {
		return nil, "", err
	}
	e.SecretEnc = sealed
	if err := s.Webhooks.CreateWebhook(ctx, e); err != nil {
		return nil, "", err
	}
	s.audit(ctx, by, "webhook.create", webhookSubject(e.ID), webhook.Display(e.URL))
	return e, secretText, nil
}

func (s *Service) newWebhookSecret() (string, []byte, error) {
	if s.WebhookKeys == nil {
		return "", nil, wod.Errorf(wod.EUNAVAILABLE, "this server cannot seal webhook secrets")
	}
	secretText := webhook.NewSecret()
	sealed, err := s.WebhookKeys.Encrypt(secretText)
	if err != nil {
		return "", nil, err
	}
	return secretText, sealed, nil
}

// UpdateWebhook changes an endpoint's URL, description or events.
func (s *Service) UpdateWebhook(ctx context.Context, by *wod.Caller, id int64, c WebhookChange) (*wod.WebhookEndpoint, error) {
	upd := wod.WebhookUpdate{Description: c.Description, Events: c.Events}
	if c.URL != nil {
		u := strings.TrimSpace(*c.URL)
		upd.URL = &u
	}
	if c.Events != nil {
		var v wod.Validation
		wod.ValidateWebhookEvents(&v, c.Events)
		if err := v.Err("the webhook is not valid"); err != nil {
			return nil, err
		}
	}
	e, err := s.Webhooks.UpdateWebhook(ctx, id, upd)
	if err != nil {
		return nil, err
	}
	s.audit(ctx, by, "webhook.update", webhookSubject(id), webhook.Display(e.URL))
	return e, nil
}

// RotateWebhookSecret gives an endpoint a new signing secret, returned
// once. Messages sent from now on are signed with it.
func (s *Service) RotateWebhookSecret(ctx context.Context, by *wod.Caller, id int64) (*wod.WebhookEndpoint, string, error) {
	secretText, sealed, err := s.newWebhookSecret()
	if err != nil {
		return nil, "", err
	}
	e, err := s.Webhooks.UpdateWebhook(ctx, id, wod.WebhookUpdate{SecretEnc: sealed})
	if err != nil {
		return nil, "", err
	}
	s.audit(ctx, by, "webhook.rotate_secret", webhookSubject(id), "")
	return e, secretText, nil
}

// DeleteWebhook removes an endpoint and its deliveries.
func (s *Service) DeleteWebhook(ctx context.Context, by *wod.Caller, id int64) error {
	if err := s.Webhooks.DeleteWebhook(ctx, id); err != nil {
		return err
	}
	s.audit(ctx, by, "webhook.delete", webhookSubject(id), "")
	return nil
}

// PauseWebhook holds an endpoint's deliveries until it is resumed.
func (s *Service) PauseWebhook(ctx context.Context, by *wod.Caller, id int64) (*wod.WebhookEndpoint, error) {
	e, err := s.Webhooks.PauseWebhook(ctx, id, "paused by "+callerName(by), nil)
	if err != nil {
		return nil, err
	}
	s.audit(ctx, by, "webhook.pause", webhookSubject(id), "")
	return e, nil
}

// ResumeWebhook sends an endpoint's held deliveries now.
func (s *Service) ResumeWebhook(ctx context.Context, by *wod.Caller, id int64) (*wod.WebhookEndpoint, error) {
	e, err := s.Webhooks.ResumeWebhook(ctx, id)
	if err != nil {
		return nil, err
	}
	s.audit(ctx, by, "webhook.resume", webhookSubject(id), "")
	return e, nil
}

// RedeliverWebhook sends one delivery again, now.
func (s *Service) RedeliverWebhook(ctx context.Context, by *wod.Caller, deliveryID int64) (*wod.WebhookDelivery, error) {
	d, err := s.Webhooks.RedeliverWebhook(ctx, deliveryID)
	if err != nil {
		return nil, err
	}
	s.audit(ctx, by, "webhook.redeliver", webhookSubject(d.EndpointID), "delivery "+strconv.FormatInt(deliveryID, 10))
	return d, nil
}

func webhookSubject(id int64) string { return "webhook:" + strconv.FormatInt(id, 10) }
