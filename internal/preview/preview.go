// Package preview creates and deletes branch preview Deployments on Astro:
// a copy of a base Deployment per branch, with its own Deployment API token
// written to CI secrets, found again by a marker in its description (Astro
// allows duplicate names), idempotent both ways, and converging to one
// preview per branch when runs race (see converge.go for the protocol and
// its argument).
package preview

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/astro-ci/astro-ci/internal/astro"
	"github.com/astro-ci/astro-ci/internal/cienv"
	"github.com/astro-ci/astro-ci/internal/report/echo"
	"github.com/astro-ci/astro-ci/internal/rotation"
	"github.com/astro-ci/astro-ci/internal/secret"
	"github.com/astro-ci/astro-ci/internal/target"
	"github.com/astro-ci/astro-ci/internal/wait"
)

// Astro is what previews need of the Astro API; *astro.Client has it.
type Astro interface {
	GetDeployment(ctx context.Context, id string) (*astro.Deployment, error)
	ListDeployments(ctx context.Context, opts astro.ListDeploymentsOptions) ([]astro.Deployment, error)
	CreateDeployment(ctx context.Context, req astro.DeploymentRequest) (*astro.Deployment, error)
	UpdateDeployment(ctx context.Context, id string, req astro.DeploymentRequest) (*astro.Deployment, error)
	DeleteDeployment(ctx context.Context, id string) error
	ListTokens(ctx context.Context, opts astro.ListTokensOptions) ([]astro.Token, error)
	DeleteToken(ctx context.Context, id string) error
	ListDeploys(ctx context.Context, deploymentID string) ([]astro.Deploy, error)
}

var _ Astro = (*astro.Client)(nil)

// Targets writes and removes token values; *target.Fanout has it.
type Targets interface {
	Preflight(ctx context.Context, ts []target.Target, p target.Proof) []target.Result
	Delete(ctx context.Context, ts []target.Target) []target.Result
}

// TokenCreator creates a token and writes it to targets; *rotation.Engine has it.
type TokenCreator interface {
	Create(ctx context.Context, req rotation.CreateRequest) (*rotation.CreateOutcome, error)
}

// Observer is told about progress.
type Observer interface {
	Infof(format string, args ...any)
	Warnf(format string, args ...any)
}

// Engine creates and deletes previews.
type Engine struct {
	Astro   Astro
	Tokens  TokenCreator
	Targets Targets
	Log     Observer
	Now     func() time.Time
	Sleep   func(ctx context.Context, d time.Duration) error
	// Rand feeds the run id in a new preview's marker; default crypto/rand.
	Rand io.Reader
	// Code puts the branch's code into the preview (code.go); needed only
	// for a Request with Code.
	Code Deployer
	// Git compares the checkout with the commit of the base's image;
	// default gitmeta.Git{}.
	Git ChangeFinder
}

// Request names a preview and what comes with it.
type Request struct {
	Base   string // base Deployment id or name
	Branch string // the whole branch name
	// NamePrefix starts every preview name; default "preview-".
	NamePrefix string
	// TokenTargets receive the preview's Deployment API token; {slug},
	// {branch} and {ref_slug} in them are replaced first (see ExpandTargets).
	TokenTargets    []string
	TargetDefaults  target.Defaults
	TokenRole       string // default DEPLOYMENT_ADMIN
	TokenExpiryDays int    // 0: never expires
	// SecretEnv: secret environment variables to set on the preview.
	SecretEnv map[string]secret.Value
	// WorkloadIdentity is the preview's cloud identity; "" lets Astro assign
	// the preview its own. Never copied from the base (see CopyRequest).
	WorkloadIdentity string
	// RuntimeVersion overrides the base's Astro Runtime version, for a base
	// on a version Astro no longer offers for new Deployments.
	RuntimeVersion string
	Wait           bool
	Timeout        time.Duration // default 20m
	PollInterval   time.Duration // default 10s
	DryRun         bool
	// IfExists: only a preview that exists is brought up to date (a push
	// to a branch); none is created.
	IfExists bool
	// Code, when set, deploys the branch's code to the preview (code.go).
	Code *CodeRequest
}

// Result of a preview operation.
type Result struct {
	Action     string                  `json:"action"` // created, exists, deleted, absent, would-create, would-delete
	ID         string                  `json:"id,omitempty"`
	Name       string                  `json:"name"`
	Branch     string                  `json:"branch"`
	Slug       string                  `json:"slug"`
	BaseID     string                  `json:"baseId"`
	BaseName   string                  `json:"baseName,omitempty"`
	Status     string                  `json:"status,omitempty"`
	URL        string                  `json:"url,omitempty"`
	Token      *rotation.TokenInfo     `json:"token,omitempty"`
	TokenNote  string                  `json:"tokenNote,omitempty"`
	Targets    []rotation.TargetResult `json:"targets,omitempty"`
	SecretKeys []string                `json:"secretEnv,omitempty"`
	Deleted    []string                `json:"deletedTokens,omitempty"`
	// DeletedPreviews are other Deployments of the same preview that this
	// run deleted: its own copy when another run's was first, or leftovers
	// nothing refers to.
	DeletedPreviews []string `json:"deletedPreviews,omitempty"`
	// Code is what the branch's code deploy did (preview create).
	Code *CodeResult `json:"code,omitempty"`
}

