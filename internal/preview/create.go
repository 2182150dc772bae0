package preview

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/astro-ci/astro-ci/internal/astro"
	"github.com/astro-ci/astro-ci/internal/rotation"
	"github.com/astro-ci/astro-ci/internal/target"
)

// Create makes the preview of base for branch, or finds the one that exists
// (idempotent), sets the secret variables, gives it a Deployment API token
// written to the token targets, and waits for it when asked.
func (e *Engine) Create(ctx context.Context, req Request) (*Result, error) {
	name, slug, err := Name(req.NamePrefix, req.Branch)
	if err != nil {
		return nil, err
	}
	res := &Result{Name: name, Branch: req.Branch, Slug: slug}
	targets, err := ExpandTargets(req.TokenTargets, slug, req.Branch, req.TargetDefaults)
	if err != nil {
		return res, err
	}
	base, err := e.resolveBase(ctx, req.Base)
	if err != nil {
		return res, err
	}
	res.BaseID, res.BaseName = base.ID, base.Name
	secrets := map[string]string{}
	for k, v := range req.SecretEnv {
		secrets[k] = v.Reveal()
		res.SecretKeys = append(res.SecretKeys, k)
	}
	slices.Sort(res.SecretKeys)

	existing, err := e.find(ctx, base, req.Branch)
	if err != nil {
		return res, err
	}
	if req.DryRun {
		res.Action = "would-create"
		if len(existing) > 0 {
			res.Action, res.ID, res.Name, res.Status = "exists", existing[0].ID, existing[0].Name, existing[0].Status
		}
		for _, t := range targets {
			res.Targets = append(res.Targets, rotation.TargetResult{Target: t.String(), Status: "would-write"})
		}
		return res, nil
	}
	// Prove the token targets writable before creating anything.
	if len(targets) > 0 {
		if err := target.Err(e.Targets.Preflight(ctx, targets, target.Proof{})); err != nil {
			return res, fmt.Errorf("preflight of the token targets failed, nothing was created: %w", err)
		}
	}

	var d *astro.Deployment
	if len(existing) > 0 {
		d = &existing[0]
		if len(existing) > 1 {
			e.Log.Warnf("%d previews of %s for branch %q exist; using the oldest, %s", len(existing), base.Name, req.Branch, d.ID)
		}
		res.Action = "exists"
		e.Log.Infof("preview %s (%s) exists for branch %q", d.Name, d.ID, req.Branch)
		if len(secrets) > 0 {
			if d, err = e.Astro.UpdateDeployment(ctx, d.ID, UpdateRequest(d, secrets)); err != nil {
				return res, fmt.Errorf("setting the secret variables of preview %s: %w", existing[0].ID, err)
			}
			e.Log.Infof("set %d secret variable(s) on the preview", len(secrets))
		}
	} else {
		create, err := CopyRequest(base, name, description(base, req.Branch), secrets)
		if err != nil {
			return res, err
		}
		if d, err = e.createDeployment(ctx, base, req.Branch, create); err != nil {
			return res, err
		}
		res.Action = "created"
		e.Log.Infof("created preview %s (%s) of %s for branch %q", d.Name, d.ID, base.Name, req.Branch)
	}
	res.ID, res.Name, res.Status, res.URL = d.ID, d.Name, d.Status, airflowURL(d)

	if len(targets) > 0 {
		if err := e.ensureToken(ctx, d, req, targets, res); err != nil {
			return res, err
		}
	}
	if req.Wait {
		if err := e.wait(ctx, d.ID, req, res); err != nil {
			return res, err
		}
	}
	return res, nil
}

// createDeployment creates the preview. A create whose answer was lost is
// reconciled by its marker: if Astro made the Deployment, it is used.
func (e *Engine) createDeployment(ctx context.Context, base *astro.Deployment, branch string, req astro.DeploymentRequest) (*astro.Deployment, error) {
	d, err := e.Astro.CreateDeployment(ctx, req)
	if err == nil {
		return d, nil
	}
	if !astro.IsUncertain(err) {
		return nil, fmt.Errorf("creating preview %s: %w", req.Name, err)
	}
	e.Log.Warnf("%v; checking Astro before trying again", err)
	found, ferr := e.find(ctx, base, branch)
	if ferr != nil {
		return nil, fmt.Errorf("cannot tell whether preview %s was created: %w", req.Name, ferr)
	}
	if len(found) > 0 {
		e.Log.Infof("the lost create took effect: using preview %s", found[0].ID)
		return &found[0], nil
	}
	d, err = e.Astro.CreateDeployment(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("creating preview %s (second attempt): %w", req.Name, err)
	}
	return d, nil
}

