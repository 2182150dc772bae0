package preview

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/astro-ci/astro-ci/internal/astro"
	"github.com/astro-ci/astro-ci/internal/report/echo"
	"github.com/astro-ci/astro-ci/internal/rotation"
	"github.com/astro-ci/astro-ci/internal/target"
)

// Create makes the preview of base for branch, or finds the one that exists
// (idempotent, and converging to one when runs race: converge.go), sets the
// secret variables, gives it a Deployment API token written to the token
// targets, and waits for it when asked. Its steps:
//
//  1. Look up the base and the branch's previews in Astro while the forges
//     prove the token targets writable: the two are independent.
//  2. Adopt the oldest preview, or create one and converge on the oldest.
//  3. Set the secret variables (and workload identity) on an adopted one.
//  4. Give it a token whose value every target holds and, at the same
//     time, deploy the branch's code to it (code.go): the two are
//     independent.
//  5. Wait until it is healthy, when asked.
//
// With IfExists (a push to a branch) a branch without a preview gets
// none: the result is "absent" and nothing changes.
func (e *Engine) Create(ctx context.Context, req Request) (*Result, error) {
	name, slug, err := Name(req.NamePrefix, req.Branch)
	if err != nil {
		return nil, err
	}
	if err := CheckCode(req.Code); err != nil {
		return nil, err
	}
	res := &Result{Name: name, Branch: req.Branch, Slug: slug}
	targets, err := ExpandTargets(req.TokenTargets, slug, req.Branch, req.TargetDefaults)
	if err != nil {
		return res, err
	}
	secrets := map[string]string{}
	for k, v := range req.SecretEnv {
		secrets[k] = v.Reveal()
		res.SecretKeys = append(res.SecretKeys, k)
	}
	slices.Sort(res.SecretKeys)

	// 1. Astro look-ups beside the preflight. Nothing is created before both
	// succeeded; a dry run proves nothing by writing.
	var pre []target.Result
	var wg sync.WaitGroup
	if !req.DryRun && len(targets) > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pre = e.Targets.Preflight(ctx, targets, target.Proof{})
		}()
	}
	lk, lerr := e.lookUp(ctx, req, name, secrets, len(targets) > 0)
	wg.Wait()
	if lk.base != nil {
		res.BaseID, res.BaseName = lk.base.ID, lk.base.Name
	}
	if lerr != nil {
		return res, lerr
	}
	if req.IfExists && len(lk.previews) == 0 {
		res.Action = "absent"
		return res, nil
	}
	if req.DryRun {
		res.Action = "would-create"
		if len(lk.previews) > 0 {
			p := lk.previews[0]
			res.Action, res.ID, res.Name, res.Status = "exists", p.ID, p.Name, p.Status
		}
		res.Code = planCode(req.Code, len(lk.previews) == 0)
		for _, t := range targets {
			res.Targets = append(res.Targets, rotation.TargetResult{Target: t.String(), Status: "would-write"})
		}
		return res, nil
	}
	if err := target.Err(pre); err != nil {
		return res, fmt.Errorf("preflight of the token targets failed, nothing was created: %w", err)
	}

	// 2. Adopt or create.
	var d *astro.Deployment
	toks, fresh := lk.tokens, false
	previews := lk.previews
	if len(previews) > 0 {
		d = &previews[0]
		res.Action = "exists"
		e.Log.Infof("preview %s (%s) exists for branch %s", d.Name, d.ID, echo.Quote(req.Branch))
	} else {
		own, err := e.createDeployment(ctx, lk.base, req.Branch, lk.create, lk.run)
		if err != nil {
			return res, err
		}
		res.ID = own.ID
		e.Log.Infof("created preview %s (%s) of %s for branch %s", own.Name, own.ID, lk.base.Name, echo.Quote(req.Branch))
		if d, previews, fresh, err = e.converge(ctx, lk.base, req.Branch, own, res); err != nil {
			return res, err
		}
		res.Action = "created"
		if !fresh {
			res.Action = "exists" // another run's: its token is looked up by Create
		}
	}
	e.merge(ctx, previews, res)

	// 3. An adopted preview gets this run's secret variables and identity,
	// and DAG deploys when code is to be deployed (an older astro-ci copied
	// the base's setting).
	code := req.Code != nil && req.Code.mode() != DeployNone
	enableDags := code && !d.IsDagDeployEnabled
	if !fresh && (len(secrets) > 0 || enableDags || req.WorkloadIdentity != "" && req.WorkloadIdentity != d.EffectiveWorkloadIdentity) {
		id := d.ID
		up := UpdateRequest(d, secrets, req.WorkloadIdentity)
		if enableDags {
			up.IsDagDeployEnabled = ptr(true)
		}
		if d, err = e.Astro.UpdateDeployment(ctx, id, up); err != nil {
			return res, fmt.Errorf("updating preview %s (secret variables, DAG deploys): %w", id, err)
		}
		if len(secrets) > 0 {
			e.Log.Infof("set %d secret variable(s) on the preview", len(secrets))
		}
		if enableDags {
			e.Log.Infof("turned DAG deploys on for preview %s", d.Name)
		}
	}
	res.ID, res.Name, res.Status, res.URL = d.ID, d.Name, d.Status, airflowURL(d)

	// 4. The token, and beside it the code.
	var codeErr error
	var cwg sync.WaitGroup
	if req.Code != nil {
		cwg.Go(func() { res.Code, codeErr = e.deployCode(ctx, lk.base, d, fresh, req.Code) })
	}
	var tokErr error
	if len(targets) > 0 {
		tokErr = e.ensureToken(ctx, d, toks, fresh, req, targets, res)
	}
	cwg.Wait()
	if err := errors.Join(tokErr, codeErr); err != nil {
		return res, err
	}
	// 5. Wait.
	if req.Wait {
		if err := e.wait(ctx, d, req, res); err != nil {
			return res, err
		}
	}
	return res, nil
}