const (
	maxName           = 63
	defaultPrefix     = "preview-"
	defaultTokenRole  = "DEPLOYMENT_ADMIN"
	markerOpen        = "[astro-ci preview "
	defaultTimeout    = 20 * time.Minute
	defaultPoll       = 10 * time.Second
	healthy, hibernat = "HEALTHY", "HIBERNATING"
)

var prefixRE = regexp.MustCompile(`^[a-z][a-z0-9-]{0,30}$`)

// Name is the preview's Deployment name for branch: the prefix and the
// branch's slug, at most 63 characters of [a-z0-9-].
func Name(prefix, branch string) (name, slug string, err error) {
	if prefix == "" {
		prefix = defaultPrefix
	}
	if !prefixRE.MatchString(prefix) {
		return "", "", fmt.Errorf("--name-prefix %s must be lower-case letters, digits and -, starting with a letter, at most 31 characters", echo.Quote(prefix))
	}
	slug = cienv.Slug(branch, maxName-len(prefix))
	return prefix + slug, slug, nil
}

// refHash identifies a branch in a marker: the whole branch name, hashed so
// any name fits and none can break the marker's syntax.
func refHash(branch string) string { return BranchKey(branch) }

// BranchKey is the branch's hash in a preview's marker ("ref="): what
// finds a branch's preview, and what keys its pull request comment.
func BranchKey(branch string) string {
	sum := sha256.Sum256([]byte(branch))
	return hex.EncodeToString(sum[:8])
}

// marker ties a preview to its base and branch and, from this version on,
// to the run that created it (so a create whose answer was lost finds its
// own Deployment, not another run's). It ends the description, where no
// branch name can put text after it.
func marker(baseID, branch, run string) string {
	m := fmt.Sprintf("%sbase=%s ref=%s", markerOpen, baseID, refHash(branch))
	if run != "" {
		m += " run=" + run
	}
	return m + "]"
}

func description(base *astro.Deployment, branch string) string {
	return descriptionOf(base, branch, "")
}

func descriptionOf(base *astro.Deployment, branch, run string) string {
	return fmt.Sprintf("Preview of %s for branch %q, managed by astro-ci. %s", base.Name, truncate(branch, 200), marker(base.ID, branch, run))
}

// previewMarker reads the marker that ends d's description.
func previewMarker(d *astro.Deployment) (base, ref, run string, ok bool) {
	desc := strings.TrimSpace(d.Description)
	i := strings.LastIndex(desc, markerOpen)
	if i < 0 || !strings.HasSuffix(desc, "]") {
		return "", "", "", false
	}
	for _, f := range strings.Fields(desc[i+len(markerOpen) : len(desc)-1]) {
		k, v, _ := strings.Cut(f, "=")
		switch k {
		case "base":
			base = v
		case "ref":
			ref = v
		case "run":
			run = v
		default:
			return "", "", "", false
		}
	}
	return base, ref, run, base != "" && ref != ""
}

func isPreviewOf(d *astro.Deployment, baseID, branch string) bool {
	b, ref, _, ok := previewMarker(d)
	return ok && b == baseID && ref == refHash(branch)
}

// runOf is the id of the run that created preview d ("" before run ids).
func runOf(d *astro.Deployment) string {
	_, _, run, _ := previewMarker(d)
	return run
}

