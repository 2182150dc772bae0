package preview

// # Previews with code
//
// A preview runs the branch's code (code-deploys.md B and C). After the
// preview exists (Create step 2), and beside its token (step 4):
//
//   - a preview this run created gets the base's current image, copied
//     registry to registry with the same digest, and the project's DAG
//     folder, in one IMAGE_AND_DAG deploy (Mode auto or image-and-dags);
//   - a preview that existed gets the DAG folder alone, a DAG_ONLY deploy
//     (auto or dags): its image stays what it was — unless it never got
//     one (the run that created it stopped before its image deploy): then
//     auto gives it the base's image now;
//   - a project without a DAG folder gets nothing (auto);
//   - a hibernating preview is woken for the deploy and put back after.
//
// Previews are created with DAG deploys on (CopyRequest): with them off the
// base's DAGs are baked into its image, so a copied image would run the
// base's DAGs, and DAG-only deploys would be refused. An older preview
// without them gets them turned on when code is deployed to it.
//
// A DAG deploy cannot change the image. When files outside the DAG folder
// changed between the commit the base's image was built from (its newest
// image deploy's git.commitSha; else the merge base with the base branch)
// and the checkout's head, the preview runs an image without them:
// ImageBuildRequired is true, a warning names the files and the command a
// job with Docker runs to build and deploy the image, and the DAGs are
// deployed anyway.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/astro-ci/astro-ci/internal/astro"
	"github.com/astro-ci/astro-ci/internal/deploy"
	"github.com/astro-ci/astro-ci/internal/gitmeta"
	"github.com/astro-ci/astro-ci/internal/report/echo"
)

// Deploy modes (CodeRequest.Mode, preview create --deploy).
const (
	DeployAuto         = "auto"
	DeployNone         = "none"
	DeployDAGs         = "dags"
	DeployImageAndDAGs = "image-and-dags"
)

// DeployModes lists the modes, in documentation order.
var DeployModes = []string{DeployAuto, DeployNone, DeployDAGs, DeployImageAndDAGs}

// Deployer puts code into Deployments; *deploy.Engine has it.
type Deployer interface {
	DAGDeploy(ctx context.Context, req deploy.Request) (deploy.Result, error)
	ImageAndDAGDeploy(ctx context.Context, req deploy.Request, sourceImage string) (deploy.Result, error)
	BaseImage(ctx context.Context, baseID string) (deploy.BaseImage, error)
}

var _ Deployer = (*deploy.Engine)(nil)

// ChangeFinder compares a checkout with a commit; gitmeta.Git has it.
type ChangeFinder interface {
	ChangedOutsideDags(ctx context.Context, dir string, c gitmeta.Compare) (gitmeta.Changes, error)
}

var _ ChangeFinder = gitmeta.Git{}

// CodeRequest is the code a preview gets.
type CodeRequest struct {
	Mode       string // DeployAuto (default), DeployDAGs, DeployImageAndDAGs; DeployNone deploys nothing
	ProjectDir string // the Astro project; default the working directory
	DagsPath   string // the DAG folder, relative to ProjectDir; default "dags"
	Git        gitmeta.Meta
	// MergeBaseWith is the base branch's ref ("origin/main"), compared
	// with when the commit of the base's image is unknown.
	MergeBaseWith string
	// Wait waits until the preview runs the new DAG bundle.
	Wait bool
}

// CodeResult is what the code deploy did.
type CodeResult struct {
	Mode string `json:"mode"`
	// Action: image-and-dags, dags, none, failed; would-deploy-image-and-dags
	// and would-deploy-dags on a dry run.
	Action            string `json:"action"`
	Reason            string `json:"reason,omitempty"`
	DeployID          string `json:"deployId,omitempty"`
	DagTarballVersion string `json:"dagTarballVersion,omitempty"`
	Commit            string `json:"commit,omitempty"`
	Files             int    `json:"files,omitempty"`
	Bytes             int64  `json:"bytes,omitempty"`
	Image             string `json:"image,omitempty"`
	ImageDigest       string `json:"imageDigest,omitempty"`
	Woken             bool   `json:"woken,omitempty"`
	Running           bool   `json:"running,omitempty"`
	BaseImage         string `json:"baseImage,omitempty"`
	BaseImageCommit   string `json:"baseImageCommit,omitempty"`
	// ImageBuildRequired: files outside the DAG folder changed since the
	// base's image was built; null when astro-ci could not tell.
	ImageBuildRequired *bool    `json:"imageBuildRequired"`
	ComparedWith       string   `json:"comparedWith,omitempty"` // the commit compared with
	ChangedPaths       []string `json:"changedPaths,omitempty"`
	BuildCommand       string   `json:"buildCommand,omitempty"`
}

func (c *CodeRequest) mode() string {
	if c.Mode == "" {
		return DeployAuto
	}
	return c.Mode
}

