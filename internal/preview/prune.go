package preview

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/astro-ci/astro-ci/internal/astro"
	"github.com/astro-ci/astro-ci/internal/rotation"
	"github.com/astro-ci/astro-ci/internal/target"
)

// PruneRequest names the previews to prune: those of Base whose branch is
// gone, or older than MaxAge.
type PruneRequest struct {
	Base           string
	NamePrefix     string
	TokenTargets   []string // as given to preview create; {slug} and {branch} replaced per preview
	TargetDefaults target.Defaults
	// MaxAge prunes previews created longer ago than this, whether their
	// branch exists or not; 0: none for its age.
	MaxAge time.Duration
	DryRun bool
}

// BranchLister lists every branch of the repository (githubdeploy,
// gitlabbranches).
type BranchLister func(ctx context.Context) ([]string, error)

// PruneResult says what prune found and did.
type PruneResult struct {
	BaseID   string   `json:"baseId"`
	BaseName string   `json:"baseName,omitempty"`
	Branches int      `json:"branches"` // branches the repository has
	Previews int      `json:"previews"` // previews of the base found
	Pruned   []Pruned `json:"pruned"`
	DryRun   bool     `json:"dryRun,omitempty"`
}

// Pruned is one branch's preview that prune deleted (or would).
type Pruned struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Branch string `json:"branch,omitempty"` // "" when the description no longer holds it
	Key    string `json:"key"`              // the marker's branch hash
	// Reason: "branch gone" or "older than …".
	Reason    string                  `json:"reason"`
	Action    string                  `json:"action"` // deleted, would-delete, failed
	Error     string                  `json:"error,omitempty"`
	CreatedAt time.Time               `json:"createdAt"`
	Deleted   []string                `json:"deletedTokens,omitempty"`
	Targets   []rotation.TargetResult `json:"targets,omitempty"`
	// DeletedPreviews: more Deployments of the same branch's preview.
	DeletedPreviews []string `json:"deletedPreviews,omitempty"`
}

// pruneGrace: a preview younger than this is never pruned for its branch
// being gone. The branch list and the preview list are read at the same
// time, so a branch pushed (and its preview created) between the two
// reads would look gone; this covers that and any clock skew between
// Astro and this machine (youngWindow).
const pruneGrace = 3 * youngWindow

// Prune deletes the previews of req.Base whose branch the repository no
// longer has (branches lists them), or that are older than MaxAge, each
// with its tokens and token targets. Its steps:
//
//  1. Resolve the base and list its previews, while the forge lists the
//     repository's branches. A failed or empty branch list prunes nothing.
//  2. Group the previews by branch (the marker's hash) and pick the groups
//     whose branch is gone, or whose preview is older than MaxAge.
//  3. Delete each picked group as preview delete does: its targets first
//     (with the group's {slug} and {branch}), and only when every one is
//     gone, its tokens and Deployments. A group that fails stays for the
//     next run; the others go on.
func (e *Engine) Prune(ctx context.Context, req PruneRequest, branches BranchLister) (*PruneResult, error) {
	prefix := req.NamePrefix
	if prefix == "" {
		prefix = defaultPrefix
	}
	if _, _, err := Name(prefix, "x"); err != nil {
		return nil, err
	}
	// Every address must parse before anything happens.
	if _, err := ExpandTargets(req.TokenTargets, "x", "x", req.TargetDefaults); err != nil {
		return nil, err
	}
	res := &PruneResult{Pruned: []Pruned{}, DryRun: req.DryRun}

	// 1.
	var names []string
	var berr error
	var wg sync.WaitGroup
	wg.Go(func() { names, berr = branches(ctx) })
	base, previews, lerr := e.allPreviews(ctx, req.Base)
	wg.Wait()
	if base != nil {
		res.BaseID, res.BaseName = base.ID, base.Name
	}
	if lerr != nil {
		return res, lerr
	}
	if berr != nil {
		return res, fmt.Errorf("listing the repository's branches, so nothing was pruned: %w", berr)
	}
	if len(names) == 0 {
		return res, errors.New("the repository lists no branch at all, so every preview would look orphaned: nothing was pruned (does the token see the right repository?)")
	}
	res.Branches, res.Previews = len(names), len(previews)
	live := make(map[string]bool, len(names))
	for _, n := range names {
		live[refHash(n)] = true
	}

	// 2.
	groups := map[string][]astro.Deployment{}
	var keys []string
	for _, p := range previews {
		_, ref, _, _ := previewMarker(&p)
		if groups[ref] == nil {
			keys = append(keys, ref)
		}
		groups[ref] = append(groups[ref], p)
	}
	now := e.now()
	type pick struct {
		key, reason string
		group       []astro.Deployment
	}
	var picks []pick
	for _, k := range keys {
		g := groups[k]
		slices.SortFunc(g, older)
		age := now.Sub(g[0].CreatedAt)
		switch {
		case !live[k] && age >= pruneGrace:
			picks = append(picks, pick{k, "branch gone", g})
		case req.MaxAge > 0 && age > req.MaxAge:
			picks = append(picks, pick{k, "older than " + fmtAge(req.MaxAge), g})
		}
	}
	slices.SortFunc(picks, func(a, b pick) int { return older(a.group[0], b.group[0]) })

	// 3.
	res.Pruned = make([]Pruned, len(picks))
	var errs []error
	for i, p := range picks {
		pr, err := e.pruneGroup(ctx, req, prefix, p.key, p.group)
		pr.Reason = p.reason
		res.Pruned[i] = pr
		if err != nil {
			errs = append(errs, fmt.Errorf("preview %s: %w", pr.Name, err))
		}
	}
	if len(picks) == 0 {
		e.Log.Infof("%d preview(s) of %s, none to prune (the repository has %d branches)", len(previews), base.Name, len(names))
	}
	return res, errors.Join(errs...)
}

