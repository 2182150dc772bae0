package target

import (
	"context"
	"testing"
	"time"

	"github.com/astro-ci/astro-ci/internal/pace"
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

// pacerStore passes every write through a pace.Pacer first.
type pacerStore struct {
	*memStore
	p *pace.Pacer
}

func (s pacerStore) Put(ctx context.Context, t Target, v secret.Value) error {
	g, err := s.p.Acquire(ctx, pace.Spend{Key: "points PUT", Units: 5, Budget: pace.Budget{Limit: 1e12, Window: time.Minute}})
	if err != nil {
		return err
	}
	defer g.Done(pace.Feedback{})
	return s.memStore.Put(ctx, t, v)
}

// BenchmarkFanoutPut50Paced is BenchmarkFanoutPut50 through a pacer whose
// budgets never bind: what the pacing machinery adds per write.
func BenchmarkFanoutPut50Paced(b *testing.B) {
	p, err := pace.New(pace.Config{Concurrency: 100})
	if err != nil {
		b.Fatal(err)
	}
	ts := ghTargets(50)
	f := &Fanout{Stores: map[Scheme]Store{GitHub: pacerStore{memStore: newMem(), p: p}}, Limit: 100}
	v := secret.New("value-1234567890")
	b.ReportAllocs()
	for b.Loop() {
		if err := Err(f.Put(context.Background(), ts, v)); err != nil {
			b.Fatal(err)
		}
	}
}
