// Package deploy puts code into an Astro Deployment through the Astro API,
// without Docker or the Astro CLI (code-deploys.md):
//
//   - DAGDeploy: a DAG_ONLY deploy of a DAG folder (create deploy → upload
//     the bundle to its dagsUploadUrl → finalize with the blob's version →
//     optionally wait until the Deployment runs it);
//   - ImageAndDAGDeploy: for a new preview, an IMAGE_AND_DAG deploy whose
//     image is a registry-to-registry copy of the base's current image
//     (package imagecopy) and whose DAGs are the branch's;
//   - BaseImage: the base's current image and the commit it was built from.
//
// # Secrets
//
// The upload URL carries an Azure SAS signature, a credential. It arrives
// as a secret.Value; the engine hands it (and its signature alone) to
// Observer.Secret before anything else happens with it, so the caller's
// redactor knows it, and no error the engine returns contains it: upload
// errors name the URL without its query.
//
// # Lost answers
//
// CreateDeploy is not idempotent. When its answer is lost (an
// *astro.UncertainError) the engine lists the Deployment's deploys and
// adopts the one carrying the nonce it put in the description; when there
// is none, or it shows no upload URL, it creates another. A deploy left
// INITIALIZED is harmless: a deploy changes nothing until it is finalized
// (the spec: finalize is what sets the Deployment's desired DAG tarball
// version; a Deploy is "an intent to deploy"), and Astro keeps such
// deploys in the history as they are (inferred: astro-cli leaves one
// behind whenever it dies between create and finalize and never cleans
// up). A finalize whose answer is lost is checked by reading the deploy
// back; it is repeated only while the deploy is still INITIALIZED.
package deploy

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/astro-ci/astro-ci/internal/astro"
	"github.com/astro-ci/astro-ci/internal/gitmeta"
	"github.com/astro-ci/astro-ci/internal/imagecopy"
	"github.com/astro-ci/astro-ci/internal/secret"
	"github.com/astro-ci/astro-ci/internal/version"
	"github.com/astro-ci/astro-ci/internal/wait"
)

// Astro is what the engine needs of the Astro API (*astro.Client).
type Astro interface {
	GetDeployment(ctx context.Context, id string) (*astro.Deployment, error)
	CreateDeploy(ctx context.Context, deploymentID string, req astro.CreateDeployRequest) (*astro.Deploy, error)
	GetDeploy(ctx context.Context, deploymentID, deployID string) (*astro.Deploy, error)
	ListDeploys(ctx context.Context, deploymentID string) ([]astro.Deploy, error)
	FinalizeDeploy(ctx context.Context, deploymentID, deployID string, req astro.FinalizeDeployRequest) (*astro.Deploy, error)
	SetHibernationOverride(ctx context.Context, deploymentID string, isHibernating bool, until *time.Time) (*astro.HibernationOverride, error)
	DeleteHibernationOverride(ctx context.Context, deploymentID string) error
}

var _ Astro = (*astro.Client)(nil)

// Observer hears what the engine does. Secret is called with every
// credential the engine learns (the upload URL and its signature) before
// it is used; register it with the redactor (and mask it on GitHub).
type Observer interface {
	Secret(v secret.Value)
	Step(msg string)
	Warn(msg string)
}

// NopObserver ignores everything.
type NopObserver struct{}

func (NopObserver) Secret(secret.Value) {}
func (NopObserver) Step(string)         {}
func (NopObserver) Warn(string)         {}

var _ Observer = NopObserver{}

// CopyFunc copies an image between registries (imagecopy.Copy with the
// registry credentials bound).
type CopyFunc func(ctx context.Context, src, dst string) (imagecopy.Result, error)

// RegistryCopier copies with Astro's registry credentials: user "cli" and
// the API token as password.
func RegistryCopier(token secret.Value, transport http.RoundTripper) CopyFunc {
	return func(ctx context.Context, src, dst string) (imagecopy.Result, error) {
		return imagecopy.Copy(ctx, src, dst, imagecopy.Options{
			Auth: imagecopy.Credentials{Username: imagecopy.AstroUser, Password: token}, Transport: transport,
		})
	}
}

