package preview

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/astro-ci/astro-ci/internal/astro"
	"github.com/astro-ci/astro-ci/internal/report/echo"
	"github.com/astro-ci/astro-ci/internal/rotation"
	"github.com/astro-ci/astro-ci/internal/target"
)

// Delete removes the preview of base for branch (every one of them, when
// races or failures left several) with their tokens and the secrets or
// variables that held them. Already gone is success. Its steps:
//
//  1. Look up the base, the previews and their tokens. Nothing is deleted
//     when that fails (a credential that may not see the previews, say):
//     deleting the targets first would leave a preview whose token no
//     target holds any more, which a later preview create keeps as it is.
//  2. Delete the token targets.
//  3. Only when every target is gone: delete the tokens and the
//     Deployments, all at once. A target never holds a dead value, and a
//     rerun after any failure finishes the job (the Deployment stays, found
//     by its marker, until its targets are gone).
func (e *Engine) Delete(ctx context.Context, req Request) (*Result, error) {
	name, slug, err := Name(req.NamePrefix, req.Branch)
	if err != nil {
		return nil, err
	}
	res := &Result{Name: name, Branch: req.Branch, Slug: slug, Action: "absent"}
	targets, err := ExpandTargets(req.TokenTargets, slug, req.Branch, req.TargetDefaults)
	if err != nil {
		return res, err
	}

	// 1.
	base, previews, toks, lerr := e.lookUpForDelete(ctx, req)
	if base != nil {
		res.BaseID, res.BaseName = base.ID, base.Name
	}
	if len(previews) > 0 {
		res.ID, res.Name, res.Status = previews[0].ID, previews[0].Name, previews[0].Status
	}
	if req.DryRun {
		if lerr != nil {
			return res, lerr
		}
		if len(previews) > 0 {
			res.Action = "would-delete"
		}
		for _, t := range targets {
			res.Targets = append(res.Targets, rotation.TargetResult{Target: t.String(), Status: "would-delete"})
		}
		return res, nil
	}
	if lerr != nil {
		return res, fmt.Errorf("preview %s was not deleted, nothing was changed: %w", res.Name, lerr)
	}

	// 2.
	var gone []target.Result
	if len(targets) > 0 {
		gone = e.Targets.Delete(ctx, targets)
	}
	trs, err := targetResults(gone)
	res.Targets = append(res.Targets, trs...)
	if err != nil {
		// Keep the Deployment while something that points at it remains: a
		// rerun finds it by its marker and finishes.
		return res, fmt.Errorf("preview %s was not deleted, a rerun finishes: %w", res.Name, err)
	}
	if len(previews) == 0 {
		e.Log.Infof("no preview of %s for branch %s: nothing to delete", base.Name, echo.Quote(req.Branch))
		return res, nil
	}
	// 3.
	return res, e.remove(ctx, previews, toks, res)
}

// targetResults reports the deletion of each token target; the error
// joins the failures.
func targetResults(gone []target.Result) ([]rotation.TargetResult, error) {
	var out []rotation.TargetResult
	var errs []error
	for _, r := range gone {
		tr := rotation.TargetResult{Target: r.Target.String(), Status: "deleted"}
		if r.Err != nil {
			tr.Status, tr.Error = "failed", r.Err.Error()
			errs = append(errs, r.Err)
		}
		out = append(out, tr)
	}
	return out, errors.Join(errs...)
}

// remove runs Delete's step 3 once every target is gone: the tokens and
// the Deployments together (a token deleted with its Deployment answers
// 404 to its own delete, which is success). previews[0] is the one in use;
// the others are reported as DeletedPreviews.
func (e *Engine) remove(ctx context.Context, previews []astro.Deployment, toks []astro.Token, res *Result) error {
	var errs []error
	var wg sync.WaitGroup
	dels := make([]func() error, 0, len(toks)+len(previews))
	for _, t := range toks {
		dels = append(dels, func() error { return e.Astro.DeleteToken(ctx, t.ID) })
	}
	for _, p := range previews {
		dels = append(dels, func() error { return e.Astro.DeleteDeployment(ctx, p.ID) })
	}
	failed := make([]error, len(dels))
	for i, del := range dels {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := del(); err != nil && !astro.IsNotFound(err) {
				failed[i] = err
			}
		}()
	}
	wg.Wait()
	for i, t := range toks {
		if failed[i] != nil {
			errs = append(errs, fmt.Errorf("deleting token %s of preview %s: %w", t.ID, t.EntityID(), failed[i]))
			continue
		}
		res.Deleted = append(res.Deleted, t.ID)
	}
	deleted := make([]bool, len(previews))
	for i, p := range previews {
		if err := failed[len(toks)+i]; err != nil {
			errs = append(errs, fmt.Errorf("deleting preview %s: %w", p.ID, err))
			continue
		}
		deleted[i] = true
	}
	slices.Sort(res.Deleted)
	for i, p := range previews {
		if deleted[i] {
			e.Log.Infof("deleted preview %s (%s)", p.Name, p.ID)
			res.Action = "deleted"
			if i > 0 {
				res.DeletedPreviews = append(res.DeletedPreviews, p.ID)
			}
		}
	}
	return errors.Join(errs...)
}

// lookUpForDelete finds the base (or, when it is gone, stands in for it by
// its id), every preview of the branch and their tokens, the token lists
// at once.
func (e *Engine) lookUpForDelete(ctx context.Context, req Request) (*astro.Deployment, []astro.Deployment, []astro.Token, error) {
	base, err := e.resolveBase(ctx, req.Base)
	if errors.Is(err, errNoBase) && idRE.MatchString(req.Base) {
		// The base is gone, but its previews still carry its id: find them
		// across the organization so they do not outlive it.
		e.Log.Warnf("base Deployment %s no longer exists; looking for its previews in every workspace", req.Base)
		base, err = &astro.Deployment{ID: req.Base, Name: req.Base}, nil
	}
	if err != nil {
		return nil, nil, nil, err
	}
	previews, err := e.find(ctx, base, req.Branch)
	if err != nil || req.DryRun {
		return base, previews, nil, err
	}
	toks, err := e.tokensOf(ctx, previews)
	return base, previews, toks, err
}

// tokensOf lists astro-ci's tokens of every preview, at once.
func (e *Engine) tokensOf(ctx context.Context, previews []astro.Deployment) ([]astro.Token, error) {
	lists := make([][]astro.Token, len(previews))
	errs := make([]error, len(previews))
	var wg sync.WaitGroup
	for i, p := range previews {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lists[i], errs[i] = e.previewTokens(ctx, p.ID)
		}()
	}
	wg.Wait()
	return slices.Concat(lists...), errors.Join(errs...)
}
