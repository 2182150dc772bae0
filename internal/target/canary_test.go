package target

import (
	"context"
	"errors"
	"testing"
)

// TestRemoveCanary: the delete runs on a cancelled context, is tried twice
// when it fails, and is repeated after the settle pause only when the
// canary's write was uncertain and the first delete found nothing.
func TestRemoveCanary(t *testing.T) {
	t.Parallel()
	boom := errors.New("502")
	tests := []struct {
		name      string
		uncertain bool
		answers   []error // nil: deleted; errAbsent: not found
		wantCalls int
		wantErr   bool
	}{
		{"deleted", false, []error{nil}, 1, false},
		{"absent, certain", false, []error{errAbsent}, 1, false},
		{"absent, uncertain: once more after the settle", true, []error{errAbsent, nil}, 2, false},
		{"present, uncertain: no repeat", true, []error{nil}, 1, false},
		{"failed twice", false, []error{boom, boom}, 2, true},
		{"failed, then deleted", false, []error{boom, nil}, 2, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithCancel(t.Context())
			cancel() // a stopped run still cleans up
			calls := 0
			err := RemoveCanary(ctx, tc.uncertain, func(dctx context.Context) (bool, error) {
				if dctx.Err() != nil {
					t.Error("the delete got a cancelled context")
				}
				a := tc.answers[min(calls, len(tc.answers)-1)]
				calls++
				if errors.Is(a, errAbsent) {
					return false, nil
				}
				return a == nil, a
			})
			if calls != tc.wantCalls || (err != nil) != tc.wantErr {
				t.Errorf("%d deletes, error %v; want %d, error %v", calls, err, tc.wantCalls, tc.wantErr)
			}
		})
	}
}

var errAbsent = errors.New("absent")
