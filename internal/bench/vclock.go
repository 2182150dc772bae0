package bench

import (
	"container/heap"
	"context"
	"sync"
	"time"
)

// VClock is simulated time for runs that real time would make too long (a
// paced fan-out to 500 secrets takes minutes): Now is virtual, and Sleep
// waits for the virtual clock. The clock jumps to the earliest wake-up
// once nothing has happened for VClockQuiet of real time — no Sleep began
// or ended, no Touch — i.e. once every goroutine of the run waits for the
// clock (a pacer's pause, the latency proxy's delay) or for another that
// does. Real work between two events takes microseconds; should it take
// longer than VClockQuiet (a loaded machine), the jump comes early, which
// makes a request start later in virtual time: the figures can only err
// slow.
type VClock struct {
	mu     sync.Mutex
	now    time.Time
	events uint64
	sleeps sleeperHeap
	stop   chan struct{}
	jumps  int
}

// VClockQuiet is the real time without an event after which a VClock
// jumps.
const VClockQuiet = 5 * time.Millisecond

// NewVClock returns a virtual clock set to start, its goroutine running.
// Call Stop when done.
func NewVClock(start time.Time) *VClock {
	c := &VClock{now: start, stop: make(chan struct{})}
	go c.run()
	return c
}

// Now is the virtual time.
func (c *VClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Touch records an event: something happened that may lead to a Sleep.
func (c *VClock) Touch() {
	c.mu.Lock()
	c.events++
	c.mu.Unlock()
}

// Jumps says how often the clock jumped.
func (c *VClock) Jumps() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.jumps
}

// Sleep waits until the virtual clock has passed d from now, or ctx ends.
func (c *VClock) Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	s := &sleeper{wake: make(chan struct{})}
	c.mu.Lock()
	s.at = c.now.Add(d)
	heap.Push(&c.sleeps, s)
	c.events++
	c.mu.Unlock()
	select {
	case <-s.wake:
		c.Touch()
		return nil
	case <-ctx.Done():
		c.mu.Lock()
		if s.index >= 0 {
			heap.Remove(&c.sleeps, s.index)
		}
		c.events++
		c.mu.Unlock()
		return ctx.Err()
	}
}

// Stop ends the clock's goroutine.
func (c *VClock) Stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	select {
	case <-c.stop:
	default:
		close(c.stop)
	}
}

func (c *VClock) run() {
	tick := time.NewTicker(VClockQuiet / 5)
	defer tick.Stop()
	c.mu.Lock()
	seen, since := c.events, time.Now()
	c.mu.Unlock()
	for {
		select {
		case <-c.stop:
			return
		case <-tick.C:
		}
		c.mu.Lock()
		switch {
		case c.events != seen:
			seen, since = c.events, time.Now()
		case len(c.sleeps) > 0 && time.Since(since) >= VClockQuiet:
			at := c.sleeps[0].at
			if at.After(c.now) {
				c.now = at
			}
			for len(c.sleeps) > 0 && !c.sleeps[0].at.After(c.now) {
				close(heap.Pop(&c.sleeps).(*sleeper).wake)
			}
			c.jumps++
			c.events++
			seen, since = c.events, time.Now()
		}
		c.mu.Unlock()
	}
}

type sleeper struct {
	at    time.Time
	wake  chan struct{}
	index int
}

type sleeperHeap []*sleeper

func (h sleeperHeap) Len() int           { return len(h) }
func (h sleeperHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h sleeperHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *sleeperHeap) Push(x any) {
	s := x.(*sleeper)
	s.index = len(*h)
	*h = append(*h, s)
}
func (h *sleeperHeap) Pop() any {
	old := *h
	s := old[len(old)-1]
	old[len(old)-1] = nil
	s.index = -1
	*h = old[:len(old)-1]
	return s
}
