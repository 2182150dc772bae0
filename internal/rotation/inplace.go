package rotation

import (
	"context"
	"fmt"
	"time"

	"github.com/astro-ci/astro-ci/internal/astro"
)

// inPlace uses Astro's rotate: plan, preflight, rotate, prove ∥ write.
// Between the rotate's answer and the last write the new value exists only
// in this process (and in the recovery blob, when a recipient is set), which
// is why overlap is the default. Concurrent in-place rotations of one token
// cannot be made safe without a lock (each rotate kills the value the other
// is writing): docs/RELIABILITY.md says so, and the shipped templates
// serialise them.
func (r *run) inPlace() error {
	e, req, out := r.e, r.req, r.out

	// 1. Plan, and prove the targets meanwhile when the rotation is due
	// whatever Astro says. The proof is by write where a store can: after
	// the rotate, a target that refuses the write holds a dead value.
	var pre <-chan error
	if !req.DryRun && e.dueWithoutPlan(req, r.localNow()) {
		pre = r.preflight(req.Targets, false)
	}
	r.stage = "reading the token to rotate"
	tok, _, err := e.resolve(r.ctx, req, false)
	if err != nil {
		return r.drain(pre, err)
	}
	out.Token = infoOf(tok)
	out.Self = e.SelfID != "" && tok.ID == e.SelfID
	out.Due, out.DueAt = due(tok, req.IfExpiresWithin, r.localNow())
	if !out.Due {
		r.logNotDue(tok)
		return r.drain(pre, nil)
	}
	if req.DryRun {
		out.Plan = planInPlace(tok, req)
		for _, t := range req.Targets {
			out.Targets = append(out.Targets, TargetResult{Target: t.String(), Status: "would-write"})
		}
		return nil
	}
	if out.Self {
		e.Log.Warnf("rotating ASTRO_API_TOKEN's own token in place: if Astro's answer is lost (a reset connection, a killed job), the new value is gone and the old one is already dead, and nothing can recover it. Safer: --strategy overlap (the default), or a second credential: an admin token in ASTRO_CI_API_TOKEN and --token-id of this one, with which a lost answer is reconciled")
	}

	// 2. Preflight.
	r.stage = "proving the targets writable"
	if pre == nil {
		pre = r.preflight(req.Targets, false)
	}
	if err := <-pre; err != nil {
		return err
	}

	// 3. Rotate.
	r.stage = "rotating the token"
	sent := r.serverNow()
	rt, err := r.astro.RotateToken(r.ctx, tok.ID)
	if astro.IsUncertain(err) {
		rt, err = r.reconcileRotate(tok, sent, out.Self, err)
	}
	if err != nil {
		return fmt.Errorf("rotating token %s: %w", tok.ID, err)
	}
	e.Log.Secret(rt.Value)
	out.Rotated = true
	out.New = &TokenInfo{ID: rt.ID, Name: rt.Name, Scope: string(rt.Scope), EntityID: tok.EntityID(), ExpiresAt: rt.EndAt}
	if rt.ID != tok.ID {
		e.Log.Infof("rotated token %s in place; Astro gave it a new id, %s; its old value no longer works", tok.ID, rt.ID)
	} else {
		e.Log.Infof("rotated token %s in place; its old value no longer works", rt.ID)
	}
	if rt.EndAt != nil && tok.EndAt != nil && !rt.EndAt.After(*tok.EndAt) {
		e.Log.Warnf("Astro's answer keeps the expiry at %s: rotating did not extend the token's life", rt.EndAt.Format(time.RFC3339))
	}
	if req.Recovery != nil {
		blob, serr := req.Recovery.Seal(rt.Value)
		if serr != nil {
			e.Log.Warnf("could not encrypt the recovery copy: %v", serr)
		} else {
			out.Recovery = blob
			e.Log.Infof("recovery copy of the new value, encrypted to the recovery recipient (decrypt with: age -d -i KEYFILE):\n%s", blob)
		}
	}

	// 4. Prove the new value while writing it. The old value is dead
	// already, so the write never waits for the proof's verdict: a value
	// that cannot be proven is written all the same (it is the only one that
	// may work), and the run fails after. Run one after the other, the two
	// would only add a round trip; run together, every outcome is the same.
	// (Overlap and create keep proof before write: there the proof decides
	// whether to write at all.)
	r.stage = "proving the new value and writing it to the targets"
	newClient, cerr := e.Reauth(rt.Value)
	if cerr == nil && out.Self {
		r.astro = newClient
	}
	proven := make(chan error, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				proven <- fmt.Errorf("internal error proving the new value: %v", p)
			}
		}()
		if cerr != nil {
			proven <- fmt.Errorf("the new value is not a readable Astro token: %w", cerr)
			return
		}
		pctx, cancel := context.WithTimeout(r.ctx, 30*time.Second)
		defer cancel()
		proven <- r.testCtx(pctx, newClient, rt.ID)
	}()

	// 5. Write.
	werr := r.write(req.Targets, rt.Value)
	unproven := <-proven
	if unproven != nil {
		e.Log.Warnf("%v; it is written all the same, since the old value no longer works", unproven)
	}
	if werr != nil {
		how := "rotate again and write every target: " + rerun(req)
		if out.Recovery != "" {
			how = "decrypt the recovery copy above and write it to each stale target: age -d -i KEYFILE recovery.age | astro-ci target put " + targetFlags(out) + " (or " + how + ")"
		}
		return fmt.Errorf("%w. The new value is in every target marked written; the old value no longer works. To finish: %s", werr, how)
	}
	return unproven
}