// Engine runs deploys. Astro and HTTP are required; the rest has defaults.
type Engine struct {
	Astro Astro
	// HTTP carries the bundle upload (not the Astro API). Default: a
	// client with a 10-minute timeout.
	HTTP     *http.Client
	Observer Observer
	Copy     CopyFunc // for ImageAndDAGDeploy
	Now      func() time.Time
	Sleep    func(ctx context.Context, d time.Duration) error
	Rand     io.Reader // nonces; default crypto/rand
	// TempDir holds the bundle while it is uploaded; default os.TempDir().
	TempDir string
}

// Request is one deploy.
type Request struct {
	DeploymentID string
	DagsDir      string // the DAG folder; its entries become dags/…
	Description  string // default from the git metadata
	Git          gitmeta.Meta
	AllowEmpty   bool // deploy an empty DAG folder (deletes every DAG)
	// Wake wakes a hibernating development Deployment for the deploy with
	// a hibernation override lasting WakeFor (default 1h: if the run dies
	// the override lapses by itself), removed again at the end.
	Wake    bool
	WakeFor time.Duration
	// Wait waits until the Deployment runs the new DAG bundle (bounded by
	// ctx). A woken Deployment is always waited for before the override
	// goes: it applies the bundle only while awake.
	Wait bool
	Tar  TarOptions // bounds of the bundle; AllowEmpty above wins
}

// Result tells what a deploy did.
type Result struct {
	DeployID          string
	DagTarballVersion string
	Files             int
	Bytes             int64 // uncompressed DAG content
	UploadBytes       int64 // the gzipped bundle
	Woken             bool  // a hibernation override was set for the deploy
	Running           bool  // the Deployment reported the version (Wait)
	Superseded        bool  // a newer deploy replaced ours while waiting
	Image             string
	ImageDigest       string
	Mounted, Uploaded int  // image blobs mounted / uploaded
	Reconciled        bool // a lost create or finalize answer was reconciled
}

func (e *Engine) obs() Observer {
	if e.Observer == nil {
		return NopObserver{}
	}
	return e.Observer
}

func (e *Engine) now() time.Time {
	if e.Now == nil {
		return time.Now()
	}
	return e.Now()
}

func (e *Engine) sleep(ctx context.Context, d time.Duration) error {
	if e.Sleep == nil {
		return wait.Sleep(ctx, d)
	}
	return e.Sleep(ctx, d)
}

// DAGDeploy deploys the DAG folder of req to req.DeploymentID.
func (e *Engine) DAGDeploy(ctx context.Context, req Request) (res Result, err error) {
	return e.run(ctx, req, astro.DeployDAGOnly, "")
}

// ImageAndDAGDeploy gives a (new preview) Deployment the image sourceImage
// (copied registry to registry, same digest) and the DAG folder, in one
// IMAGE_AND_DAG deploy.
func (e *Engine) ImageAndDAGDeploy(ctx context.Context, req Request, sourceImage string) (Result, error) {
	if e.Copy == nil {
		return Result{}, errors.New("deploy: no image copier configured")
	}
	if sourceImage == "" {
		return Result{}, errors.New("the base Deployment names no image to copy")
	}
	return e.run(ctx, req, astro.DeployImageAndDAG, sourceImage)
}