// previewTokens lists the Deployment tokens astro-ci made for preview d.
func (e *Engine) previewTokens(ctx context.Context, d string) ([]astro.Token, error) {
	toks, err := e.Astro.ListTokens(ctx, astro.ListTokensOptions{DeploymentID: d})
	if err != nil {
		return nil, fmt.Errorf("listing the tokens of preview %s: %w", d, err)
	}
	var out []astro.Token
	for _, t := range toks {
		if _, ok := rotation.ParseMarker(t.Description); ok && t.Scope == astro.ScopeDeployment && t.EntityID() == d {
			out = append(out, t)
		}
	}
	return out, nil
}

// ensureToken gives the preview one Deployment API token whose value is in
// every token target. A current token from an earlier run is kept (its value
// reached every target); one left pending by a run that died is replaced.
func (e *Engine) ensureToken(ctx context.Context, d *astro.Deployment, req Request, targets []target.Target, res *Result) error {
	toks, err := e.previewTokens(ctx, d.ID)
	if err != nil {
		return err
	}
	for _, t := range toks {
		if m, _ := rotation.ParseMarker(t.Description); m.State == rotation.Current {
			res.Token = &rotation.TokenInfo{ID: t.ID, Name: t.Name, Scope: string(t.Scope), EntityID: d.ID, ExpiresAt: t.EndAt}
			res.TokenNote = "the preview's token exists and its value is in the targets; delete the preview to issue a new one"
			e.Log.Infof("preview token %s exists", t.ID)
			return nil
		}
	}
	var errs []error
	for _, t := range toks {
		if err := e.Astro.DeleteToken(ctx, t.ID); err != nil && !astro.IsNotFound(err) {
			errs = append(errs, err)
		} else {
			e.Log.Infof("deleted token %s, left unfinished by an earlier run", t.ID)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	role := req.TokenRole
	if role == "" {
		role = defaultTokenRole
	}
	out, err := e.Tokens.Create(ctx, rotation.CreateRequest{
		Token: astro.CreateTokenRequest{
			Name: "preview " + d.Name, Description: fmt.Sprintf("Token of preview %s (branch %q).", d.Name, truncate(req.Branch, 200)),
			Role: role, Scope: astro.ScopeDeployment, EntityID: d.ID, ExpiryDays: req.TokenExpiryDays,
		},
		Targets:     targets,
		Preflighted: true, // before the Deployment was created
	})
	if out != nil {
		res.Token, res.Targets = out.Token, out.Targets
	}
	if err != nil {
		return fmt.Errorf("the preview's token: %w", err)
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// wait polls until the preview is HEALTHY (or HIBERNATING, which a
// development Deployment may be at once), printing progress, until Timeout.
func (e *Engine) wait(ctx context.Context, id string, req Request, res *Result) error {
	timeout, poll := req.Timeout, req.PollInterval
	if timeout <= 0 {
		timeout = defaultTimeout
	}
	if poll <= 0 {
		poll = defaultPoll
	}
	start := e.now()
	deadline := start.Add(timeout)
	for {
		d, err := e.Astro.GetDeployment(ctx, id)
		if err != nil {
			return fmt.Errorf("waiting for preview %s: %w", id, err)
		}
		res.Status, res.URL = d.Status, airflowURL(d)
		elapsed := e.now().Sub(start).Round(time.Second)
		if d.Status == healthy || d.Status == hibernat {
			e.Log.Infof("preview %s is %s after %s", d.Name, d.Status, elapsed)
			return nil
		}
		if !e.now().Before(deadline) {
			return fmt.Errorf("preview %s is still %s after %s (--timeout): it may become healthy later; check it in the Astro UI", d.Name, d.Status, timeout)
		}
		reason := ""
		if d.StatusReason != "" {
			reason = ": " + d.StatusReason
		}
		e.Log.Infof("waiting for preview %s: %s%s (%s of at most %s)", d.Name, d.Status, reason, elapsed, timeout)
		if err := e.sleep(ctx, min(poll, deadline.Sub(e.now()))); err != nil {
			return fmt.Errorf("waiting for preview %s: %w", id, err)
		}
	}
}
