package rotation

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/astro-ci/astro-ci/internal/astro"
)

// Time budgets of a run.
const (
	// defaultBudget is a run's deadline when its context has none.
	defaultBudget = 15 * time.Minute
	// maxBudget bounds a run however long its context allows (markers read a
	// larger ttl as this).
	maxBudget = time.Duration(maxTTLSeconds) * time.Second
	// cleanupReserve is kept back from the deadline so that a run stopped by
	// it, or by a signal, can still remove or mark its own token.
	cleanupReserve = 10 * time.Second
	// writeMargin is added to a pending token's ttl beyond its run's
	// deadline: a write sent just before the deadline may land a little
	// later, and Astro's Date header has whole seconds.
	writeMargin = 30 * time.Second
	// youngRun: a pending token younger than this most likely belongs to a
	// run still at work, which is worth waiting for; an older one to a run
	// that died.
	youngRun = 5 * time.Minute
	// patience: how long a run waits for a young run whose bound lies
	// beyond its own deadline to finish on its own.
	patience = 3 * time.Minute
	// localSkew is how far a runner's clock may be from Astro's when no
	// Astro answer has told the time yet.
	localSkew = 2 * time.Minute
)

// run is one invocation of the engine: its context and deadline, where it
// is, and the token it created, so that an interrupted run can clean up.
type run struct {
	e      *Engine
	parent context.Context
	ctx    context.Context // parent, ending cleanupReserve before its deadline
	cancel context.CancelFunc
	until  time.Time // ctx's deadline
	req    Request
	out    *Outcome
	stage  string // what the run is doing, for deadline messages
	astro  Astro  // the client in use; a self-rotation moves to its new value

	own       *astro.Token // created by this run
	ownMarker Marker
	userDesc  string // the user's part of the description own carries
	writing   bool   // a target write of own's value was started
	committed bool
	creating  bool // Create, not a rotation
	// group builds the lineage from a list, when it is not a rotation's
	// (Create: the tokens of one name in one scope).
	group func([]astro.Token) lineage
}

func (e *Engine) begin(parent context.Context) *run {
	now := time.Now()
	dl, ok := parent.Deadline()
	if !ok {
		dl = now.Add(defaultBudget)
	}
	if dl.Sub(now) > maxBudget {
		dl = now.Add(maxBudget)
	}
	work := dl.Add(-cleanupReserve)
	if dl.Sub(now) < 3*cleanupReserve {
		work = now.Add(dl.Sub(now) * 2 / 3)
	}
	ctx, cancel := context.WithDeadline(parent, work)
	return &run{e: e, parent: parent, ctx: ctx, cancel: cancel, until: work, astro: e.Astro}
}

func (r *run) end() { r.cancel() }

// ttl is the bound written into the marker of the token this run creates:
// no write of this run lands later than createdAt + ttl.
func (r *run) ttl() time.Duration {
	d := time.Until(r.until) + writeMargin
	return d.Truncate(time.Second) + time.Second
}

// cleanupCtx is for the last calls of a run that was stopped: its work
// context may be over, but a few seconds remain before the deadline (or
// after a signal) to leave a state the next run continues from.
func (r *run) cleanupCtx() (context.Context, context.CancelFunc) {
	limit := time.Now().Add(cleanupReserve - time.Second)
	if dl, ok := r.parent.Deadline(); ok && dl.Before(limit) {
		limit = dl
	}
	return context.WithDeadline(context.WithoutCancel(r.parent), limit)
}

func (e *Engine) now() time.Time {
	if e.Now != nil {
		return e.Now().UTC()
	}
	return time.Now().UTC()
}

func (r *run) localNow() time.Time { return r.e.now() }

// serverNow is a lower bound of Astro's clock: what judging another run's
// deadline, or a grace period, needs (too early is safe, too late is not).
func (r *run) serverNow() time.Time { return r.e.serverNow() }

func (e *Engine) serverNow() time.Time {
	if e.Astro != nil {
		if t, ok := e.Astro.ServerTime(); ok {
			return t
		}
	}
	return e.now().Add(-localSkew)
}

// explain names what the run was doing when its deadline passed or it was
// cancelled.
func (r *run) explain(err error) error {
	if err == nil {
		return nil
	}
	switch {
	case errors.Is(r.parent.Err(), context.Canceled):
		return fmt.Errorf("stopped (cancelled) while %s: %w", r.stage, err)
	case r.ctx.Err() != nil && errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("the deadline (--deadline) passed while %s: %w", r.stage, err)
	}
	return err
}

// BusyError says that another run of the same token may still be writing targets,
// and waiting for it would outlast this run's deadline.
type BusyError struct {
	Lineage string
	TokenID string    // the other run's token
	Created time.Time // when it was created
	Until   time.Time // when its run can write no more (Astro's clock)
	// Creating: the runs create the token (token create, a preview's token).
	Creating bool
}