func (e *Engine) run(ctx context.Context, req Request, typ, sourceImage string) (res Result, err error) {
	if req.DeploymentID == "" {
		return res, errors.New("no Deployment to deploy to")
	}
	o := e.obs()

	// 1. Read the Deployment and build the bundle at the same time: both
	// are needed before anything changes, and neither changes anything.
	bundle, stats, buildErr, dep, getErr := e.prepare(ctx, req)
	if bundle != nil {
		defer func() { _ = bundle.Close(); _ = os.Remove(bundle.Name()) }()
	}
	if getErr != nil {
		return res, fmt.Errorf("reading Deployment %s: %w", req.DeploymentID, getErr)
	}
	if buildErr != nil {
		return res, buildErr
	}
	res.Files, res.Bytes = stats.Files, stats.Bytes
	if fi, err := bundle.Stat(); err == nil {
		res.UploadBytes = fi.Size()
	}

	// 2. DAG deploys must be on (else DAG-only deploys are refused, and a
	// copied image would run the base's DAGs baked into it).
	if !dep.IsDagDeployEnabled {
		return res, fmt.Errorf("DAG deploys are not enabled for Deployment %s (%s): enable them in the Astro UI (Deployment → Details → DAG deploys) or with `astro deployment update %s --dag-deploy enable`", dep.Name, dep.ID, dep.ID)
	}

	// 3. A hibernating Deployment refuses deploys: wake it on request.
	if dep.IsHibernating() {
		if !req.Wake {
			return res, fmt.Errorf("the Deployment %s (%s) is hibernating and refuses deploys: pass --wake to wake it for the deploy (development Deployments), or wake it in the Astro UI", dep.Name, dep.ID)
		}
		restore, err := e.wake(ctx, dep, req.WakeFor)
		if err != nil {
			return res, err
		}
		res.Woken = true
		req.Wait = true // it applies the bundle only while awake
		defer func() {
			if rerr := restore(); rerr != nil {
				o.Warn(rerr.Error())
			}
		}()
	}

	// 4. Create the deploy (reconciled if its answer is lost).
	d, reconciled, err := e.create(ctx, req, typ)
	if err != nil {
		return res, err
	}
	res.DeployID, res.Reconciled = d.ID, reconciled
	if d.DagsUploadURL.IsZero() {
		return res, fmt.Errorf("Astro created deploy %s without an upload URL for the DAGs: DAG deploys may have been turned off meanwhile", d.ID)
	}
	e.register(d.DagsUploadURL)
	o.Step(fmt.Sprintf("created %s deploy %s on Deployment %s", typ, d.ID, dep.ID))

	// 5. Upload the bundle and, for an image deploy, copy the image at
	// the same time: they are independent until the finalize.
	var wg sync.WaitGroup
	var copyRes imagecopy.Result
	var copyErr error
	if sourceImage != "" {
		dst := d.ImageRepository + ":" + d.ImageTag
		res.Image = dst
		wg.Go(func() { copyRes, copyErr = e.Copy(ctx, sourceImage, dst) })
	}
	ver, upErr := e.upload(ctx, d.DagsUploadURL, bundle)
	wg.Wait()
	if upErr != nil {
		return res, upErr
	}
	if copyErr != nil {
		return res, fmt.Errorf("copying the base's image %s to the preview: %w", sourceImage, copyErr)
	}
	if sourceImage != "" {
		res.ImageDigest, res.Mounted, res.Uploaded = copyRes.Digest, copyRes.Mounted, copyRes.Uploaded
		o.Step(fmt.Sprintf("copied image %s (%s; %d blobs mounted, %d uploaded)", res.Image, copyRes.Digest, copyRes.Mounted, copyRes.Uploaded))
	}
	o.Step(fmt.Sprintf("uploaded the DAG bundle: %d files, %d bytes gzipped, version %s", res.Files, res.UploadBytes, ver))

	// 6. Finalize with the blob's version.
	again, err := e.finalize(ctx, req.DeploymentID, d.ID, ver)
	if err != nil {
		return res, err
	}
	res.DagTarballVersion = ver
	res.Reconciled = res.Reconciled || again

	// 7. Optionally wait until the Deployment runs it.
	if req.Wait {
		running, superseded, err := e.waitFor(ctx, req.DeploymentID, ver)
		res.Running, res.Superseded = running, superseded
		if err != nil {
			return res, err
		}
	}
	return res, nil
}

// prepare reads the Deployment while the bundle is built.
func (e *Engine) prepare(ctx context.Context, req Request) (bundle *os.File, stats TarStats, buildErr error, dep *astro.Deployment, getErr error) {
	var wg sync.WaitGroup
	wg.Go(func() { dep, getErr = e.Astro.GetDeployment(ctx, req.DeploymentID) })
	bundle, err := os.CreateTemp(e.TempDir, "astro-ci-dags-*.tar.gz")
	if err != nil {
		wg.Wait()
		return nil, stats, fmt.Errorf("creating a temporary file for the DAG bundle: %w", err), dep, getErr
	}
	opts := req.Tar
	opts.AllowEmpty = opts.AllowEmpty || req.AllowEmpty
	stats, buildErr = BuildTarball(cmp.Or(req.DagsDir, "dags"), opts, bundle)
	wg.Wait()
	return bundle, stats, buildErr, dep, getErr
}

