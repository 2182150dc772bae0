package rotation

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/astro-ci/astro-ci/internal/astro"
	"github.com/astro-ci/astro-ci/internal/secret"
	"github.com/astro-ci/astro-ci/internal/target"
)

// Run performs one rotation request. The outcome is filled as far as the run
// got, also when it returns an error.
func (e *Engine) Run(ctx context.Context, req Request) (*Outcome, error) {
	r := e.begin(ctx)
	defer r.end()
	r.out = &Outcome{Strategy: req.Strategy, DryRun: req.DryRun}
	r.req = req
	var err error
	if req.Strategy == InPlace {
		err = r.inPlace()
	} else {
		err = r.overlap()
	}
	return r.out, r.explain(err)
}

// overlap rotates by creating a successor: plan, preflight, create, prove,
// decide, write, commit, finish. Concurrent runs of one lineage coordinate
// by the rules in lineage.go; the argument is in docs/RELIABILITY.md.
func (r *run) overlap() error {
	e, req, out := r.e, r.req, r.out

	// 1. Plan. When the rotation is due whatever Astro says (no
	// --if-expires-within, or a self-rotation due by its claims), the
	// targets are proven meanwhile: nothing in a preflight depends on the plan.
	var pre <-chan error
	if !req.DryRun && e.dueWithoutPlan(req, r.localNow()) {
		pre = r.preflight(req.Targets, true)
	}
	r.stage = "reading the token to rotate"
	tok, lin, err := e.resolve(r.ctx, req, true)
	if err != nil {
		return r.drain(pre, err)
	}
	out.Self = lin.has(e.SelfID)
	r.stage = "waiting for another rotation of the token to finish"
	if lin, _, err = r.settle(lin, nil); err != nil {
		return r.drain(pre, err)
	}
	if live := lin.live(); live != nil && live.tok.ID != tok.ID {
		// An older generation was named (or is in ASTRO_API_TOKEN, read by a
		// job before the last rotation updated it): the current generation's
		// expiry decides whether a rotation is due, and it is what is copied.
		e.Log.Infof("token %s was superseded by %s, the current generation; planning for that", tok.ID, live.tok.ID)
		t := live.tok
		tok = &t
	}
	out.Token = infoOf(tok)
	out.Due, out.DueAt = due(tok, req.IfExpiresWithin, r.localNow())
	if !out.Due {
		r.logNotDue(tok)
		if req.DryRun {
			out.Plan = planFinish(lin, lin.at)
			out.Kept = lin.kept(lin.at)
			return r.drain(pre, nil)
		}
		// Finish what earlier runs left: superseded tokens whose grace ended.
		return r.drain(pre, r.finish(lin, nil))
	}
	if req.DryRun {
		out.Plan = r.planOverlap(tok, lin)
		for _, t := range req.Targets {
			out.Targets = append(out.Targets, TargetResult{Target: t.String(), Status: "would-write"})
		}
		return nil
	}

	// 2. Preflight, while the old value still works everywhere. A read is
	// proof enough: the old value stays valid until every target holds the
	// new one, so a write that fails later loses nothing.
	r.stage = "proving the targets writable"
	if pre == nil {
		pre = r.preflight(req.Targets, true)
	}
	if err := <-pre; err != nil {
		return err
	}

	// 3. Create the successor, pending.
	own, ok := tok.OwnRole()
	if !ok {
		return fmt.Errorf("token %s has no role on its own %s scope in Astro's answer; astro-ci cannot copy its permissions", tok.ID, strings.ToLower(string(tok.Scope)))
	}
	mk := Marker{Lineage: lin.id, Gen: lin.nextGen(), State: Pending, Run: e.nonce(), TTL: r.ttl()}
	create := astro.CreateTokenRequest{
		Name: tok.Name, Description: WithMarker(tok.Description, mk), Role: own.Role, Scope: tok.Scope,
	}
	if tok.Scope != astro.ScopeOrganization {
		create.EntityID = own.EntityID
	}
	if tok.ExpiryPeriodInDays != nil {
		create.ExpiryDays = *tok.ExpiryPeriodInDays
	}
	r.stage = "creating the new token"
	nt, err := r.createReconciled(create, tok, mk.Run)
	if err != nil {
		return err
	}
	r.own, r.ownMarker, r.userDesc = nt, mk, tok.Description
	out.New = &TokenInfo{ID: nt.ID, Name: nt.Name, Scope: string(nt.Scope), EntityID: own.EntityID, ExpiresAt: nt.EndAt}
	e.Log.Infof("created token %s (%s), pending until every target holds it", nt.ID, nt.Name)

	// 4. Prove the new value, copy the other roles and look at the lineage
	// again, all at once: the three are independent.
	r.stage = "proving the new value and looking for other runs"
	var roles func() error
	if len(tok.Roles) > 1 {
		roles = func() error {
			if _, err := r.astro.SetTokenRoles(r.ctx, nt.ID, tok.Roles); err != nil {
				return fmt.Errorf("copying the roles of %s to the new token: %w", tok.ID, err)
			}
			return nil
		}
	}
	newClient, lin, err := r.prove(nt, roles, func(c Astro) (lineage, error) { return r.listLineage(c, tok) })
	if err != nil {
		return r.discard(err)
	}
	if out.Self {
		// The old value may be deleted by a run that finishes first; go on
		// with the new one, which has the same scope and role.
		r.astro = newClient
	}

	// 5. Decide: yield to a newer run, wait for older ones.
	r.stage = "waiting for another rotation of the token to finish"
	lin, newer, err := r.settle(lin, nt)
	if err != nil {
		return r.discard(err)
	}
	if newer != nil {
		return r.yield(newer, "another run is rotating this token at the same time and its token is newer")
	}
	if live := lin.live(); live != nil && live.tok.ID != tok.ID && before(tok, &live.tok) {
		// An older run committed while this one waited: rotated meanwhile.
		if ok, _ := due(&live.tok, req.IfExpiresWithin, r.localNow()); !ok {
			return r.yield(live, "another run rotated this token while this one waited")
		}
	}

	// Members newer than this run's that their runs stopped writing (abandoned,
	// or pending past their bound): after this run has written every target
	// no target holds them, so it may delete them (only this run knows that).
	quiet := lin.stragglersAfter(nt)

	// 6. Write.
	r.stage = "writing the new value to the targets"
	r.writing = true
	if err := r.write(req.Targets, nt.Value); err != nil {
		// Targets hold either an older value (still valid: nothing was
		// deleted) or the new one (valid too); a rerun converges.
		return r.abandon(fmt.Errorf("%w; every other target still holds the old value, which stays valid. Rerun to finish: %s", err, rerun(req)))
	}

	// 7. Commit.
	r.stage = "marking the new token current"
	commit := mk
	commit.State = Current
	now := r.serverNow()
	if req.Grace > 0 {
		g := now.Add(req.Grace).Truncate(time.Second)
		commit.GraceUntil = &g
	}
	if err := r.mark(commit); err != nil {
		return fmt.Errorf("the new token %s was written to every target, but marking it current failed; it stays valid, and the next rotation finishes the job: %w", nt.ID, err)
	}
	r.committed = true
	out.Rotated = true
	e.Log.Infof("token %s is current", nt.ID)

	// 8. Finish: delete what no target can hold any more.
	r.stage = "deleting superseded tokens"
	ntok := *nt
	ntok.Description = WithMarker(tok.Description, commit)
	ntok.Value = secret.Value{}
	lin.members = append(lin.members, member{tok: ntok, marker: commit, marked: true})
	lin.sort()
	if req.Grace <= 0 {
		if old := lin.deletable(now); len(old) > 0 {
			out.NoGrace = true
			e.Log.Warnf("no --grace: superseded token %s is deleted now, so a job still running with its value fails from now on; --grace 1h keeps it valid until a later run (the shipped schedules do that)", old[len(old)-1].tok.ID)
		}
	}
	if req.Grace <= 0 {
		r.deleteQuiet(quiet)
	}
	return r.finish(lin, &ntok)
}