func (e *BusyError) Error() string {
	doing := "rotating"
	if e.Creating {
		doing = "creating"
	}
	return fmt.Sprintf("another run is "+doing+" this token: its token %s (created %s) is pending, and its run may write targets until %s. If that run is alive it finishes on its own; if it died (a killed job), rerun after %s. Rotations of one token need no serialising, but a concurrency group (GitHub) or resource_group (GitLab) avoids this wait",
		e.TokenID, e.Created.Format(time.RFC3339), e.Until.Format(time.RFC3339), e.Until.Format(time.RFC3339))
}

// settle lists l again until no run of another member may still be
// writing, or (when own is set) a newer member appears, which the caller
// yields to. It gives up with a *BusyError when waiting cannot end before
// this run's deadline, or the runs it waits for look dead.
func (r *run) settle(l lineage, own *astro.Token) (lineage, *member, error) {
	poll := 250 * time.Millisecond
	// The waits are counted as asked for, not as measured, so that the loop
	// ends however the sleep is implemented.
	var waited time.Duration
	start := time.Now()
	// Keep time for this run's own work after the wait.
	budget := time.Until(r.until)
	budget -= min(writeMargin, budget/3)
	for {
		var writers []member
		if own != nil {
			newer, older := l.contest(own)
			if newer != nil {
				return l, newer, nil
			}
			writers = older
		} else {
			writers = l.writing("")
		}
		if len(writers) == 0 {
			return l, nil, nil
		}
		last, young := writers[0], false
		for _, w := range writers {
			if w.writableUntil().After(last.writableUntil()) {
				last = w
			}
			young = young || l.at.Sub(w.tok.CreatedAt) < youngRun
		}
		busy := &BusyError{Lineage: l.id, TokenID: last.tok.ID, Created: last.tok.CreatedAt, Until: last.writableUntil(), Creating: r.creating}
		// Waiting ends by itself when the other run's bound falls inside
		// this run's budget. Beyond it, only that run finishing on its own
		// ends the wait: worth a few minutes for a young token (most likely
		// a live run, which takes seconds to a few minutes), not for an old
		// one (most likely a run that died): say when to rerun instead.
		if beyond := last.writableUntil().Sub(l.at) > budget-waited; beyond {
			if !young || waited >= min(budget, patience) {
				return l, nil, busy
			}
		}
		if poll == 250*time.Millisecond {
			r.e.Log.Infof("another run is working on this token (its token %s is pending): waiting for it", last.tok.ID)
		}
		// Give up only after polling for real time too (up to 2 s): a sleep
		// that returns at once (tests moving a fake clock) must not end the
		// wait before the other run, on real time, had a chance to finish.
		if waited >= budget && time.Since(start) >= min(budget, 2*time.Second) {
			return l, nil, busy
		}
		if err := r.e.sleep(r.ctx, poll); err != nil {
			return l, nil, busy
		}
		waited += poll
		poll = min(2*poll, 5*time.Second)
		var err error
		if l, err = r.relist(l); err != nil {
			return l, nil, err
		}
	}
}

// relist lists l's scope again, keeping l's identity.
func (r *run) relist(l lineage) (lineage, error) {
	ref := l.members[0].tok
	if r.own != nil {
		ref = *r.own
	}
	all, err := r.astro.ListTokens(r.ctx, scopeFilter(&ref))
	if err != nil {
		return l, fmt.Errorf("listing tokens to see whether another run has finished: %w", err)
	}
	if r.group != nil {
		return r.group(all), nil
	}
	return buildLineage(l.id, nil, all, r.serverNow()), nil
}

// yield steps aside for another run: this run's token was never written
// anywhere, so it goes (or, if that fails, is marked yielded, which any run
// may delete).
func (r *run) yield(to *member, why string) error {
	r.out.Yielded = &Yield{To: to.tok.ID, Reason: why}
	r.e.Log.Warnf("%s (token %s): this run steps aside and writes nothing; that run's value goes to the targets", why, to.tok.ID)
	if err := r.dropOwn(); err != nil {
		r.e.Log.Warnf("%v", err)
	}
	r.out.New = nil
	return nil
}

// discard removes this run's token after a failure before any write.
func (r *run) discard(cause error) error {
	if r.writing {
		return r.abandon(cause)
	}
	if err := r.dropOwn(); err != nil {
		return errors.Join(cause, err)
	}
	return cause
}