// allPreviews resolves the base (standing in for it by its id when it is
// gone, as Delete does) and lists every preview of it.
func (e *Engine) allPreviews(ctx context.Context, ref string) (*astro.Deployment, []astro.Deployment, error) {
	base, err := e.resolveBase(ctx, ref)
	if errors.Is(err, errNoBase) && idRE.MatchString(ref) {
		e.Log.Warnf("base Deployment %s no longer exists; looking for its previews in every workspace", ref)
		base, err = &astro.Deployment{ID: ref, Name: ref}, nil
	}
	if err != nil {
		return nil, nil, err
	}
	var opts astro.ListDeploymentsOptions
	if base.WorkspaceID != "" {
		opts.WorkspaceIDs = []string{base.WorkspaceID}
	}
	ds, err := e.Astro.ListDeployments(ctx, opts)
	if err != nil {
		return base, nil, fmt.Errorf("listing Deployments to find the previews: %w", err)
	}
	var out []astro.Deployment
	for _, d := range ds {
		if b, _, _, ok := previewMarker(&d); ok && b == base.ID && d.ID != base.ID {
			out = append(out, d)
		}
	}
	return base, out, nil
}

// pruneGroup deletes one branch's previews (group[0] is the one in use).
func (e *Engine) pruneGroup(ctx context.Context, req PruneRequest, prefix, key string, group []astro.Deployment) (Pruned, error) {
	first := group[0]
	pr := Pruned{ID: first.ID, Name: first.Name, Key: key, CreatedAt: first.CreatedAt, Action: "failed"}
	for _, d := range group {
		if b, ok := branchOf(&d, key); ok {
			pr.Branch = b
			break
		}
	}
	// The slug its targets were expanded with: its name less the prefix.
	slug, ok := strings.CutPrefix(first.Name, prefix)
	if !ok {
		slug = ""
		if pr.Branch != "" {
			_, slug, _ = Name(prefix, pr.Branch)
		}
	}
	for _, raw := range req.TokenTargets {
		switch {
		case pr.Branch == "" && (strings.Contains(raw, "{branch}") || strings.Contains(raw, "{ref_slug}")):
			pr.Error = "its branch name is no longer in its description, and a token target needs {branch} or {ref_slug}: delete it with `astro-ci preview delete --branch`"
			return pr, errors.New(pr.Error)
		case slug == "" && strings.Contains(raw, "{slug}"):
			pr.Error = fmt.Sprintf("its name does not start with --name-prefix %s, so the {slug} of its token targets is unknown: give the prefix it was created with", prefix)
			return pr, errors.New(pr.Error)
		}
	}
	targets, err := ExpandTargets(req.TokenTargets, slug, pr.Branch, req.TargetDefaults)
	if err != nil {
		pr.Error = err.Error()
		return pr, err
	}
	if req.DryRun {
		pr.Action = "would-delete"
		for _, t := range targets {
			pr.Targets = append(pr.Targets, rotation.TargetResult{Target: t.String(), Status: "would-delete"})
		}
		for _, d := range group[1:] {
			pr.DeletedPreviews = append(pr.DeletedPreviews, d.ID)
		}
		e.Log.Infof("would delete preview %s (%s)", first.Name, first.ID)
		return pr, nil
	}
	// As Delete: the tokens are looked up first (nothing is deleted when
	// that fails), then the targets, then the rest.
	toks, lerr := e.tokensOf(ctx, group)
	if lerr != nil {
		pr.Error = "not deleted, the next run tries again: " + lerr.Error()
		return pr, fmt.Errorf("not deleted, the next run tries again: %w", lerr)
	}
	var gone []target.Result
	if len(targets) > 0 {
		gone = e.Targets.Delete(ctx, targets)
	}
	trs, terr := targetResults(gone)
	pr.Targets = trs
	if err := terr; err != nil {
		pr.Error = "not deleted, the next run tries again: " + err.Error()
		return pr, fmt.Errorf("not deleted, the next run tries again: %w", err)
	}
	r := &Result{}
	err = e.remove(ctx, group, toks, r)
	pr.Deleted, pr.DeletedPreviews = r.Deleted, r.DeletedPreviews
	if r.Action == "deleted" {
		pr.Action = "deleted"
	}
	if err != nil {
		pr.Error = err.Error()
	}
	return pr, err
}

// branchOf recovers the branch of preview d from its description, when the
// description still holds it whole: the name whose hash is key.
func branchOf(d *astro.Deployment, key string) (string, bool) {
	desc := strings.TrimSpace(d.Description)
	i := strings.LastIndex(desc, markerOpen)
	if i < 0 {
		return "", false
	}
	head := strings.TrimSuffix(strings.TrimSpace(desc[:i]), ", managed by astro-ci.")
	const lead = " for branch "
	for j := strings.LastIndex(head, lead); j >= 0; j = strings.LastIndex(head[:j], lead) {
		rest := head[j+len(lead):]
		if q, err := strconv.QuotedPrefix(rest); err == nil && q == rest {
			if b, err := strconv.Unquote(q); err == nil && refHash(b) == key {
				return b, true
			}
		}
	}
	return "", false
}

// fmtAge writes 30d, 36h, 90m, 1h30m rather than 720h0m0s.
func fmtAge(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
