package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
)

// panickyReader panics with a value in the message.
type panickyReader struct{ value string }

func (p panickyReader) Read([]byte) (int, error) { panic("boom with " + p.value) }

// A panic is caught, printed through the redactor, and reported as an
// internal error in the JSON document.
func TestPanicIsRedactedAndReported(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, v := h.admin()
	var stdout, stderr bytes.Buffer
	m := Main{HTTPClient: h.srv.Client(), Now: h.clock.Now, Sleep: h.sleep, Stdin: panickyReader{v}, Stores: h.stores}
	code := m.Run(context.Background(), []string{"target", "put", "--target", h.target("x"), "--format", "json"}, h.env, &stdout, &stderr)
	r := result{code, stdout.String(), stderr.String()}
	h.mu.Lock()
	h.outputs = append(h.outputs, r.stdout, r.stderr)
	h.mu.Unlock()
	if r.code != 1 || !strings.Contains(r.stderr, "internal error: boom with [REDACTED]") {
		t.Fatal(r)
	}
	var doc struct {
		Error struct{ Kind string }
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil || doc.Error.Kind != "internal" {
		t.Fatalf("%v: %v", err, r)
	}
	checkSchema(t, "target-put", r)
}
