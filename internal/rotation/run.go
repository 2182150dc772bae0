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

const defaultPendingWindow = 15 * time.Minute

// Run performs one rotation request. The outcome is filled as far as the run
// got, also when it returns an error.
func (e *Engine) Run(ctx context.Context, req Request) (*Outcome, error) {
	out := &Outcome{Strategy: req.Strategy, DryRun: req.DryRun}
	now := e.now()

	// 1. Plan.
	tok, lin, err := e.resolve(ctx, req, req.Strategy == Overlap)
	if err != nil {
		return out, err
	}
	if live := lin.live(); req.Strategy == Overlap && live != nil && live.tok.ID != tok.ID {
		// An older generation was named (or is in ASTRO_API_TOKEN, read by a
		// job before the last rotation updated it): the current generation's
		// expiry decides whether a rotation is due, and it is what is copied.
		e.Log.Infof("token %s was superseded by %s, the current generation; planning for that", tok.ID, live.tok.ID)
		t := live.tok
		tok = &t
	}
	out.Token = infoOf(tok)
	out.Self = lin.has(e.SelfID)
	if req.Strategy == InPlace {
		out.Self = tok.ID == e.SelfID
	}
	if req.Strategy == Overlap {
		if err := e.checkNoRunInFlight(lin, now); err != nil {
			return out, err
		}
	}
	out.Due, out.DueAt = due(tok, req.IfExpiresWithin, now)

	if !out.Due {
		if tok.EndAt == nil {
			e.Log.Infof("token %s (%s) never expires: no rotation needed with --if-expires-within", tok.ID, tok.Name)
		} else {
			e.Log.Infof("token %s (%s) expires %s; rotation is due from %s", tok.ID, tok.Name, tok.EndAt.Format(time.RFC3339), out.DueAt.Format(time.RFC3339))
		}
		if req.Strategy == Overlap {
			if req.DryRun {
				out.Plan = e.planFinish(lin, now, false)
				out.Kept = lin.kept(now)
				return out, nil
			}
			// Finish what an earlier run left: superseded tokens whose grace ended.
			return out, e.finish(ctx, out, lin, now, false)
		}
		return out, nil
	}

	if req.DryRun {
		out.Plan = e.plan(tok, lin, req, now)
		for _, t := range req.Targets {
			out.Targets = append(out.Targets, TargetResult{Target: t.String(), Status: "would-write"})
		}
		return out, nil
	}

	// 2. Preflight, while the old value still works everywhere.
	var current *secret.Value
	if out.Self && tok.ID == e.SelfID {
		current = &e.SelfValue
	}
	if err := e.preflight(ctx, req.Targets, current); err != nil {
		return out, err
	}

	if req.Strategy == InPlace {
		return out, e.rotateInPlace(ctx, out, tok, req)
	}
	return out, e.rotateOverlap(ctx, out, tok, lin, req, now)
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

func (e *Engine) pendingWindow() time.Duration {
	if e.PendingWindow > 0 {
		return e.PendingWindow
	}
	return defaultPendingWindow
}

func (e *Engine) checkNoRunInFlight(l lineage, now time.Time) error {
	window := e.pendingWindow()
	live := l.live()
	for _, m := range l.members {
		if !m.marked || m.marker.State != Pending || (live != nil && m.gen() <= live.gen()) {
			continue
		}
		if now.Sub(m.tok.CreatedAt) < window {
			return fmt.Errorf("another rotation of %s may be in progress: token %s was created at %s and has not been committed yet. Serialise rotations (a concurrency group on GitHub, resource_group on GitLab); if that run died, rerun after %s",
				l.id, m.tok.ID, m.tok.CreatedAt.Format(time.RFC3339), m.tok.CreatedAt.Add(window).Format(time.RFC3339))
		}
	}
	return nil
}

func (e *Engine) preflight(ctx context.Context, ts []target.Target, current *secret.Value) error {
	if len(ts) == 0 {
		return errors.New("no target to write the new value to: give at least one --target (the new value would otherwise be lost)")
	}
	res := e.Targets.Preflight(ctx, ts, target.Proof{Current: current})
	if err := target.Err(res); err != nil {
		return fmt.Errorf("preflight failed, nothing was changed: %w", err)
	}
	e.Log.Infof("preflight: %d target(s) writable", len(ts))
	return nil
}

func (e *Engine) plan(tok *astro.Token, l lineage, req Request, now time.Time) []string {
	var p []string
	exp := "never expires"
	if tok.ExpiryPeriodInDays != nil {
		exp = fmt.Sprintf("expiry %d days", *tok.ExpiryPeriodInDays)
	}
	switch req.Strategy {
	case InPlace:
		p = append(p,
			fmt.Sprintf("rotate token %s (%s) in place: same id and roles, the old value stops working at once", tok.ID, tok.Name),
			fmt.Sprintf("write the new value to %d target(s)", len(req.Targets)))
		if req.Recovery != nil {
			p = append(p, "print the new value encrypted to the recovery recipient before any write")
		}
	default:
		p = append(p,
			fmt.Sprintf("create a token named %q with the same scope (%s), roles and %s", tok.Name, tok.Scope, exp),
			"prove the new value authenticates",
			fmt.Sprintf("write the new value to %d target(s)", len(req.Targets)),
			"mark the new token current")
		if req.Grace > 0 {
			p = append(p, fmt.Sprintf("keep token %s valid until %s; a later run deletes it", tok.ID, now.Add(req.Grace).Format(time.RFC3339)))
		} else {
			p = append(p, fmt.Sprintf("delete token %s", tok.ID))
		}
		p = append(p, e.planFinish(l, now, true)...)
	}
	return p
}

func (e *Engine) planFinish(l lineage, now time.Time, rotating bool) []string {
	var p []string
	for _, m := range l.deletable(now) {
		p = append(p, fmt.Sprintf("delete superseded token %s (its grace period is over)", m.tok.ID))
	}
	if rotating {
		live := l.live()
		for _, m := range l.members {
			if m.marked && m.marker.State != Current && (live == nil || m.gen() > live.gen()) {
				p = append(p, fmt.Sprintf("delete token %s left %s by an interrupted run", m.tok.ID, m.marker.State))
			}
		}
	}
	return p
}

// rotateOverlap: create, test, set, commit, finish.
func (e *Engine) rotateOverlap(ctx context.Context, out *Outcome, old *astro.Token, l lineage, req Request, now time.Time) error {
	own, ok := old.OwnRole()
	if !ok {
		return fmt.Errorf("token %s has no role on its own %s scope in Astro's answer; astro-ci cannot copy its permissions", old.ID, strings.ToLower(string(old.Scope)))
	}
	nextGen := 0
	for _, m := range l.members {
		nextGen = max(nextGen, m.gen())
	}
	mk := Marker{Lineage: l.id, Gen: nextGen + 1, State: Pending, Run: e.nonce()}
	create := astro.CreateTokenRequest{
		Name:        old.Name,
		Description: WithMarker(old.Description, mk),
		Role:        own.Role,
		Scope:       old.Scope,
	}
	if old.Scope != astro.ScopeOrganization {
		create.EntityID = own.EntityID
	}
	if old.ExpiryPeriodInDays != nil {
		create.ExpiryDays = *old.ExpiryPeriodInDays
	}

	// 3. Create.
	nt, err := e.createReconciled(ctx, create, old, mk.Run)
	if err != nil {
		return err
	}
	e.Log.Secret(nt.Value)
	out.New = &TokenInfo{ID: nt.ID, Name: nt.Name, Scope: string(nt.Scope), EntityID: own.EntityID, ExpiresAt: nt.EndAt}
	e.Log.Infof("created token %s (%s), pending until every target holds it", nt.ID, nt.Name)
	abandon := func(cause error) error {
		// Nothing holds the new value yet: remove the token rather than leave it.
		if derr := e.Astro.DeleteToken(ctx, nt.ID); derr != nil && !astro.IsNotFound(derr) {
			return errors.Join(cause, fmt.Errorf("also failed to delete the unused new token %s: %w", nt.ID, derr))
		}
		return cause
	}
	if len(old.Roles) > 1 {
		if _, err := e.Astro.SetTokenRoles(ctx, nt.ID, old.Roles); err != nil {
			return abandon(fmt.Errorf("copying the roles of %s to the new token: %w", old.ID, err))
		}
	}

	// 4. Test before any write, so a value Astro refuses is never stored.
	newClient, err := e.Reauth(nt.Value)
	if err != nil {
		return abandon(fmt.Errorf("the new value is not a readable Astro token: %w", err))
	}
	if err := e.test(ctx, newClient, nt.ID); err != nil {
		return abandon(err)
	}

	// 5. Set.
	if err := e.write(ctx, out, req, nt.Value); err != nil {
		// Targets hold either the old value (still valid: nothing was deleted)
		// or the new one; a rerun converges. Marking the token abandoned tells
		// that rerun no other run is in progress.
		ab := mk
		ab.State = Abandoned
		if _, uerr := e.Astro.UpdateToken(ctx, nt.ID, astro.UpdateTokenRequest{Name: nt.Name, Description: WithMarker(old.Description, ab)}); uerr != nil {
			e.Log.Warnf("could not mark token %s abandoned (a rerun within %s will wait for it): %v", nt.ID, e.pendingWindow(), uerr)
		}
		return fmt.Errorf("%w; every other target still holds the old value, which stays valid. Rerun to finish: %s", err, rerun(req))
	}

	// 6. Commit.
	commit := mk
	commit.State = Current
	if req.Grace > 0 {
		g := now.Add(req.Grace)
		commit.GraceUntil = &g
	}
	if _, err := e.Astro.UpdateToken(ctx, nt.ID, astro.UpdateTokenRequest{Name: nt.Name, Description: WithMarker(old.Description, commit)}); err != nil {
		return fmt.Errorf("every target holds the new token %s, but marking it current failed (the next run finishes this): %w", nt.ID, err)
	}
	out.Rotated = true
	e.Log.Infof("token %s is current", nt.ID)

	// Carry on with the new value if the old one was ours: finish may delete it.
	if out.Self {
		e.Astro = newClient
	}

	// 7. Finish.
	ntok := *nt
	ntok.Description = WithMarker(old.Description, commit)
	l.members = append(l.members, member{tok: ntok, marker: commit, marked: true})
	return e.finish(ctx, out, l, e.now(), true)
}

func rerun(req Request) string {
	if req.Rerun != "" {
		return req.Rerun
	}
	return "the same command"
}

// createReconciled creates a token. When Astro may have applied a create whose
// answer was lost, the token is found by the run nonce in its marker and
// deleted (its value died with the response, so nothing holds it), then the
// create is sent once more.
func (e *Engine) createReconciled(ctx context.Context, req astro.CreateTokenRequest, like *astro.Token, run string) (*astro.Token, error) {
	nt, err := e.Astro.CreateToken(ctx, req)
	if err == nil || !astro.IsUncertain(err) {
		if err != nil {
			return nil, fmt.Errorf("creating the new token: %w", err)
		}
		return nt, nil
	}
	e.Log.Warnf("%v; checking Astro before trying again", err)
	if err := e.deleteByRun(ctx, like, run); err != nil {
		return nil, err
	}
	nt, err = e.Astro.CreateToken(ctx, req)
	if err != nil {
		if astro.IsUncertain(err) {
			_ = e.deleteByRun(ctx, like, run)
		}
		return nil, fmt.Errorf("creating the new token (second attempt): %w", err)
	}
	return nt, nil
}

func (e *Engine) deleteByRun(ctx context.Context, like *astro.Token, run string) error {
	all, err := e.Astro.ListTokens(ctx, scopeFilter(like))
	if err != nil {
		return fmt.Errorf("cannot tell whether the create took effect: %w", err)
	}
	for _, t := range all {
		if m, ok := ParseMarker(t.Description); ok && m.Run == run {
			if err := e.Astro.DeleteToken(ctx, t.ID); err != nil && !astro.IsNotFound(err) {
				return fmt.Errorf("deleting token %s, created by a lost request: %w", t.ID, err)
			}
			e.Log.Infof("deleted token %s: it was created by the request whose answer was lost", t.ID)
		}
	}
	return nil
}

// test proves v authenticates by reading the token with it. Only a 401 means
// it does not: any other answer (a 403 for a token that may not read tokens)
// came from a caller Astro recognised. A short retry covers propagation.
func (e *Engine) test(ctx context.Context, c Astro, id string) error {
	var err error
	for attempt, wait := 1, time.Second; attempt <= 4; attempt, wait = attempt+1, wait*2 {
		if _, err = c.GetToken(ctx, id); err == nil || !astro.IsUnauthorized(err) {
			e.Log.Infof("the new value authenticates")
			return nil
		}
		if attempt < 4 {
			if serr := e.sleep(ctx, wait); serr != nil {
				break
			}
		}
	}
	return fmt.Errorf("the new value of token %s does not authenticate: %w", id, err)
}

// write puts v into every target and records each result.
func (e *Engine) write(ctx context.Context, out *Outcome, req Request, v secret.Value) error {
	res := e.Targets.Put(ctx, req.Targets, v)
	out.Targets = out.Targets[:0]
	var failed []string
	for _, r := range res {
		tr := TargetResult{Target: r.Target.String(), Status: "written"}
		if r.Err != nil {
			tr.Status, tr.Error = "stale", r.Err.Error()
			failed = append(failed, r.Target.String())
		}
		out.Targets = append(out.Targets, tr)
	}
	if err := target.Err(res); err != nil {
		return fmt.Errorf("%d of %d target(s) not written (%s): %w", len(failed), len(res), strings.Join(failed, ", "), err)
	}
	e.Log.Infof("wrote the new value to %d target(s)", len(res))
	return nil
}

// finish deletes superseded tokens whose grace is over. When rotating, the
// run's own value is in every target, so pending tokens of interrupted runs
// go too. A token the engine still authenticates with is left for a run that
// uses the current value.
func (e *Engine) finish(ctx context.Context, out *Outcome, l lineage, now time.Time, rotating bool) error {
	var errs []error
	live := l.live()
	for _, m := range l.deletable(now) {
		if m.tok.ID == e.SelfID && !rotating {
			e.Log.Warnf("superseded token %s is the one in ASTRO_API_TOKEN; it will be deleted by a run that uses the current value (update where ASTRO_API_TOKEN comes from)", m.tok.ID)
			continue
		}
		if live != nil && m.tok.ID == live.tok.ID {
			continue
		}
		if err := e.Astro.DeleteToken(ctx, m.tok.ID); err != nil && !astro.IsNotFound(err) {
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
	return errors.Join(errs...)
}
