package wod

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Error codes. Each maps to exactly one HTTP status in the HTTP layer
// (httpapi.StatusOf); nothing else decides statuses.
const (
	EINVALID           = "invalid"            // 422: the input breaks a rule; see Fields
	ENOTFOUND          = "not_found"          // 404
	ECONFLICT          = "conflict"           // 409: a uniqueness or state rule
	EALREADYREGISTERED = "already_registered" // 409: this e-mail holds a live registration; see EndsAt
	EFULL              = "full"               // 409: no seat left for the workshop
	EUNAUTHORIZED      = "unauthorized"       // 401: no or bad credentials
	EFORBIDDEN         = "forbidden"          // 403: credentials without the needed role
	ERATELIMITED       = "rate_limited"       // 429: see RetryAfter
	EUNAVAILABLE       = "unavailable"        // 503: a dependency is down
	EINTERNAL          = "internal"           // 500: everything that is not an *Error
)

// Error is the application's error. Its Message is safe to show to the caller;
// anything that is not an *Error is reported as "internal error" and logged.
type Error struct {
	Code    string
	Message string
	// Fields holds per-field problems of an EINVALID error.
	Fields []FieldError
	// EndsAt is when the live registration of an EALREADYREGISTERED error
	// ends. The HTTP layer tells it to operators only: to anyone else it
	// would say until when a stranger's address is in a workshop.
	EndsAt *time.Time
	// RetryAfter tells an ERATELIMITED caller when to come back.
	RetryAfter time.Duration
}

// FieldError is one problem with one input field.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Sentence is the problem as one phrase for a person: the field's name
// then the message ("email must be an address"), or the message alone when
// it already names the field ("workshop X opens for registration at …").
func (f FieldError) Sentence() string {
	if strings.HasPrefix(f.Message, f.Field+" ") {
		return f.Message
	}
	return f.Field + " " + f.Message
}

func (e *Error) Error() string {
	if len(e.Fields) == 0 {
		return fmt.Sprintf("wod error: code=%s message=%s", e.Code, e.Message)
	}
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = f.Field + ": " + f.Message
	}
	return fmt.Sprintf("wod error: code=%s message=%s (%s)", e.Code, e.Message, strings.Join(parts, "; "))
}

// Errorf returns an *Error with the code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of err's *Error, or EINTERNAL.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the caller-safe message of err.
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}

// Validation gathers field errors and turns them into one EINVALID *Error.
type Validation struct {
	fields []FieldError
}

// Add records a problem with field.
func (v *Validation) Add(field, format string, args ...any) {
	v.fields = append(v.fields, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

// Check records the problem when ok is false.
func (v *Validation) Check(ok bool, field, format string, args ...any) {
	if !ok {
		v.Add(field, format, args...)
	}
}

// Err returns nil when nothing was recorded, else an EINVALID *Error.
func (v *Validation) Err(message string) error {
	if len(v.fields) == 0 {
		return nil
	}
	return &Error{Code: EINVALID, Message: message, Fields: v.fields}
}
