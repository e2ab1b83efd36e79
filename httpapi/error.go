package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/wod-dev/wod"
)

// StatusOf maps an error code to its HTTP status. It is the only place
// where statuses are decided.
func StatusOf(code string) int {
	switch code {
	case wod.EINVALID:
		return http.StatusUnprocessableEntity
	case wod.ENOTFOUND:
		return http.StatusNotFound
	case wod.ECONFLICT, wod.EALREADYREGISTERED, wod.EFULL:
		return http.StatusConflict
	case wod.EUNAUTHORIZED:
		return http.StatusUnauthorized
	case wod.EFORBIDDEN:
		return http.StatusForbidden
	case wod.ERATELIMITED:
		return http.StatusTooManyRequests
	case wod.EUNAVAILABLE:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// codeOfStatus is the reverse, for errors huma raises itself.
func codeOfStatus(status int) string {
	switch status {
	case http.StatusBadRequest, http.StatusUnprocessableEntity, http.StatusRequestEntityTooLarge,
		http.StatusUnsupportedMediaType:
		return wod.EINVALID
	case http.StatusNotFound, http.StatusMethodNotAllowed:
		return wod.ENOTFOUND
	case http.StatusConflict:
		return wod.ECONFLICT
	case http.StatusUnauthorized:
		return wod.EUNAUTHORIZED
	case http.StatusForbidden:
		return wod.EFORBIDDEN
	case http.StatusTooManyRequests:
		return wod.ERATELIMITED
	case http.StatusServiceUnavailable:
		return wod.EUNAVAILABLE
	}
	return wod.EINTERNAL
}

// ErrorBody is every error response of the API.
type ErrorBody struct {
	Status  int              `json:"status" doc:"HTTP status"`
	Code    string           `json:"code" doc:"Machine-readable code: invalid, not_found, conflict, already_registered, full, unauthorized, forbidden, rate_limited, unavailable, internal"`
	Message string           `json:"message" doc:"What went wrong, fit to show to a person"`
	Errors  []wod.FieldError `json:"errors,omitempty" doc:"Per-field problems of an invalid request"`
	EndsAt  *time.Time       `json:"ends_at,omitempty" doc:"With already_registered, to operators only: when the live registration ends"`
	// ResendLink is the lost-link route: the only way to the registration
	// an anonymous caller is offered.
	ResendLink string `json:"resend_link,omitempty" doc:"With already_registered: where to POST {\"email\": …} to have the registration's status link sent again to that address"`
	// CanWait says that a full workshop has a waiting line to join.
	CanWait bool `json:"can_wait,omitempty" doc:"With full: the same request with \"wait\": true joins the workshop's waiting line (202) instead"`

	retryAfter time.Duration
}

func (e *ErrorBody) Error() string { return e.Message }

// GetStatus implements huma.StatusError.
func (e *ErrorBody) GetStatus() int { return e.Status }

// GetHeaders implements huma.HeadersError: 429 answers say when to retry.
func (e *ErrorBody) GetHeaders() http.Header {
	if e.retryAfter <= 0 {
		return nil
	}
	return http.Header{"Retry-After": {strconv.Itoa(int((e.retryAfter + time.Second - 1) / time.Second))}}
}

func init() {
	// huma builds its own errors (validation, bad JSON, unknown routes)
	// through this process-wide hook; pointing it at ErrorBody gives every
	// error of the API one shape. It is set once, before any server exists.
	huma.NewError = func(status int, msg string, errs ...error) huma.StatusError {
		body := &ErrorBody{Status: status, Code: codeOfStatus(status), Message: msg}
		for _, err := range errs {
			var d *huma.ErrorDetail
			if errors.As(err, &d) {
				body.Errors = append(body.Errors, fieldError(d))
			} else if err != nil {
				body.Errors = append(body.Errors, wod.FieldError{Message: err.Error()})
			}
		}
		if status == http.StatusUnprocessableEntity && msg == "validation failed" {
			body.Message = "the request is not valid"
		}
		return body
	}
}

// fieldError turns huma's {"body", "expected required property email to be
// present"} into {"email", "is required"}.
func fieldError(d *huma.ErrorDetail) wod.FieldError {
	const pre, post = "expected required property ", " to be present"
	if strings.HasPrefix(d.Message, pre) && strings.HasSuffix(d.Message, post) {
		name := strings.TrimSuffix(strings.TrimPrefix(d.Message, pre), post)
		if loc := fieldName(d.Location); loc != "body" && loc != "" {
			name = loc + "." + name
		}
		return wod.FieldError{Field: name, Message: "is required"}
	}
	return wod.FieldError{Field: fieldName(d.Location), Message: d.Message}
}

// fieldName turns huma's "body.email" into "email".
func fieldName(location string) string {
	for _, p := range []string{"body.", "query.", "path.", "header."} {
		if strings.HasPrefix(location, p) {
			return strings.TrimPrefix(location, p)
		}
	}
	return location
}

// apiError turns any error into the API's error response, logging what the
// caller must not see.
func (s *Server) apiError(ctx context.Context, err error) error {
	var we *wod.Error
	if errors.As(err, &we) {
		body := &ErrorBody{Status: StatusOf(we.Code), Code: we.Code, Message: we.Message, Errors: we.Fields,
			EndsAt: we.EndsAt, retryAfter: we.RetryAfter}
		body.CanWait = we.Code == wod.EFULL
		if we.Code == wod.EALREADYREGISTERED {
			body.ResendLink = s.PublicURL + resendLinkPath
			// Whoever types an address must not learn whether, and until
			// when, its owner is in a workshop: that is for operators and
			// for the holder of the status link, which the route sends.
			if CallerFrom(ctx).Anonymous() {
				body.EndsAt = nil
				body.Message = "this e-mail address already has a workshop running; the link to it was sent to " +
					"that address, and can be sent there again (POST " + resendLinkPath + ")"
			}
		}
		return body
	}
	// The client went away (an agent's long-poll at its shutdown): the
	// driver's error need not wrap context.Canceled, the request's context
	// says it all.
	if errors.Is(err, context.Canceled) || ctx.Err() != nil {
		return &ErrorBody{Status: 499, Code: wod.EINTERNAL, Message: "request cancelled"}
	}
	s.Logger.ErrorContext(ctx, "internal error", slog.String("error", err.Error()))
	return &ErrorBody{Status: http.StatusInternalServerError, Code: wod.EINTERNAL,
		Message: "internal error; the operators have the details in the server log"}
}

func notFound(format string, args ...any) error {
	return wod.Errorf(wod.ENOTFOUND, format, args...)
}

func invalid(field, format string, args ...any) error {
	return &wod.Error{Code: wod.EINVALID, Message: "the request is not valid",
		Fields: []wod.FieldError{{Field: field, Message: fmt.Sprintf(format, args...)}}}
}