// register tells the observer the upload URL and its signature.
func (e *Engine) register(u secret.Value) {
	o := e.obs()
	o.Secret(u)
	// The query (the SAS) and its signature alone, raw and escaped; the
	// other SAS fields (version, expiry, permissions) are not secrets and
	// would only scrub innocent text.
	if p, err := url.Parse(u.Reveal()); err == nil {
		o.Secret(secret.New(p.RawQuery))
		if sig := p.Query().Get("sig"); sig != "" {
			o.Secret(secret.New(sig))
			o.Secret(secret.New(url.QueryEscape(sig)))
		}
	}
}

// ---------------------------------------------------------------------------
// Create, with reconciliation

const maxDescription = 500

func (e *Engine) nonce() string {
	b := make([]byte, 10)
	r := e.Rand
	if r == nil {
		r = rand.Reader
	}
	if _, err := io.ReadFull(r, b); err != nil {
		panic(fmt.Sprintf("deploy: reading randomness: %v", err))
	}
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
}

// description is the user's (or a default) plus the run's nonce, within
// Astro's 500 characters.
func description(req Request, nonce string) string {
	d := req.Description
	if d == "" {
		d = "astro-ci: DAGs"
		if req.Git.Branch != "" {
			d += " of " + req.Git.Branch
		}
		if s := req.Git.Short(); s != "" {
			d += " at " + s
		}
	}
	tag := " [astro-ci " + nonce + "]"
	for utf8.RuneCountInString(d)+len(tag) > maxDescription {
		_, size := utf8.DecodeLastRuneInString(d)
		d = d[:len(d)-size]
	}
	return d + tag
}

// deployGit is the deploy's git metadata, nil when the commit is unknown.
func deployGit(m gitmeta.Meta, dagsPath string) *astro.DeployGit {
	if m.CommitSHA == "" {
		return nil
	}
	g := &astro.DeployGit{
		CommitSHA: m.CommitSHA, Branch: m.Branch, CommitURL: m.CommitURL(), AuthorName: m.AuthorName,
		AuthorUsername: m.AuthorUsername, AuthorURL: m.AuthorURL(), BeforeCommitSHA: m.BeforeSHA, Path: dagsPath,
	}
	switch {
	case m.IsGitHub():
		g.Provider, g.Account, g.Repo = astro.GitProviderGitHub, m.Account(), m.Repo()
	case m.RemoteURL != "":
		g.Provider, g.RemoteURL = astro.GitProviderGeneric, m.RemoteURL
	default:
		return nil // GENERIC needs a remote URL
	}
	return g
}

func (e *Engine) create(ctx context.Context, req Request, typ string) (*astro.Deploy, bool, error) {
	nonce := e.nonce()
	body := astro.CreateDeployRequest{Type: typ, Description: description(req, nonce), Git: deployGit(req.Git, "dags/")}
	d, err := e.Astro.CreateDeploy(ctx, req.DeploymentID, body)
	if err == nil {
		return d, false, nil
	}
	if !astro.IsUncertain(err) {
		return nil, false, fmt.Errorf("creating the deploy: %w", err)
	}
	e.obs().Warn("the answer to creating the deploy was lost; looking for it")
	ds, lerr := e.Astro.ListDeploys(ctx, req.DeploymentID)
	if lerr != nil {
		return nil, false, fmt.Errorf("creating the deploy: %w (and listing deploys to find it failed: %v)", err, lerr)
	}
	for i := range ds {
		if strings.Contains(ds[i].Description, "[astro-ci "+nonce+"]") && ds[i].Status == astro.DeployInitialized && !ds[i].DagsUploadURL.IsZero() {
			return &ds[i], true, nil
		}
	}
	// Not there (or without its URL): one more create; a lost one stays
	// INITIALIZED, which changes nothing.
	body.Description = description(req, e.nonce())
	d, err = e.Astro.CreateDeploy(ctx, req.DeploymentID, body)
	if err != nil {
		return nil, true, fmt.Errorf("creating the deploy (second attempt, after a lost answer): %w", err)
	}
	return d, true, nil
}

