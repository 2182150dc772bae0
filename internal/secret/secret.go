// Package secret holds token values so that they cannot be printed by accident,
// and the process-wide redactor that scrubs every value seen from all output.
package secret

import (
	"encoding/json"
	"fmt"
	"log/slog"
)

// Redacted is what every formatting path prints instead of a value.
const Redacted = "[REDACTED]"

// Value is a secret string. Every fmt verb, JSON and text marshalling and slog
// print Redacted; only Reveal returns the value, so a value can only leave the
// process where the code says so explicitly.
type Value struct{ v string }

// New wraps s.
func New(s string) Value { return Value{v: s} }

// Reveal returns the plain value. Call it only where the value is sent to an
// API or written to a secret store.
func (v Value) Reveal() string { return v.v }

// IsZero reports whether no value is held.
func (v Value) IsZero() bool { return v.v == "" }

// Equal compares two values without revealing them.
func (v Value) Equal(o Value) bool { return v.v == o.v }

// Format makes %v, %s, %q, %x, %#v and the rest print Redacted.
func (v Value) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(Redacted)) }

// String implements fmt.Stringer.
func (v Value) String() string { return Redacted }

// GoString implements fmt.GoStringer.
func (v Value) GoString() string { return Redacted }

// MarshalJSON never emits the value.
func (v Value) MarshalJSON() ([]byte, error) { return []byte(`"` + Redacted + `"`), nil }

// MarshalText never emits the value.
func (v Value) MarshalText() ([]byte, error) { return []byte(Redacted), nil }

// UnmarshalJSON reads a JSON string, so API responses decode straight into a Value.
func (v *Value) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v.v = s
	return nil
}

// UnmarshalText lets configuration loaders (caarlos0/env) fill a Value.
func (v *Value) UnmarshalText(b []byte) error {
	v.v = string(b)
	return nil
}

// LogValue implements slog.LogValuer.
func (v Value) LogValue() slog.Value { return slog.StringValue(Redacted) }
