package target

import (
	"context"
	"testing"

	"github.com/astro-ci/astro-ci/internal/secret"
)

// BenchmarkFanoutPut50 is the fan-out's own overhead for 50 targets on a
// store that answers at once (no network): what astro-ci adds per write.
func BenchmarkFanoutPut50(b *testing.B) {
	m := newMem()
	ts := ghTargets(50)
	f := &Fanout{Stores: map[Scheme]Store{GitHub: m}}
	v := secret.New("value-1234567890")
	b.ReportAllocs()
	for b.Loop() {
		if err := Err(f.Put(context.Background(), ts, v)); err != nil {
			b.Fatal(err)
		}
	}
}