// ---------------------------------------------------------------------------
// Upload

// UploadError is a failed upload; it names the URL without its query.
type UploadError struct {
	URL        string // scheme://host/path
	StatusCode int    // 0 when no answer came
	Code       string // x-ms-error-code
	Msg        string
}

func (e *UploadError) Error() string {
	s := "uploading the DAG bundle to " + e.URL
	if e.StatusCode != 0 {
		s += fmt.Sprintf(": the blob store answered %d", e.StatusCode)
	}
	if e.Code != "" {
		s += " " + e.Code
	}
	if e.Msg != "" {
		s += ": " + e.Msg
	}
	if e.StatusCode == http.StatusForbidden {
		s += " (the upload URL was refused: it may have expired; run the deploy again)"
	}
	return s
}

func bare(u *url.URL) string {
	c := *u
	c.RawQuery, c.Fragment, c.User = "", "", nil
	return c.String()
}

const uploadAttempts = 3

// upload PUTs the bundle to the blob URL and returns x-ms-version-id.
// Transient failures (no answer, 5xx, 429) are retried: a repeated Put
// Blob makes another version of the same blob, which is harmless.
func (e *Engine) upload(ctx context.Context, u secret.Value, bundle *os.File) (string, error) {
	target, err := url.Parse(u.Reveal())
	if err != nil || (target.Scheme != "https" && target.Scheme != "http") || target.Host == "" {
		return "", &UploadError{URL: "(the upload URL Astro returned)", Msg: "not an http(s) URL"}
	}
	where := bare(target)
	client := e.HTTP
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Minute}
	}
	size, err := bundle.Seek(0, io.SeekEnd)
	if err != nil {
		return "", err
	}
	var last error
	for attempt := 1; attempt <= uploadAttempts; attempt++ {
		if attempt > 1 {
			if err := e.sleep(ctx, time.Duration(attempt-1)*time.Second); err != nil {
				return "", fmt.Errorf("%w (stopped retrying: %w)", last, err)
			}
		}
		version, retry, err := e.putOnce(ctx, client, target, where, bundle, size)
		if err == nil {
			return version, nil
		}
		last = err
		if !retry {
			break
		}
	}
	return "", last
}

func (e *Engine) putOnce(ctx context.Context, client *http.Client, target *url.URL, where string, bundle *os.File, size int64) (blobVersion string, retry bool, err error) {
	if _, err := bundle.Seek(0, io.SeekStart); err != nil {
		return "", false, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, target.String(), io.NopCloser(bundle))
	if err != nil {
		return "", false, &UploadError{URL: where, Msg: "building the request failed"}
	}
	req.ContentLength = size
	req.Header.Set("x-ms-blob-type", "BlockBlob")
	req.Header.Set("x-ms-version", "2023-11-03")
	req.Header.Set("Content-Type", "application/gzip")
	req.Header.Set("User-Agent", version.UserAgent())
	res, err := client.Do(req)
	if err != nil {
		// *url.Error quotes the URL with its signature: keep only the cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		if ctx.Err() != nil {
			return "", false, &UploadError{URL: where, Msg: "stopped: " + ctx.Err().Error()}
		}
		return "", true, &UploadError{URL: where, Msg: scrubURL(err.Error(), target)}
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	if res.StatusCode == http.StatusCreated || res.StatusCode == http.StatusOK {
		v := res.Header.Get("x-ms-version-id")
		if v == "" {
			return "", false, &UploadError{URL: where, StatusCode: res.StatusCode, Msg: "the answer has no x-ms-version-id, so the deploy cannot be finalized (is blob versioning on?)"}
		}
		return v, false, nil
	}
	transient := res.StatusCode >= 500 || res.StatusCode == http.StatusTooManyRequests
	return "", transient, &UploadError{URL: where, StatusCode: res.StatusCode, Code: res.Header.Get("x-ms-error-code")}
}

// scrubURL removes the query of target from s, raw or escaped.
func scrubURL(s string, target *url.URL) string {
	for _, q := range []string{target.RawQuery, target.Query().Get("sig"), url.QueryEscape(target.Query().Get("sig"))} {
		if len(q) >= 8 {
			s = strings.ReplaceAll(s, q, secret.Redacted)
		}
	}
	return s
}