func (c *CodeRequest) projectDir() string {
	if c.ProjectDir == "" {
		return "."
	}
	return c.ProjectDir
}

// dagsRel is the DAG folder relative to the project, with forward slashes.
func (c *CodeRequest) dagsRel() string {
	if c.DagsPath == "" {
		return "dags"
	}
	return filepath.ToSlash(filepath.Clean(c.DagsPath))
}

func (c *CodeRequest) dagsDir() string {
	return filepath.Join(c.projectDir(), filepath.FromSlash(c.dagsRel()))
}

// CheckCode refuses a CodeRequest that cannot work, before anything happens.
func CheckCode(c *CodeRequest) error {
	if c == nil {
		return nil
	}
	switch c.mode() {
	case DeployAuto, DeployNone, DeployDAGs, DeployImageAndDAGs:
	default:
		return fmt.Errorf("--deploy must be one of %s, not %s", strings.Join(DeployModes, ", "), echo.Quote(c.Mode))
	}
	rel := c.dagsRel()
	if filepath.IsAbs(c.DagsPath) || rel == ".." || strings.HasPrefix(rel, "../") {
		return fmt.Errorf("--dags-path %s must be a folder inside --project-dir (a relative path such as dags)", echo.Quote(c.DagsPath))
	}
	return nil
}

// hasDags reports whether the project has its DAG folder.
func (c *CodeRequest) hasDags() bool {
	fi, err := os.Stat(c.dagsDir())
	return err == nil && fi.IsDir()
}

// plan is what the code step will do for a preview that is new (fresh) or
// not: "image-and-dags", "dags" or "" (nothing), with the reason for
// nothing.
func (c *CodeRequest) plan(fresh bool) (string, string) {
	switch m := c.mode(); {
	case m == DeployNone:
		return "", "--deploy none"
	case !c.hasDags() && m == DeployAuto:
		return "", fmt.Sprintf("the project has no DAG folder %s", c.dagsRel())
	case m == DeployImageAndDAGs, m == DeployAuto && fresh:
		return DeployImageAndDAGs, ""
	default:
		return DeployDAGs, ""
	}
}

// planCode is the dry run's CodeResult.
func planCode(c *CodeRequest, fresh bool) *CodeResult {
	if c == nil {
		return nil
	}
	res := &CodeResult{Mode: c.mode(), Action: "none"}
	what, why := c.plan(fresh)
	if what != "" {
		res.Action = "would-deploy-" + what
	}
	res.Reason = why
	return res
}

// deployCode puts the branch's code into preview d of base (fresh: this
// run created it). Its steps:
//
//  1. Decide what to deploy: the image and the DAGs to a new preview, the
//     DAGs alone to an existing one, nothing without a DAG folder.
//  2. Find the base's image and the commit it was built from, then compare
//     that commit with the checkout; beside the deploy, which needs the
//     base's image only for a new preview.
//  3. Deploy (waking a hibernating preview), and say whether the preview
//     needs an image build.
func (e *Engine) deployCode(ctx context.Context, base, d *astro.Deployment, fresh bool, c *CodeRequest) (*CodeResult, error) {
	res := &CodeResult{Mode: c.mode(), Action: "none", Commit: c.Git.CommitSHA}
	// 1.
	what, why := c.plan(fresh)
	if what == "" {
		res.Reason = why
		if c.mode() != DeployNone {
			e.Log.Infof("no code deployed to preview %s: %s", d.Name, why)
		}
		return res, nil
	}
	if e.Code == nil {
		return res, errors.New("preview: no code deployer configured")
	}
	if !c.hasDags() {
		return res, fmt.Errorf("--deploy %s: the project has no DAG folder %s (give --project-dir, or --dags-path relative to it)", c.mode(), c.dagsDir())
	}

	// 2. The base's image (and its commit), then the comparison.
	var (
		bi        deploy.BaseImage
		biErr     error
		ch        gitmeta.Changes
		chErr     error
		baseKnown = make(chan struct{})
		wg        sync.WaitGroup
	)
	wg.Go(func() {
		bi, biErr = e.Code.BaseImage(ctx, base.ID)
		close(baseKnown)
		ch, chErr = e.changes(ctx, c, bi.Commit)
	})
	// An existing preview that never got an image gets one (auto); its
	// deploys are listed beside the base's.
	if what == DeployDAGs && c.mode() == DeployAuto && !fresh {
		switch has, err := e.hasImage(ctx, d.ID); {
		case err != nil:
			e.Log.Warnf("could not tell whether preview %s has the base's image (%v): deploying its DAGs only", d.Name, err)
		case !has:
			e.Log.Infof("preview %s never got the base's image (the run that created it stopped before): it gets it now", d.Name)
			what = DeployImageAndDAGs
		}
	}
	// 3. The deploy.
	req := deploy.Request{DeploymentID: d.ID, DagsDir: c.dagsDir(), Git: c.Git, Wake: true, Wait: c.Wait}
	var dr deploy.Result
	var derr error
	if what == DeployImageAndDAGs {
		<-baseKnown
		if biErr != nil && c.mode() == DeployImageAndDAGs {
			wg.Wait()
			res.Action = "failed"
			return res, fmt.Errorf("--deploy image-and-dags: %w", biErr)
		}
		if biErr != nil {
			e.Log.Warnf("%v: new preview %s gets the DAGs only, on Astro Runtime's own image", biErr, d.Name)
			what = DeployDAGs
		}
	}
	if what == DeployImageAndDAGs {
		dr, derr = e.Code.ImageAndDAGDeploy(ctx, req, bi.Ref)
	} else {
		dr, derr = e.Code.DAGDeploy(ctx, req)
	}
	wg.Wait()
	res.BaseImage, res.BaseImageCommit = bi.Ref, bi.Commit
	res.DeployID, res.DagTarballVersion, res.Files, res.Bytes = dr.DeployID, dr.DagTarballVersion, dr.Files, dr.Bytes
	res.Image, res.ImageDigest, res.Woken, res.Running = dr.Image, dr.ImageDigest, dr.Woken, dr.Running
	e.imageBuild(res, c, d, ch, chErr)
	if derr != nil {
		res.Action = "failed"
		return res, fmt.Errorf("deploying the branch's code to preview %s: %w", d.Name, derr)
	}
	res.Action = what
	if what == DeployImageAndDAGs {
		e.Log.Infof("preview %s runs a copy of the base's image %s (%s) and the branch's DAGs (%d files, DAG bundle %s)", d.Name, bi.Ref, dr.ImageDigest, dr.Files, dr.DagTarballVersion)
	} else {
		e.Log.Infof("deployed the branch's DAGs to preview %s: %d files, DAG bundle %s", d.Name, dr.Files, dr.DagTarballVersion)
	}
	return res, nil
}

