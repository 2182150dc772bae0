package preview

import (
	"context"
	"errors"
	"fmt"

	"github.com/astro-ci/astro-ci/internal/astro"
	"github.com/astro-ci/astro-ci/internal/rotation"
)

// Delete removes the preview of base for branch with its tokens and the
// secrets or variables that held them. Already gone is success. The order —
// targets, tokens, Deployment — lets a rerun after any failure finish the job:
// the targets are known from the request even when the preview is gone.
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
	base, err := e.resolveBase(ctx, req.Base)
	if errors.Is(err, errNoBase) && idRE.MatchString(req.Base) {
		// The base is gone, but its previews still carry its id: find them
		// across the organization so they do not outlive it.
		e.Log.Warnf("base Deployment %s no longer exists; looking for its previews in every workspace", req.Base)
		base, err = &astro.Deployment{ID: req.Base, Name: req.Base}, nil
	}
	if err != nil {
		return res, err
	}
	res.BaseID, res.BaseName = base.ID, base.Name
	previews, err := e.find(ctx, base, req.Branch)
	if err != nil {
		return res, err
	}
	if len(previews) > 0 {
		res.ID, res.Name, res.Status = previews[0].ID, previews[0].Name, previews[0].Status
	}
	if req.DryRun {
		if len(previews) > 0 {
			res.Action = "would-delete"
		}
		for _, t := range targets {
			res.Targets = append(res.Targets, rotation.TargetResult{Target: t.String(), Status: "would-delete"})
		}
		return res, nil
	}
	var errs []error
	if len(targets) > 0 {
		for _, r := range e.Targets.Delete(ctx, targets) {
			tr := rotation.TargetResult{Target: r.Target.String(), Status: "deleted"}
			if r.Err != nil {
				tr.Status, tr.Error = "failed", r.Err.Error()
				errs = append(errs, r.Err)
			}
			res.Targets = append(res.Targets, tr)
		}
	}
	for _, p := range previews {
		toks, err := e.previewTokens(ctx, p.ID)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, t := range toks {
			if err := e.Astro.DeleteToken(ctx, t.ID); err != nil && !astro.IsNotFound(err) {
				errs = append(errs, fmt.Errorf("deleting token %s of preview %s: %w", t.ID, p.ID, err))
				continue
			}
			res.Deleted = append(res.Deleted, t.ID)
		}
	}
	if err := errors.Join(errs...); err != nil {
		// Keep the Deployment while something that points at it remains: a
		// rerun finds it by its marker and finishes.
		return res, fmt.Errorf("preview %s was not deleted, a rerun finishes: %w", res.Name, err)
	}
	for _, p := range previews {
		if err := e.Astro.DeleteDeployment(ctx, p.ID); err != nil && !astro.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("deleting preview %s: %w", p.ID, err))
			continue
		}
		e.Log.Infof("deleted preview %s (%s)", p.Name, p.ID)
		res.Action = "deleted"
	}
	if len(previews) == 0 {
		e.Log.Infof("no preview of %s for branch %q: nothing to delete", base.Name, req.Branch)
	}
	return res, errors.Join(errs...)
}