// ---------------------------------------------------------------------------
// Finalize, with reconciliation

func (e *Engine) finalize(ctx context.Context, depID, deployID, version string) (bool, error) {
	_, err := e.Astro.FinalizeDeploy(ctx, depID, deployID, astro.FinalizeDeployRequest{DagTarballVersion: version})
	if err == nil {
		return false, nil
	}
	if !astro.IsUncertain(err) {
		return false, fmt.Errorf("finalizing deploy %s: %w", deployID, err)
	}
	e.obs().Warn("the answer to finalizing the deploy was lost; reading the deploy back")
	d, gerr := e.Astro.GetDeploy(ctx, depID, deployID)
	if gerr != nil {
		return true, fmt.Errorf("finalizing deploy %s: %w (and reading it back failed: %v)", deployID, err, gerr)
	}
	switch d.Status {
	case astro.DeployDeployed:
		if d.DagTarballVersion != "" && d.DagTarballVersion != version {
			return true, fmt.Errorf("deploy %s was finalized with version %s, not %s", deployID, d.DagTarballVersion, version)
		}
		return true, nil
	case astro.DeployInitialized:
		if _, err := e.Astro.FinalizeDeploy(ctx, depID, deployID, astro.FinalizeDeployRequest{DagTarballVersion: version}); err != nil {
			return true, fmt.Errorf("finalizing deploy %s (second attempt): %w", deployID, err)
		}
		return true, nil
	}
	return true, fmt.Errorf("deploy %s is %s after a finalize whose answer was lost", deployID, d.Status)
}

// ---------------------------------------------------------------------------
// Waiting

// Poll intervals: fast at first (a DAG bundle often lands in seconds),
// then slower, capped.
const (
	firstPoll = time.Second
	maxPoll   = 15 * time.Second
)

func nextPoll(d time.Duration) time.Duration { return min(d*3/2+time.Second/2, maxPoll) }

// waitFor polls the Deployment until it runs version, or a newer deploy
// superseded it, or ctx ends.
func (e *Engine) waitFor(ctx context.Context, depID, version string) (running, superseded bool, err error) {
	for d := firstPoll; ; d = nextPoll(d) {
		dep, err := e.Astro.GetDeployment(ctx, depID)
		if err != nil {
			return false, false, fmt.Errorf("waiting for the DAG bundle %s: %w", version, err)
		}
		switch {
		case dep.DagTarballVersion == version:
			return true, false, nil
		case dep.DesiredDagTarballVersion != "" && dep.DesiredDagTarballVersion != version && dep.DesiredDagTarballVersion > version:
			// Versions are timestamps: a later deploy was finalized.
			e.obs().Warn(fmt.Sprintf("a newer deploy (DAG bundle %s) replaced this one while waiting", dep.DesiredDagTarballVersion))
			return false, true, nil
		}
		if err := e.sleep(ctx, d); err != nil {
			return false, false, fmt.Errorf("the Deployment %s did not report DAG bundle %s before the deadline (it reports %q): %w", depID, version, dep.DagTarballVersion, err)
		}
	}
}

// ---------------------------------------------------------------------------
// Waking

// DefaultWakeFor is how long a wake override lasts when the run does not
// remove it.
const DefaultWakeFor = time.Hour

