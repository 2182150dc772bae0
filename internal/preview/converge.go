package preview

// # One preview per branch, without a lock
//
// Astro has no compare-and-swap and allows duplicate names, so two runs for
// one branch (a `create` event and a `pull_request opened` event) can both
// list, find nothing and both create. The protocol that makes them end on
// one preview:
//
//  1. A run lists the previews of the branch (by marker). If there is one,
//     it adopts the oldest by (createdAt, id) from a settled list (below).
//  2. Otherwise it creates one, waits Settle, and lists again. The oldest
//     preview of that list is the preview. If it is not the run's own, the
//     run deletes its own and adopts the oldest. Its own was created a
//     moment ago and nothing refers to it: the run has made no token for it
//     and written nothing to any target (both come after this step), and no
//     other run adopts it (the argument below shows every run adopts the
//     oldest, which it is not).
//  3. A run that adopted a preview also merges leftovers of earlier races or
//     failures: a preview of the branch other than the oldest, created more
//     than youngWindow ago, with no Deployment API token, is deleted. One
//     with a token is kept and reported, because a target may hold that
//     token and deleting the Deployment would kill it; one younger than
//     youngWindow may belong to a run in progress, which deletes its own.
//
// A list is settled for a preview p when it was made after the second of
// p's createdAt ended: then every preview that sorts before p (createdAt
// earlier or the same second with a smaller id) was applied before the
// list and is in it. A list is settled for p when it was sent at least
// Settle after an answer that showed p (its create, or an earlier list),
// or when p was created more than youngWindow ago by this machine's clock.
//
// Why the settle: createdAt has whole seconds, and within one second the
// order falls to the id, which is random. Without it, run A could list
// right after its create and see only a, while run B's b, created later in
// the same second with a smaller id, sorts first: B sees both and keeps b,
// A keeps a. The pair argument "the newer run always sees the older
// preview" holds only for the order of application, which ids do not
// follow. With the settle it holds for the (createdAt, id) order.
//
// Argument. Let g be the preview that sorts first among those the racing
// runs create (and any that existed). Every run R ends on g:
//   - R's deciding list is settled for R's own preview r (step 2) or for
//     the oldest it shows (step 1). g sorts before or equal to that one, so
//     g was applied before the list was made and is in it, and nothing in
//     it sorts before g: R adopts g.
//   - g is never deleted by the protocol: a run deletes only its own
//     preview when an older one exists (none is older than g), and merges
//     only non-oldest previews of a settled list (g is the oldest).
//
// So for any two runs, the one whose preview sorts later sees the other's
// and yields; the one whose preview sorts first may not see the other's at
// all, and need not. Assumptions, which the code cannot check: Astro's list
// shows every Deployment whose create has answered (read-after-write), its
// clocks agree within Settle minus one second, and this machine's clock is
// within youngWindow of Astro's. Every run spends one extra list and
// Settle after a create; a run adopting a preview younger than youngWindow
// spends one extra list and Settle too. The cost is once per preview's
// first minutes; a Deployment takes minutes to come up anyway.

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/astro-ci/astro-ci/internal/astro"
	"github.com/astro-ci/astro-ci/internal/report/echo"
)

const (
	// Settle is how long after an answer a list must be sent to be settled
	// for the previews that answer showed: one second of timestamp
	// granularity and an allowance for clock differences between Astro's
	// servers.
	Settle = 2 * time.Second
	// youngWindow: a preview created longer ago than this needs no settle,
	// within the error of this machine's clock.
	youngWindow = 5 * time.Minute
	// maxRelists bounds the lists in a row that show a new oldest preview.
	maxRelists = 3
)