// deleteQuiet deletes members this run saw stopped before it wrote every
// target.
func (r *run) deleteQuiet(ms []member) {
	for _, m := range ms {
		if err := r.astro.DeleteToken(r.ctx, m.tok.ID); err != nil && !astro.IsNotFound(err) {
			r.e.Log.Warnf("could not delete token %s, left %s by an earlier run (the next rotation does): %v", m.tok.ID, m.marker.State, err)
			continue
		}
		r.out.Deleted = append(r.out.Deleted, m.tok.ID)
		r.e.Log.Infof("deleted token %s, left %s by an earlier run", m.tok.ID, m.marker.State)
	}
}

// due says whether the token must be rotated now, and from when otherwise.
func due(t *astro.Token, within time.Duration, now time.Time) (bool, *time.Time) {
	if within <= 0 {
		return true, nil
	}
	if t.EndAt == nil {
		return false, nil
	}
	at := t.EndAt.Add(-within)
	return !now.Before(at), &at
}

// dueWithoutPlan: the rotation is due whatever Astro answers.
func (e *Engine) dueWithoutPlan(req Request, now time.Time) bool {
	if req.IfExpiresWithin <= 0 {
		return true
	}
	self := req.TokenID == "" && req.TokenName == ""
	return self && e.SelfExpiresAt != nil && !now.Before(e.SelfExpiresAt.Add(-req.IfExpiresWithin))
}