// lookup is what step 1 found in Astro.
type lookup struct {
	base     *astro.Deployment
	create   astro.DeploymentRequest // the copy, should one be needed
	run      string                  // this run's id, in a new preview's marker
	previews []astro.Deployment      // the branch's previews, oldest first, settled
	tokens   []astro.Token           // astro-ci's tokens of previews[0], when wanted
}

// lookUp resolves the base, refuses one that cannot be copied, builds the
// copy and finds the branch's previews (and, with wantTokens, the tokens of
// the oldest), all before anything changes.
func (e *Engine) lookUp(ctx context.Context, req Request, name string, secrets map[string]string, wantTokens bool) (lookup, error) {
	var lk lookup
	var err error
	if lk.base, err = e.resolveBase(ctx, req.Base); err != nil {
		return lk, err
	}
	if lk.run, err = e.newRunID(); err != nil {
		return lk, err
	}
	if lk.create, err = CopyRequest(lk.base, name, descriptionOf(lk.base, req.Branch, lk.run), secrets, req.WorkloadIdentity, req.RuntimeVersion); err != nil {
		return lk, err
	}
	if lk.previews, err = e.find(ctx, lk.base, req.Branch); err != nil {
		return lk, err
	}
	if req.DryRun || len(lk.previews) == 0 {
		return lk, nil
	}
	if lk.previews, err = e.settled(ctx, lk.base, req.Branch, lk.previews, time.Time{}); err != nil {
		return lk, err
	}
	if wantTokens && len(lk.previews) > 0 {
		lk.tokens, err = e.previewTokens(ctx, lk.previews[0].ID)
	}
	return lk, err
}

// createDeployment creates the preview. A create whose answer was lost is
// reconciled by the run id in its marker: if Astro made the Deployment, it
// is used; another run's preview never is.
func (e *Engine) createDeployment(ctx context.Context, base *astro.Deployment, branch string, req astro.DeploymentRequest, run string) (*astro.Deployment, error) {
	d, err := e.Astro.CreateDeployment(ctx, req)
	if err == nil {
		return d, nil
	}
	if !astro.IsUncertain(err) {
		if rerr := runtimeRefused(err, req.AstroRuntimeVersion, base.AstroRuntimeVersion != req.AstroRuntimeVersion); rerr != nil {
			return nil, rerr
		}
		return nil, fmt.Errorf("creating preview %s: %w", req.Name, err)
	}
	e.Log.Warnf("%v; checking Astro before trying again", err)
	found, ferr := e.find(ctx, base, branch)
	if ferr != nil {
		return nil, fmt.Errorf("cannot tell whether preview %s was created: %w", req.Name, ferr)
	}
	for _, f := range found {
		if runOf(&f) == run {
			e.Log.Infof("the lost create took effect: using preview %s", f.ID)
			return &f, nil
		}
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
// every target. A current token from an earlier run is kept (its value
// reached every target: toks, listed beside the other look-ups, show it
// without another request). Anything else — none yet, one left pending by a
// run that died, or another run creating it right now — is rotation's
// Create's to settle: it converges to one current token and removes earlier
// unfinished ones only once they cannot be in a target (rotation/create.go).
// A preview this run created a moment ago has no token, so Create skips
// its first look-up.
func (e *Engine) ensureToken(ctx context.Context, d *astro.Deployment, toks []astro.Token, fresh bool, req Request, targets []target.Target, res *Result) error {
	name := "preview " + d.Name
	for _, t := range toks {
		if m, _ := rotation.ParseMarker(t.Description); t.Name == name && m.State == rotation.Current {
			res.Token = &rotation.TokenInfo{ID: t.ID, Name: t.Name, Scope: string(t.Scope), EntityID: d.ID, ExpiresAt: t.EndAt}
			res.TokenNote = existingTokenNote
			e.Log.Infof("preview token %s exists", t.ID)
			return nil
		}
	}
	role := req.TokenRole
	if role == "" {
		role = defaultTokenRole
	}
	out, err := e.Tokens.Create(ctx, rotation.CreateRequest{
		Token: astro.CreateTokenRequest{
			Name: name, Description: fmt.Sprintf("Token of preview %s (branch %q).", d.Name, truncate(req.Branch, 200)),
			Role: role, Scope: astro.ScopeDeployment, EntityID: d.ID, ExpiryDays: req.TokenExpiryDays,
		},
		Targets:     targets,
		Preflighted: true, // before the Deployment was created
		Existing:    rotation.KeepExisting,
		Fresh:       fresh,
	})
	if out != nil {
		res.Token, res.Targets = out.Token, out.Targets
		switch {
		case out.Yielded != nil:
			res.TokenNote = "another run creating this preview at the same time writes its token to the targets"
		case out.Existed:
			res.TokenNote = existingTokenNote
		}
	}
	if err != nil {
		return fmt.Errorf("the preview's token: %w", err)
	}
	return nil
}

const existingTokenNote = "the preview's token exists and its value is in the targets; delete the preview to issue a new one"

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