// settled returns the previews of list, oldest first, from a list that is
// settled for its oldest entry, listing again after Settle while it is not.
// upTo: the list is known to be settled for every preview created no later
// than it (zero when nothing is known).
func (e *Engine) settled(ctx context.Context, base *astro.Deployment, branch string, list []astro.Deployment, upTo time.Time) ([]astro.Deployment, error) {
	for i := 0; ; i++ {
		if len(list) == 0 || !list[0].CreatedAt.After(upTo) || e.now().Sub(list[0].CreatedAt) >= youngWindow {
			return list, nil
		}
		if i == maxRelists {
			return nil, fmt.Errorf("the previews of branch %s keep changing (%d lists in a row showed a new oldest one): run again", echo.Quote(branch), maxRelists+1)
		}
		// Created moments ago: an older one of the same second may not show
		// yet. A list sent Settle after this one is settled for everything
		// this one showed.
		for _, d := range list {
			if d.CreatedAt.After(upTo) {
				upTo = d.CreatedAt
			}
		}
		e.Log.Infof("preview %s was created %s ago; listing again in %s to be sure it is the first", list[0].ID, max(0, e.now().Sub(list[0].CreatedAt)).Round(time.Second), Settle)
		if err := e.sleep(ctx, Settle); err != nil {
			return nil, fmt.Errorf("waiting to list the previews again: %w", err)
		}
		var err error
		if list, err = e.find(ctx, base, branch); err != nil {
			return nil, err
		}
	}
}

// converge runs step 2 for the preview own that this run just created:
// it returns the preview every run ends on, and whether that is own.
func (e *Engine) converge(ctx context.Context, base *astro.Deployment, branch string, own *astro.Deployment, res *Result) (*astro.Deployment, []astro.Deployment, bool, error) {
	if err := e.sleep(ctx, Settle); err != nil {
		return nil, nil, false, fmt.Errorf("created preview %s, then stopped before checking for a concurrent run (a rerun finishes): %w", own.ID, err)
	}
	list, err := e.find(ctx, base, branch)
	if err == nil {
		list, err = e.settled(ctx, base, branch, list, own.CreatedAt)
	}
	if err != nil {
		return nil, nil, false, fmt.Errorf("created preview %s, but cannot tell whether another run created one first (a rerun finishes): %w", own.ID, err)
	}
	if len(list) == 0 {
		return nil, nil, false, fmt.Errorf("preview %s was deleted right after this run created it (by `preview delete`?): nothing more to do; run again to create it", own.ID)
	}
	first := list[0]
	if first.ID == own.ID {
		return &first, list, true, nil
	}
	// Another run's preview is older: ours has no token and no target holds
	// anything of it, and no run adopts it (see the argument above).
	if err := e.Astro.DeleteDeployment(ctx, own.ID); err != nil && !astro.IsNotFound(err) {
		e.Log.Warnf("another run created preview %s first; deleting this run's copy %s failed (the next run deletes it): %v", first.ID, own.ID, err)
	} else {
		res.DeletedPreviews = append(res.DeletedPreviews, own.ID)
		e.Log.Infof("another run created preview %s first: deleted this run's copy %s and using that one", first.ID, own.ID)
	}
	list = slices.DeleteFunc(list, func(d astro.Deployment) bool { return d.ID == own.ID })
	return &first, list, false, nil
}

// merge runs step 3: list is settled and list[0] is the preview kept.
func (e *Engine) merge(ctx context.Context, list []astro.Deployment, res *Result) {
	for _, p := range list[1:] {
		if e.now().Sub(p.CreatedAt) < youngWindow {
			continue // perhaps a run in progress: it deletes its own
		}
		toks, err := e.Astro.ListTokens(ctx, astro.ListTokensOptions{DeploymentID: p.ID})
		if err != nil {
			e.Log.Warnf("preview %s is a leftover of an earlier run; listing its tokens failed, so it stays: %v", p.ID, err)
			continue
		}
		held := slices.ContainsFunc(toks, func(t astro.Token) bool { return t.Scope == astro.ScopeDeployment && t.EntityID() == p.ID })
		if held {
			e.Log.Warnf("preview %s (%s) also exists for this branch, with a Deployment API token a target may still hold: left in place; `astro-ci preview delete` removes every preview of the branch", p.Name, p.ID)
			continue
		}
		if err := e.Astro.DeleteDeployment(ctx, p.ID); err != nil && !astro.IsNotFound(err) {
			e.Log.Warnf("deleting preview %s, a leftover of an earlier run, failed (the next run tries again): %v", p.ID, err)
			continue
		}
		res.DeletedPreviews = append(res.DeletedPreviews, p.ID)
		e.Log.Infof("deleted preview %s, a leftover of an earlier run that nothing refers to", p.ID)
	}
}