func (e *Engine) newRunID() (string, error) {
	r := e.Rand
	if r == nil {
		r = rand.Reader
	}
	b := make([]byte, 8)
	if _, err := io.ReadFull(r, b); err != nil {
		return "", fmt.Errorf("reading randomness for the preview's run id: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// ExpandTargets replaces {slug}, {branch} (URL-escaped) and {ref_slug}
// (GitLab's CI_COMMIT_REF_SLUG of the branch) in each target address, then
// parses and validates them all.
func ExpandTargets(raws []string, slug, branch string, d target.Defaults) ([]target.Target, error) {
	var out []string
	for _, r := range raws {
		r = strings.ReplaceAll(r, "{slug}", slug)
		r = strings.ReplaceAll(r, "{branch}", escapePath(branch))
		r = strings.ReplaceAll(r, "{ref_slug}", GitLabRefSlug(branch))
		out = append(out, r)
	}
	return target.ParseAll(out, d)
}

// GitLabRefSlug is what GitLab makes CI_COMMIT_REF_SLUG of a branch: lower
// case, every character but a-z and 0-9 replaced by "-", cut to 63
// characters, "-" trimmed from both ends (GitLab's Gitlab::Utils.slugify).
// A target that names a review environment's scope with {ref_slug} rather
// than $CI_COMMIT_REF_SLUG is right in every job, including a prune in a
// scheduled pipeline, where $CI_COMMIT_REF_SLUG is the default branch's.
func GitLabRefSlug(branch string) string {
	var b strings.Builder
	n := 0
	for _, r := range strings.ToLower(branch) {
		if n == 63 {
			break
		}
		if 'a' <= r && r <= 'z' || '0' <= r && r <= '9' {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
		n++
	}
	return strings.Trim(b.String(), "-")
}

func escapePath(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-_.~", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

var errNoBase = errors.New("base Deployment not found")

// looksLikeID: Astro ids are 25-character CUIDs starting with c.
var idRE = regexp.MustCompile(`^c[a-z0-9]{24}$`)

// resolveBase finds the base Deployment by id or by (unique) name.
func (e *Engine) resolveBase(ctx context.Context, ref string) (*astro.Deployment, error) {
	if ref == "" {
		return nil, errors.New("no base Deployment: give --base-deployment (its id or name)")
	}
	d, err := ResolveDeployment(ctx, e.Astro, ref)
	if errors.Is(err, errNoDeployment) {
		return nil, fmt.Errorf("%w: no Deployment with id or name %s is visible to this token", errNoBase, echo.Quote(ref))
	}
	return d, err
}

// Finder reads Deployments; *astro.Client has it.
type Finder interface {
	GetDeployment(ctx context.Context, id string) (*astro.Deployment, error)
	ListDeployments(ctx context.Context, opts astro.ListDeploymentsOptions) ([]astro.Deployment, error)
}

var errNoDeployment = errors.New("no such Deployment")

// ResolveDeployment finds a Deployment by id or by (unique) name: an id is
// one GET; a name (or an id that is not one) one list by name.
func ResolveDeployment(ctx context.Context, a Finder, ref string) (*astro.Deployment, error) {
	if ref == "" {
		return nil, errors.New("no Deployment given")
	}
	if idRE.MatchString(ref) {
		d, err := a.GetDeployment(ctx, ref)
		if err == nil {
			return d, nil
		}
		if !astro.IsNotFound(err) {
			return nil, fmt.Errorf("reading Deployment %s: %w", ref, err)
		}
	}
	ds, err := a.ListDeployments(ctx, astro.ListDeploymentsOptions{Names: []string{ref}})
	if err != nil {
		return nil, fmt.Errorf("looking up Deployment %s: %w", echo.Quote(ref), err)
	}
	switch len(ds) {
	case 0:
		return nil, fmt.Errorf("%w: no Deployment with id or name %s is visible to this token", errNoDeployment, echo.Quote(ref))
	case 1:
		return &ds[0], nil
	}
	var ids []string
	for _, d := range ds {
		ids = append(ids, d.ID)
	}
	return nil, fmt.Errorf("%d Deployments are named %s (%s): give it as an id", len(ds), echo.Quote(ref), strings.Join(ids, ", "))
}

// older orders previews by (createdAt, id): the order every run sees the
// same way, since neither ever changes.
func older(a, b astro.Deployment) int {
	return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), strings.Compare(a.ID, b.ID))
}

// find lists the previews of base for branch, oldest first.
func (e *Engine) find(ctx context.Context, base *astro.Deployment, branch string) ([]astro.Deployment, error) {
	var opts astro.ListDeploymentsOptions
	if base.WorkspaceID != "" {
		opts.WorkspaceIDs = []string{base.WorkspaceID}
	}
	ds, err := e.Astro.ListDeployments(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("listing Deployments to find the preview: %w", err)
	}
	var out []astro.Deployment
	for _, d := range ds {
		if d.ID != base.ID && isPreviewOf(&d, base.ID, branch) {
			out = append(out, d)
		}
	}
	slices.SortFunc(out, older)
	return out, nil
}

func (e *Engine) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

func (e *Engine) sleep(ctx context.Context, d time.Duration) error {
	if e.Sleep != nil {
		return e.Sleep(ctx, d)
	}
	return wait.Sleep(ctx, d)
}

func airflowURL(d *astro.Deployment) string {
	u := d.WebServerURL
	if u == "" {
		u = d.UIURL
	}
	if u != "" && !strings.HasPrefix(u, "http") {
		u = "https://" + u
	}
	return u
}
