package astro

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// FieldError is one failed validation constraint of a 400 response.
type FieldError struct {
	Code    string `json:"code"`
	Field   string `json:"field"`
	Message string `json:"message"`
}

// APIError is an error response of the Astro API: its body carries
// statusCode, message, requestId and, for validation failures, fieldErrors.
type APIError struct {
	StatusCode  int          `json:"statusCode"`
	Message     string       `json:"message"`
	RequestID   string       `json:"requestId"`
	FieldErrors []FieldError `json:"fieldErrors,omitempty"`

	Method     string        `json:"-"`
	Path       string        `json:"-"`
	RetryAfter time.Duration `json:"-"`
}

func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Astro API returned %d for %s %s", e.StatusCode, e.Method, e.Path)
	if e.Message != "" {
		fmt.Fprintf(&b, ": %s", strings.TrimSuffix(e.Message, "."))
	}
	for _, f := range e.FieldErrors {
		fmt.Fprintf(&b, "; %s: %s", f.Field, f.Message)
	}
	if e.RequestID != "" {
		fmt.Fprintf(&b, " (request id %s)", e.RequestID)
	}
	if hint := e.hint(); hint != "" {
		b.WriteString(": ")
		b.WriteString(hint)
	}
	return b.String()
}

func (e *APIError) hint() string {
	switch e.StatusCode {
	case http.StatusUnauthorized:
		return "the API token was not accepted (expired, rotated, deleted or mistyped); check the value in ASTRO_API_TOKEN"
	case http.StatusForbidden:
		return "the API token lacks the permission for this; use a token with a role that can manage this object (Organization Owner, Workspace Owner, or Deployment Admin for the Deployment's own tokens)"
	case http.StatusTooManyRequests:
		return "rate limited by Astro (per token: 10 POST, 5 DELETE, 25 GET per second); retry later"
	}
	if e.StatusCode >= 500 {
		return "Astro had a server error; retry later"
	}
	return ""
}

// StatusCode returns the HTTP status of an *APIError in err's chain, or 0.
func StatusCode(err error) int {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.StatusCode
	}
	return 0
}

// IsNotFound reports a 404 from Astro.
func IsNotFound(err error) bool { return StatusCode(err) == http.StatusNotFound }

// IsUnauthorized reports a 401 from Astro: the credential is not (or no longer) valid.
func IsUnauthorized(err error) bool { return StatusCode(err) == http.StatusUnauthorized }

// UncertainError means a non-idempotent request (create or rotate) may or may
// not have been applied: the request reached Astro but no usable answer came
// back. The caller must reconcile before trying again (see package rotation).
type UncertainError struct {
	Method, Path string
	Err          error
}

func (e *UncertainError) Error() string {
	return fmt.Sprintf("%s %s may or may not have been applied by Astro (no usable response: %v)", e.Method, e.Path, e.Err)
}

func (e *UncertainError) Unwrap() error { return e.Err }

// IsUncertain reports whether err is an *UncertainError.
func IsUncertain(err error) bool {
	var ue *UncertainError
	return errors.As(err, &ue)
}
