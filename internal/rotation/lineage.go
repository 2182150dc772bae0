package rotation

import (
	"slices"
	"time"

	"github.com/astro-ci/astro-ci/internal/astro"
)

// A lineage is every generation of one logical credential. Runs that rotate
// it at the same time coordinate through nothing but the lineage's tokens
// and their markers, with these rules (the argument is in
// docs/RELIABILITY.md, "Overlap rotation without a lock"):
//
//   - Order. Members are totally ordered (by before: the hand-made origin,
//     then generation, createdAt and id), the same order for every run.
//   - Writing. A run writes its value only after its token exists and after
//     a list taken since then shows no newer member that is writing or
//     committed (else it yields: it deletes its own, never-written token)
//     and no older member that may still be writing (else it waits).
//   - Quiet. A member may still be written by its run while it is pending
//     and Astro's clock has not passed createdAt + ttl, the bound its run
//     promised (its deadline, plus a margin). Committed (current),
//     abandoned and yielded members are quiet.
//   - Deleting. A member may be deleted once a newer member is committed
//     and that member's grace has passed: the newer run wrote every target
//     after the older member went quiet (or the older run yielded before
//     writing). Yielded members were never written and may go at once.

// member is one token of a lineage with its marker.
type member struct {
	tok    astro.Token
	marker Marker
	marked bool
}

func (m member) gen() int { return m.marker.Gen }

// committed: the member's value reached every target of its run. A token
// astro-ci did not create (the user's original) counts as committed.
func (m member) committed() bool { return !m.marked || m.marker.State == Current }

// before is the lineage order: a token astro-ci did not create (the
// lineage's origin, made by hand) comes first; then the generation a run
// gave its token (one more than any it saw when it planned, so a run that
// started after another finished comes after it even within one second:
// createdAt has whole seconds); then createdAt; then id.
func before(a, b *astro.Token) bool {
	ma, am := ParseMarker(a.Description)
	mb, bm := ParseMarker(b.Description)
	if am != bm {
		return bm
	}
	if ma.Gen != mb.Gen {
		return ma.Gen < mb.Gen
	}
	if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
		return c < 0
	}
	return a.ID < b.ID
}

// legacyPendingWindow bounds the run of a pending token whose marker has no
// ttl (written by astro-ci before ttl existed).
const legacyPendingWindow = 15 * time.Minute

// writableUntil is when m's run may write a target for the last time, in
// Astro's clock; zero when it is quiet already.
func (m member) writableUntil() time.Time {
	if !m.marked || m.marker.State != Pending {
		return time.Time{}
	}
	ttl := legacyPendingWindow
	if m.marker.TTL > 0 {
		ttl = m.marker.TTL
	}
	return m.tok.CreatedAt.Add(ttl)
}

// mayWrite: m's run may still write a target at server time now.
func (m member) mayWrite(now time.Time) bool {
	u := m.writableUntil()
	return !u.IsZero() && now.Before(u)
}

// lineage is every generation of one logical credential, in lineage order.
type lineage struct {
	id      string
	members []member
	// at is Astro's time when the list was taken (a lower bound).
	at time.Time
}

func (l *lineage) sort() {
	slices.SortStableFunc(l.members, func(a, b member) int {
		if before(&a.tok, &b.tok) {
			return -1
		}
		if before(&b.tok, &a.tok) {
			return 1
		}
		return 0
	})
}

// live is the newest committed member: the one whose value the targets hold
// once every run in flight has ended.
func (l lineage) live() *member {
	for i := len(l.members) - 1; i >= 0; i-- {
		if l.members[i].committed() {
			return &l.members[i]
		}
	}
	return nil
}

func (l lineage) find(id string) *member {
	for i := range l.members {
		if l.members[i].tok.ID == id {
			return &l.members[i]
		}
	}
	return nil
}

func (l lineage) has(id string) bool { return id != "" && l.find(id) != nil }

func (l lineage) nextGen() int {
	n := 0
	for _, m := range l.members {
		n = max(n, m.gen())
	}
	return n + 1
}

// writing lists the members other than own whose runs may still write.
func (l lineage) writing(own string) []member {
	var out []member
	for _, m := range l.members {
		if m.tok.ID != own && m.mayWrite(l.at) {
			out = append(out, m)
		}
	}
	return out
}

// contest is what a run with token own sees in l: a newer member that is
// writing or committed (the run must yield to it), else the older members
// that may still write (the run must wait for them).
func (l lineage) contest(own *astro.Token) (newer *member, olderWriting []member) {
	for i := range l.members {
		m := &l.members[i]
		if m.tok.ID == own.ID {
			continue
		}
		switch {
		case before(own, &m.tok):
			if newer == nil && (m.committed() || m.mayWrite(l.at)) {
				newer = m
			}
		case m.mayWrite(l.at):
			olderWriting = append(olderWriting, *m)
		}
	}
	return newer, olderWriting
}

// graceOver: the grace of committed member c has passed at now.
func graceOver(c member, now time.Time) bool {
	return c.marker.GraceUntil == nil || !now.Before(*c.marker.GraceUntil)
}

// deletable lists the members no target can hold any more: those older than
// a committed, marked member whose grace is over, and yielded ones. The live
// member is never among them.
func (l lineage) deletable(now time.Time) []member {
	live := l.live()
	var out []member
	for i, m := range l.members {
		if live != nil && m.tok.ID == live.tok.ID {
			continue
		}
		if m.marked && m.marker.State == Yielded {
			out = append(out, m)
			continue
		}
		for _, c := range l.members[i+1:] {
			if c.marked && c.committed() && graceOver(c, now) {
				out = append(out, m)
				break
			}
		}
	}
	return out
}

// kept lists the members older than the live one still inside its grace.
func (l lineage) kept(now time.Time) []KeptToken {
	live := l.live()
	if live == nil {
		return nil
	}
	del := map[string]bool{}
	for _, m := range l.deletable(now) {
		del[m.tok.ID] = true
	}
	var out []KeptToken
	for _, m := range l.members {
		if m.tok.ID == live.tok.ID {
			break
		}
		if !del[m.tok.ID] {
			out = append(out, KeptToken{ID: m.tok.ID, Until: live.marker.GraceUntil})
		}
	}
	return out
}

// stragglers are members newer than the live one that no run is writing
// any more but that may be in targets (a run that failed or died midway):
// the next rotation's commit makes them deletable.
func (l lineage) stragglers() []member {
	live := l.live()
	var out []member
	for _, m := range l.members {
		if live != nil && !before(&live.tok, &m.tok) {
			continue
		}
		if m.marked && m.marker.State != Yielded && !m.committed() && !m.mayWrite(l.at) {
			out = append(out, m)
		}
	}
	return out
}

// stragglersAfter lists the members newer than own that no run writes any
// more and that were not committed.
func (l lineage) stragglersAfter(own *astro.Token) []member {
	var out []member
	for _, m := range l.members {
		if m.tok.ID != own.ID && before(own, &m.tok) && m.marked && !m.committed() && !m.mayWrite(l.at) {
			out = append(out, m)
		}
	}
	return out
}