func targetFlags(out *Outcome) string {
	s := ""
	for _, t := range out.Targets {
		if t.Status != "written" {
			s += " --target '" + t.Target + "'"
		}
	}
	if s == "" {
		return s
	}
	return s[1:]
}

// reconcileRotate settles a rotate whose answer was lost. If it took effect,
// its value died with the answer and no target holds it, so rotating again
// loses nothing; if it did not, rotating again is the first rotate. Either
// way one more rotate is right, but only a caller that can still
// authenticate can send it: when the engine rotated its own token and the
// rotate took effect, the credential is gone and the run must stop. The
// token is found again by its lineage, not only by its id: should Astro's
// rotate ever hand out a new id, the successor carries the same name,
// scope and description and was rotated (or created) after the request.
func (r *run) reconcileRotate(before *astro.Token, sent time.Time, self bool, cause error) (*astro.Token, error) {
	e := r.e
	e.Log.Warnf("%v; checking Astro before trying again", cause)
	now, err := r.astro.GetToken(r.ctx, before.ID)
	switch {
	case err != nil && astro.IsUnauthorized(err) && (self || e.SelfID == ""):
		return nil, fmt.Errorf("the rotate took effect but Astro's answer was lost, so the new value is unknown and the old one (in ASTRO_API_TOKEN) no longer works: every target still holds that dead value. Recover with another credential: put an admin token in ASTRO_CI_API_TOKEN and run astro-ci token rotate --token-id %s --strategy rotate with the same targets, or create a new token in the Astro UI and store it in the targets (%w)", before.ID, cause)
	case astro.IsNotFound(err):
		succ, ferr := r.successor(before, sent)
		if ferr != nil {
			return nil, fmt.Errorf("token %s is gone after a rotate whose answer was lost (%v): %w", before.ID, ferr, cause)
		}
		e.Log.Infof("the lost rotate took effect and Astro gave the token a new id, %s; no target holds its value, rotating it again", succ.ID)
		return r.astro.RotateToken(r.ctx, succ.ID)
	case err != nil:
		return nil, fmt.Errorf("cannot tell whether the rotate took effect (%v): %w", err, cause)
	case !sameTime(now.LastRotatedAt, before.LastRotatedAt):
		e.Log.Infof("the lost rotate took effect; no target holds its value, rotating again")
	default:
		e.Log.Infof("the lost rotate did not take effect; sending it again")
	}
	return r.astro.RotateToken(r.ctx, before.ID)
}

// successor finds the token an in-place rotate turned before into, should
// it have a new id.
func (r *run) successor(before *astro.Token, sent time.Time) (*astro.Token, error) {
	all, err := r.astro.ListTokens(r.ctx, scopeFilter(before))
	if err != nil {
		return nil, err
	}
	var found []astro.Token
	for _, t := range all {
		changed := t.CreatedAt
		if t.LastRotatedAt != nil {
			changed = *t.LastRotatedAt
		}
		if t.ID != before.ID && t.Name == before.Name && t.Scope == before.Scope && t.EntityID() == before.EntityID() &&
			t.Description == before.Description && !changed.Before(sent.Add(-time.Second)) {
			found = append(found, t)
		}
	}
	if len(found) != 1 {
		return nil, fmt.Errorf("%d tokens look like its successor", len(found))
	}
	return &found[0], nil
}

func sameTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Equal(*b)
}