// wake sets a wake override and waits until the Deployment is awake. The
// returned restore puts back the override that was there before (if one
// was active) or removes ours; it runs even when ctx has ended.
func (e *Engine) wake(ctx context.Context, dep *astro.Deployment, wakeFor time.Duration) (restore func() error, err error) {
	if dep.IsDevelopmentMode == nil || !*dep.IsDevelopmentMode {
		return nil, fmt.Errorf("the Deployment %s (%s) is hibernating but is not a development Deployment, so astro-ci cannot wake it: wake it in the Astro UI", dep.Name, dep.ID)
	}
	var prev *astro.HibernationOverride
	if dep.ScalingSpec != nil && dep.ScalingSpec.HibernationSpec != nil && dep.ScalingSpec.HibernationSpec.Override != nil && dep.ScalingSpec.HibernationSpec.Override.IsActive {
		p := *dep.ScalingSpec.HibernationSpec.Override
		prev = &p
	}
	until := e.now().Add(cmp.Or(wakeFor, DefaultWakeFor))
	if _, err := e.Astro.SetHibernationOverride(ctx, dep.ID, false, &until); err != nil {
		return nil, fmt.Errorf("waking Deployment %s (hibernation override): %w", dep.ID, err)
	}
	e.obs().Step(fmt.Sprintf("woke Deployment %s until %s at the latest", dep.ID, until.UTC().Format(time.RFC3339)))
	restore = func() error {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if prev != nil {
			if _, err := e.Astro.SetHibernationOverride(cctx, dep.ID, prev.IsHibernating, prev.OverrideUntil); err != nil {
				return fmt.Errorf("putting back the hibernation override of Deployment %s failed (ours lapses at %s): %v", dep.ID, until.UTC().Format(time.RFC3339), err)
			}
			return nil
		}
		if err := e.Astro.DeleteHibernationOverride(cctx, dep.ID); err != nil && !astro.IsNotFound(err) {
			return fmt.Errorf("removing the hibernation override of Deployment %s failed (it lapses at %s): %v", dep.ID, until.UTC().Format(time.RFC3339), err)
		}
		return nil
	}
	for d := firstPoll; ; d = nextPoll(d) {
		cur, err := e.Astro.GetDeployment(ctx, dep.ID)
		if err == nil && !cur.IsHibernating() {
			return restore, nil
		}
		if err != nil {
			_ = restore()
			return nil, fmt.Errorf("waiting for Deployment %s to wake: %w", dep.ID, err)
		}
		if err := e.sleep(ctx, d); err != nil {
			_ = restore()
			return nil, fmt.Errorf("the Deployment %s did not wake before the deadline: %w", dep.ID, err)
		}
	}
}

// ---------------------------------------------------------------------------
// The base's image

// BaseImage is what a base Deployment runs.
type BaseImage struct {
	Ref      string // imageRepository:imageTag
	Commit   string // the commit its image was built from; "" when unknown
	DeployID string // the image deploy that recorded Commit
}

// BaseImage finds the base's current image and the commit it was built
// from: the newest DEPLOYED image deploy's git.commitSha (astro-cli records
// git metadata by default).
func (e *Engine) BaseImage(ctx context.Context, baseID string) (BaseImage, error) {
	var (
		wg      sync.WaitGroup
		dep     *astro.Deployment
		ds      []astro.Deploy
		derr, l error
	)
	wg.Go(func() { dep, derr = e.Astro.GetDeployment(ctx, baseID) })
	wg.Go(func() { ds, l = e.Astro.ListDeploys(ctx, baseID) })
	wg.Wait()
	if derr != nil {
		return BaseImage{}, fmt.Errorf("reading the base Deployment %s: %w", baseID, derr)
	}
	var b BaseImage
	if l != nil {
		e.obs().Warn(fmt.Sprintf("listing the deploys of the base Deployment %s failed, so the commit of its image is unknown: %v", baseID, l))
	}
	slices.SortStableFunc(ds, func(a, b astro.Deploy) int { return b.CreatedAt.Compare(a.CreatedAt) })
	var newest *astro.Deploy
	for i := range ds {
		if ds[i].Status == astro.DeployDeployed && ds[i].Type != astro.DeployDAGOnly {
			newest = &ds[i]
			break
		}
	}
	if dep.ImageRepository != "" && dep.ImageTag != "" {
		b.Ref = dep.ImageRepository + ":" + dep.ImageTag
	} else if newest != nil && newest.ImageRepository != "" && newest.ImageTag != "" {
		b.Ref = newest.ImageRepository + ":" + newest.ImageTag
	}
	if newest != nil && newest.Git != nil && (newest.ImageTag == "" || newest.ImageTag == dep.ImageTag || dep.ImageTag == "") {
		b.Commit, b.DeployID = newest.Git.CommitSHA, newest.ID
	}
	if b.Ref == "" {
		return b, fmt.Errorf("the base Deployment %s names no image (no imageTag and no image deploy)", baseID)
	}
	return b, nil
}
