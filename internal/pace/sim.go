package pace

import (
	"context"
	"sync"
	"time"
)

// Sim is a virtual clock for tests and what-if runs of a paced fan-out: a
// Sleep returns at once and moves the clock forward, but only when no
// request the attached Pacer let go is still in flight. A request thus
// reaches the server at the virtual time the Pacer granted it, however
// slowly the machine runs it, and a server that reads the same clock sees
// the schedule the Pacer planned, latency zero.
type Sim struct {
	mu sync.Mutex
	t  time.Time
	p  *Pacer
}

// NewSim returns a virtual clock set to start.
func NewSim(start time.Time) *Sim { return &Sim{t: start} }

// Attach makes Sleep wait for p's requests in flight before it moves the
// clock.
func (s *Sim) Attach(p *Pacer) {
	s.mu.Lock()
	s.p = p
	s.mu.Unlock()
}

// Now is the virtual time.
func (s *Sim) Now() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.t
}

// Sleep moves the clock to d after the time of the call (never back).
func (s *Sim) Sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	target, p := s.t.Add(d), s.p
	s.mu.Unlock()
	advance := func() {
		s.mu.Lock()
		if target.After(s.t) {
			s.t = target
		}
		s.mu.Unlock()
	}
	if p == nil {
		advance()
		return ctx.Err()
	}
	return p.whenIdle(ctx, advance)
}