// dropOwn deletes the run's never-written token; when that fails, marks it
// yielded; when that fails too, it stays pending until its ttl passes.
func (r *run) dropOwn() error {
	if r.own == nil {
		return nil
	}
	ctx, cancel := r.cleanupCtx()
	defer cancel()
	id := r.own.ID
	err := r.astro.DeleteToken(ctx, id)
	if err != nil && astro.IsUnauthorized(err) && r.astro != r.e.Astro {
		err = r.e.Astro.DeleteToken(ctx, id)
	}
	if err == nil || astro.IsNotFound(err) {
		r.e.Log.Infof("deleted token %s, which this run created and never wrote anywhere", id)
		r.own = nil
		return nil
	}
	y := r.ownMarker
	y.State = Yielded
	if _, uerr := r.astro.UpdateToken(ctx, id, astro.UpdateTokenRequest{Name: r.own.Name, Description: WithMarker(r.userDesc, y)}); uerr == nil {
		r.e.Log.Warnf("could not delete token %s (%v); marked it yielded, so a later run deletes it", id, err)
		return nil
	}
	return fmt.Errorf("could not delete token %s, which this run created and never wrote anywhere; a later run deletes it once %s has passed: %w", id, time.Now().Add(r.ownMarker.TTL).Format(time.RFC3339), err)
}

// abandon marks the run's token after a failure once writes had begun: some
// targets may hold it, so it stays until a later rotation replaces it.
func (r *run) abandon(cause error) error {
	ab := r.ownMarker
	ab.State = Abandoned
	if err := r.markCtx(ab, true); err != nil {
		r.e.Log.Warnf("could not mark token %s abandoned (a rerun before %s will wait for it): %v", r.own.ID, time.Now().Add(r.ownMarker.TTL).Format(time.RFC3339), err)
	}
	return cause
}

// mark rewrites the marker of the run's token.
func (r *run) mark(m Marker) error {
	err := r.markCtx(m, false)
	if err != nil && r.ctx.Err() != nil {
		// Stopped just before the commit: every target holds the value, so
		// committing is still right.
		err = r.markCtx(m, true)
	}
	return err
}

func (r *run) markCtx(m Marker, cleanup bool) error {
	ctx := r.ctx
	if cleanup {
		var cancel context.CancelFunc
		ctx, cancel = r.cleanupCtx()
		defer cancel()
	}
	_, err := r.astro.UpdateToken(ctx, r.own.ID, astro.UpdateTokenRequest{Name: r.own.Name, Description: WithMarker(r.userDesc, m)})
	return err
}

// createReconciled creates a token. When Astro may have applied a create
// whose answer was lost, the token is found by the run nonce in its marker
// and deleted (its value died with the answer, so nothing holds it), then
// the create is sent once more.
func (r *run) createReconciled(req astro.CreateTokenRequest, like *astro.Token, nonce string) (*astro.Token, error) {
	nt, err := r.astro.CreateToken(r.ctx, req)
	if err == nil {
		r.e.Log.Secret(nt.Value)
		return nt, nil
	}
	if !astro.IsUncertain(err) {
		return nil, fmt.Errorf("creating the new token: %w", err)
	}
	r.e.Log.Warnf("%v; checking Astro before trying again", err)
	if r.ctx.Err() != nil {
		// Stopped (a signal or the deadline) while the create was in flight:
		// remove what it may have made, and go no further.
		r.cleanupByRun(like, nonce)
		return nil, fmt.Errorf("creating the new token: %w", err)
	}
	if err := r.deleteByRun(like, nonce); err != nil {
		return nil, err
	}
	nt, err = r.astro.CreateToken(r.ctx, req)
	if err != nil {
		if astro.IsUncertain(err) {
			r.cleanupByRun(like, nonce)
		}
		return nil, fmt.Errorf("creating the new token (second attempt): %w", err)
	}
	r.e.Log.Secret(nt.Value)
	return nt, nil
}

// cleanupByRun is deleteByRun on the cleanup context.
func (r *run) cleanupByRun(like *astro.Token, nonce string) {
	ctx, cancel := r.cleanupCtx()
	defer cancel()
	if err := r.deleteByRunCtx(ctx, like, nonce); err != nil {
		r.e.Log.Warnf("%v", err)
	}
}

func (r *run) deleteByRun(like *astro.Token, nonce string) error {
	return r.deleteByRunCtx(r.ctx, like, nonce)
}

func (r *run) deleteByRunCtx(ctx context.Context, like *astro.Token, nonce string) error {
	all, err := r.astro.ListTokens(ctx, scopeFilter(like))
	if err != nil {
		return fmt.Errorf("cannot tell whether the create took effect: %w", err)
	}
	for _, t := range all {
		if m, ok := ParseMarker(t.Description); ok && m.Run == nonce {
			if err := r.astro.DeleteToken(ctx, t.ID); err != nil && !astro.IsNotFound(err) {
				return fmt.Errorf("deleting token %s, created by a request whose answer was lost: %w", t.ID, err)
			}
			r.e.Log.Infof("deleted token %s: it was created by the request whose answer was lost", t.ID)
		}
	}
	return nil
}