func (r *run) logNotDue(tok *astro.Token) {
	if tok.EndAt == nil {
		r.e.Log.Infof("token %s (%s) never expires: no rotation needed with --if-expires-within", tok.ID, tok.Name)
		return
	}
	r.e.Log.Infof("token %s (%s) expires %s; rotation is due from %s", tok.ID, tok.Name, tok.EndAt.Format(time.RFC3339), r.out.DueAt.Format(time.RFC3339))
}

// preflight proves the targets writable in the background.
func (r *run) preflight(ts []target.Target, byRead bool) <-chan error {
	ch := make(chan error, 1)
	if len(ts) == 0 {
		ch <- errors.New("no target to write the new value to: give at least one --target (the new value would otherwise be lost)")
		return ch
	}
	var current *secret.Value
	if r.e.SelfID != "" && !r.e.SelfValue.IsZero() && (r.req.TokenID == "" && r.req.TokenName == "" || r.req.TokenID == r.e.SelfID) {
		current = &r.e.SelfValue
	}
	go func() {
		defer func() {
			if p := recover(); p != nil {
				ch <- fmt.Errorf("internal error in preflight: %v", p)
			}
		}()
		res := r.e.Targets.Preflight(r.ctx, ts, target.Proof{Current: current, ByRead: byRead})
		if err := target.Err(res); err != nil {
			ch <- fmt.Errorf("preflight failed, nothing was changed: %w", err)
			return
		}
		r.e.Log.Infof("preflight: %d target(s) writable", len(ts))
		ch <- nil
	}()
	return ch
}

// drain waits for a background preflight whose result no longer matters,
// so that no request outlives the run.
func (r *run) drain(pre <-chan error, err error) error {
	if pre != nil {
		if perr := <-pre; perr != nil && err == nil {
			r.e.Log.Infof("the targets' proof, started while planning, was not needed: %v", perr)
		}
	}
	return err
}

func (r *run) listLineage(c Astro, t *astro.Token) (lineage, error) {
	all, err := c.ListTokens(r.ctx, scopeFilter(t))
	if err != nil {
		return lineage{}, fmt.Errorf("listing the tokens of %s to look for other runs rotating it: %w", t.Name, err)
	}
	return buildLineage(lineageID(t), t, all, r.serverNow()), nil
}

// prove tests the new value, runs extra (when set) and lists again, at once.
// A list that the old credential may no longer make (a self-rotation whose
// old value a faster run just deleted) is repeated with the new value.
func (r *run) prove(nt *astro.Token, extra func() error, list func(Astro) (lineage, error)) (Astro, lineage, error) {
	newClient, err := r.e.Reauth(nt.Value)
	if err != nil {
		return nil, lineage{}, fmt.Errorf("the new value is not a readable Astro token: %w", err)
	}
	var (
		l          lineage
		lerr, xerr error
		done       = make(chan struct{}, 2)
	)
	spawn := func(f func()) {
		go func() {
			defer func() {
				if p := recover(); p != nil {
					lerr = errors.Join(lerr, fmt.Errorf("internal error: %v", p))
				}
				done <- struct{}{}
			}()
			f()
		}()
	}
	spawn(func() { l, lerr = list(r.astro) })
	if extra != nil {
		spawn(func() { xerr = extra() })
	} else {
		done <- struct{}{}
	}
	terr := r.test(newClient, nt.ID)
	<-done
	<-done
	if terr != nil {
		return nil, lineage{}, terr
	}
	if xerr != nil {
		return nil, lineage{}, xerr
	}
	if lerr != nil && astro.IsUnauthorized(lerr) {
		l, lerr = list(newClient)
	}
	if lerr != nil {
		return nil, lineage{}, fmt.Errorf("cannot tell whether another run is rotating the token: %w", lerr)
	}
	return newClient, l, nil
}