// hasImage reports whether preview id runs an image deployed to it (a
// DEPLOYED image deploy), as every preview astro-ci made since it deploys
// code does.
func (e *Engine) hasImage(ctx context.Context, id string) (bool, error) {
	ds, err := e.Astro.ListDeploys(ctx, id)
	if err != nil {
		return false, err
	}
	for _, d := range ds {
		if d.Status == astro.DeployDeployed && d.Type != astro.DeployDAGOnly {
			return true, nil
		}
	}
	return false, nil
}

// changes compares the checkout with the base's image commit (or the
// merge base with the base branch).
func (e *Engine) changes(ctx context.Context, c *CodeRequest, imageCommit string) (gitmeta.Changes, error) {
	g := e.Git
	if g == nil {
		g = gitmeta.Git{}
	}
	return g.ChangedOutsideDags(ctx, c.projectDir(), gitmeta.Compare{ImageCommit: imageCommit, MergeBaseWith: c.MergeBaseWith, DagsDir: c.dagsRel()})
}

// maxNamed bounds the changed paths a warning names.
const maxNamed = 5

// imageBuild records whether preview d needs an image build, and warns
// when it does (or when that cannot be told).
func (e *Engine) imageBuild(res *CodeResult, c *CodeRequest, d *astro.Deployment, ch gitmeta.Changes, err error) {
	if err != nil {
		e.Log.Warnf("cannot tell whether preview %s needs an image build: %v", d.Name, err)
		return
	}
	need := ch.ImageBuildRequired()
	res.ImageBuildRequired, res.ComparedWith, res.ChangedPaths = &need, ch.Base, ch.Paths
	if !need {
		return
	}
	res.BuildCommand = buildCommand(c.projectDir(), d.ID)
	named := ch.Paths[:min(len(ch.Paths), maxNamed)]
	more := ""
	if n := len(ch.Paths) - len(named); n > 0 || ch.Truncated {
		more = fmt.Sprintf(" and %d more", max(n, 1))
	}
	e.Log.Warnf("image build required: %s%s changed since the %s %s, and preview %s runs the base's image, without them (its DAGs are the branch's). "+
		"Build and deploy the branch's image from a job with Docker and the Astro CLI: %s", strings.Join(quoteAll(named), ", "), more, ch.BaseIs, short(ch.Base), d.Name, res.BuildCommand)
}

// buildCommand is what a job with Docker runs to build and deploy the
// project's image to preview id.
func buildCommand(dir, id string) string {
	if filepath.Clean(dir) == "." {
		return "astro deploy " + id
	}
	return "cd '" + strings.ReplaceAll(dir, "'", `'\''`) + "' && astro deploy " + id
}

func quoteAll(ps []string) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = echo.Quote(p)
	}
	return out
}

func short(sha string) string { return sha[:min(len(sha), 12)] }