// test proves v authenticates: only an answer that shows Astro recognised
// the caller counts — a 2xx, or Astro's own 403 (authenticated, not
// allowed). A 401 means it does not, after a short retry for propagation;
// 5xx, timeouts and resets (already retried by the client) prove nothing, and
// are tried again until the run's deadline.
func (r *run) test(c Astro, id string) error { return r.testCtx(r.ctx, c, id) }

func (r *run) testCtx(ctx context.Context, c Astro, id string) error {
	var err error
	wait := 500 * time.Millisecond
	unauthorized := 0
	for {
		_, err = c.GetToken(ctx, id)
		if err == nil || astro.StatusCode(err) == 403 {
			r.e.Log.Infof("the new value authenticates")
			return nil
		}
		if astro.IsUnauthorized(err) {
			if unauthorized++; unauthorized >= 4 {
				return fmt.Errorf("the new value of token %s does not authenticate: %w", id, err)
			}
		} else if code := astro.StatusCode(err); code >= 400 && code < 500 {
			return fmt.Errorf("proving the new value of token %s: %w", id, err)
		}
		if serr := r.e.sleep(ctx, wait); serr != nil {
			return fmt.Errorf("could not prove that the new value of token %s authenticates before the deadline (last answer: %v); nothing was written", id, err)
		}
		wait = min(2*wait, 8*time.Second)
	}
}

// write puts v into every target and records each result.
func (r *run) write(ts []target.Target, v secret.Value) error {
	res := r.e.Targets.Put(r.ctx, ts, v)
	r.out.Targets = r.out.Targets[:0]
	var failed []string
	for _, x := range res {
		tr := TargetResult{Target: x.Target.String(), Status: "written"}
		if x.Err != nil {
			tr.Status, tr.Error = "stale", x.Err.Error()
			failed = append(failed, x.Target.String())
		}
		r.out.Targets = append(r.out.Targets, tr)
	}
	if err := target.Err(res); err != nil {
		return fmt.Errorf("%d of %d target(s) not written (%s): %w", len(failed), len(res), strings.Join(failed, ", "), err)
	}
	r.e.Log.Infof("wrote the new value to %d target(s)", len(res))
	return nil
}

// finish deletes the members no target can hold any more (lineage.go). The
// token the engine authenticates with is left for a run that uses a newer
// value, unless this run has moved on to its own new value.
func (r *run) finish(l lineage, own *astro.Token) error {
	e, out := r.e, r.out
	now := r.serverNow()
	var errs []error
	for _, m := range l.deletable(now) {
		if m.tok.ID == e.SelfID && r.astro == e.Astro {
			e.Log.Warnf("superseded token %s is the one in ASTRO_API_TOKEN; it will be deleted by a run that uses the current value (update where ASTRO_API_TOKEN comes from)", m.tok.ID)
			continue
		}
		if err := r.astro.DeleteToken(r.ctx, m.tok.ID); err != nil && !astro.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("deleting superseded token %s: %w", m.tok.ID, err))
			continue
		}
		out.Deleted = append(out.Deleted, m.tok.ID)
		e.Log.Infof("deleted superseded token %s", m.tok.ID)
	}
	out.Kept = l.kept(now)
	for _, k := range out.Kept {
		if k.Until != nil {
			e.Log.Infof("superseded token %s stays valid until %s; a run after that deletes it", k.ID, k.Until.Format(time.RFC3339))
		}
	}
	if own == nil {
		for _, m := range l.stragglers() {
			e.Log.Infof("token %s was left %s by a run that stopped midway; targets may hold it, so it stays until the next rotation replaces it", m.tok.ID, m.marker.State)
		}
	}
	return errors.Join(errs...)
}

func rerun(req Request) string {
	if req.Rerun != "" {
		return req.Rerun
	}
	return "the same command"
}
