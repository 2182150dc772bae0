package astrofake

import (
	"cmp"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Code deploys: the Deploys routes, the hibernation override, and the state
// they share with the blob endpoint (blob.go) and the registry
// (registry.go). Facts from shared/reference/code-deploys.md; what the
// reference leaves open is marked "inferred" here and listed in doc.go.

// deployTypes of CreateDeployRequest.type. BUNDLE is accepted by the
// description but not modelled: the fake answers 400.
var deployTypes = []string{"IMAGE_AND_DAG", "IMAGE_ONLY", "DAG_ONLY", "BUNDLE"}

// codeState is the Server's part for code deploys; guarded by Server.mu.
type codeState struct {
	deploys map[string]*deploy // by id
	reg     *registryState     // built lazily by registry()
	blobSeq int64              // makes every x-ms-version-id unique
}

// depCode is a deployment's part for code deploys.
type depCode struct {
	// The DAG bundle: desired is what the last finalize asked for; the
	// Deployment reports it as dagTarballVersion once DAGDeployAfter has
	// passed since the finalize (readyAt), and until then the one before.
	dagVersion, desiredDagVersion string
	readyAt                       time.Time
	imageVersion                  string
	imageDigest                   string
	override                      *hibernationOverride
}

type hibernationOverride struct {
	isHibernating bool
	until         time.Time // zero: until deleted
}

func (o *hibernationOverride) active(now time.Time) bool {
	return o != nil && (o.until.IsZero() || now.Before(o.until))
}

type deploy struct {
	id, orgID, deploymentID, typ, status, description string
	git                                               *wireDeployGit
	imageRepository, imageTag                         string
	isDagDeploy                                       bool
	runtime                                           string
	sig                                               string    // the SAS signature of the upload URL (a secret)
	sigExpires                                        time.Time // se= of the upload URL
	versions                                          []blobVersion
	dagTarballVersion                                 string
	createdAt, updatedAt                              time.Time
	createdBy, updatedBy                              wireSubject
	seq                                               int64
}

// blobVersion is one PUT of a deploy's DAG tarball.
type blobVersion struct {
	id   string // x-ms-version-id
	data []byte
}

func (s *Server) codeLocked() *codeState {
	if s.code.deploys == nil {
		s.code.deploys = map[string]*deploy{}
	}
	return &s.code
}

// currentDagVersion is what the Deployment runs now.
func (s *Server) currentDagVersion(d *deployment) string {
	if d.code.desiredDagVersion != "" && !s.clock().Before(d.code.readyAt) {
		return d.code.desiredDagVersion
	}
	return d.code.dagVersion
}

// overrideStatus is the status a hibernation override imposes, if any.
// Inferred: an active wake override turns a (seeded) HIBERNATING
// Deployment HEALTHY at once; an active sleep override makes any
// Deployment HIBERNATING.
func (s *Server) overrideStatus(d *deployment) (string, bool) {
	o := d.code.override
	if !o.active(s.clock()) {
		return "", false
	}
	if o.isHibernating {
		return "HIBERNATING", true
	}
	if d.fixedStatus == "HIBERNATING" {
		return "HEALTHY", true
	}
	return "", false
}

func (s *Server) registryHost() string { return cmp.Or(s.regHost, "images.astronomer.cloud") }

func repositoryOf(d *deployment) string { return d.orgID + "/" + d.namespace }

// wireCode fills the code-deploy fields of a rendered Deployment.
func (s *Server) wireCode(d *deployment, w *wireDeployment) {
	w.ImageRepository = s.registryHost() + "/" + repositoryOf(d)
	w.DagTarballVersion = s.currentDagVersion(d)
	w.DesiredDagTarballVersion = d.code.desiredDagVersion
	w.ImageVersion = d.code.imageVersion
	if o := d.code.override; o != nil && w.ScalingSpec != nil && w.ScalingSpec.HibernationSpec != nil {
		active, hib := o.active(s.clock()), o.isHibernating
		wo := &wireHibernationOverride{IsActive: &active, IsHibernating: &hib}
		if !o.until.IsZero() {
			wo.OverrideUntil = ts(o.until)
		}
		w.ScalingSpec.HibernationSpec.Override = wo
	}
}

// canDeploy: whoever may update the Deployment, and Workspace Authors
// ("deploy code", Astro's workspace role table).
func (s *Server) canDeploy(p *principal, d *deployment) bool {
	return s.canUpdateDeployment(p, d) || p.wsRoleIn(d.workspaceID, RoleWorkspaceAuthor)
}

func (s *Server) wireDeploy(dp *deploy, c *call) wireDeploy {
	w := wireDeploy{
		ID: dp.id, DeploymentID: dp.deploymentID, Type: dp.typ, Status: dp.status, Description: dp.description,
		ImageRepository: dp.imageRepository, ImageTag: dp.imageTag, IsDagDeployEnabled: dp.isDagDeploy,
		DagTarballVersion: dp.dagTarballVersion, Git: dp.git,
		AstroRuntimeVersion: dp.runtime, AirflowVersion: airflowVersion(dp.runtime),
		CreatedAt: ts(dp.createdAt), UpdatedAt: ts(dp.updatedAt),
		CreatedBySubject: dp.createdBy, UpdatedBySubject: dp.updatedBy,
	}
	if c != nil && dp.sig != "" {
		w.DagsUploadURL = s.uploadURL(c.r, dp)
	}
	return w
}

// uploadURL points back at this fake's blob endpoint with a SAS-like query
// whose sig is a per-deploy secret (code-deploys.md "For a fake").
func (s *Server) uploadURL(r *http.Request, dp *deploy) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	q := url.Values{}
	q.Set("sv", azureVersion)
	q.Set("sr", "b")
	q.Set("sp", "cw")
	q.Set("se", dp.sigExpires.UTC().Format(time.RFC3339))
	q.Set("sig", dp.sig)
	return scheme + "://" + r.Host + blobPrefix + dp.orgID + "/" + dp.deploymentID + "/" + dp.id + ".tar.gz?" + q.Encode()
}

func (s *Server) lookupDeploy(c *call, d *deployment) (*deploy, bool) {
	dp, ok := s.codeLocked().deploys[c.params["deployId"]]
	return dp, ok && dp.deploymentID == d.id
}

// ---------------------------------------------------------------------------
// ListDeploys, GetDeploy

// listDeploys: creation order, oldest first (inferred: the description
// names no order and no sorts parameter; clients sort by createdAt).
func (s *Server) listDeploys(c *call) (int, any) {
	var fe fieldErrs
	pg := pageParams(c.query, 1000, &fe)
	if len(fe) > 0 {
		return fe.response()
	}
	d, code, body := s.lookupDeployment(c)
	if d == nil {
		return code, body
	}
	if !s.canReadDeployment(c.caller, d) {
		return forbidden()
	}
	list := s.deploysOf(d.id)
	out := wireDeploysPage{Deploys: []wireDeploy{}, Limit: pg.limit, Offset: pg.offset, TotalCount: len(list)}
	for _, dp := range paginate(list, pg) {
		out.Deploys = append(out.Deploys, s.wireDeploy(dp, c))
	}
	return http.StatusOK, out
}

func (s *Server) deploysOf(depID string) []*deploy {
	var list []*deploy
	for _, dp := range s.codeLocked().deploys {
		if dp.deploymentID == depID {
			list = append(list, dp)
		}
	}
	slices.SortFunc(list, func(a, b *deploy) int { return cmp.Compare(a.seq, b.seq) })
	return list
}

func (s *Server) getDeploy(c *call) (int, any) {
	d, code, body := s.lookupDeployment(c)
	if d == nil {
		return code, body
	}
	if !s.canReadDeployment(c.caller, d) {
		return forbidden()
	}
	dp, ok := s.lookupDeploy(c, d)
	if !ok {
		return errorf(http.StatusNotFound, "Deploy not found")
	}
	return http.StatusOK, s.wireDeploy(dp, c)
}

// ---------------------------------------------------------------------------
// CreateDeploy

func validateGit(fe *fieldErrs, g *wireDeployGitReq) *wireDeployGit {
	if g == nil {
		return nil
	}
	if str(g.CommitSha) == "" {
		fe.add("git.commitSha", "required", "git.commitSha is required")
	}
	switch str(g.Provider) {
	case "GITHUB":
		if str(g.Account) == "" || str(g.Repo) == "" {
			fe.add("git.account", "required", "git.account and git.repo are required for provider GITHUB")
		}
		if str(g.RemoteURL) != "" {
			fe.add("git.remoteUrl", "excluded", "git.remoteUrl must be empty for provider GITHUB")
		}
	case "GENERIC":
		if str(g.RemoteURL) == "" {
			fe.add("git.remoteUrl", "required", "git.remoteUrl is required for provider GENERIC")
		}
		if str(g.Account) != "" || str(g.Repo) != "" {
			fe.add("git.account", "excluded", "git.account and git.repo must be empty for provider GENERIC")
		}
	case "":
		fe.add("git.provider", "required", "git.provider is required")
	default:
		fe.add("git.provider", "oneof", "git.provider must be one of GITHUB, GENERIC")
	}
	return &wireDeployGit{
		Account: str(g.Account), AuthorName: str(g.AuthorName), AuthorURL: str(g.AuthorURL),
		AuthorUsername: str(g.AuthorUsername), BeforeCommitSha: str(g.BeforeCommitSha), Branch: str(g.Branch),
		CommitSha: str(g.CommitSha), CommitURL: str(g.CommitURL), Path: str(g.Path), Provider: str(g.Provider),
		RemoteURL: str(g.RemoteURL), Repo: str(g.Repo),
	}
}

// uploadURLLifetime is how long a dagsUploadUrl accepts a PUT (inferred:
// the SAS expiry of the real URL is not documented).
const uploadURLLifetime = time.Hour

func (s *Server) createDeploy(c *call) (int, any) {
	var req wireCreateDeployReq
	if code, body, ok := decodeBody(c, &req); !ok {
		return code, body
	}
	var fe fieldErrs
	if req.Type == nil {
		fe.add("type", "required", "type is required")
	}
	enumCheck(&fe, "type", req.Type, deployTypes)
	if utf8.RuneCountInString(str(req.Description)) > 500 {
		fe.add("description", "max", "description must be at most 500 characters")
	}
	git := validateGit(&fe, req.Git)
	if len(fe) > 0 {
		return fe.response()
	}
	d, code, body := s.lookupDeployment(c)
	if d == nil {
		return code, body
	}
	if !s.canReadDeployment(c.caller, d) {
		return errorf(http.StatusNotFound, "Deployment not found")
	}
	if !s.canDeploy(c.caller, d) {
		return forbidden()
	}
	typ := *req.Type
	switch {
	case typ == "BUNDLE":
		return badRequest("type", "unsupported", "BUNDLE deploys are not supported by this fake")
	case typ == "DAG_ONLY" && !d.isDagDeploy:
		// The server's words, as astro-cli reports them (code-deploys.md A.1).
		return badRequest("type", "dag_deploy_disabled", "dag deploy is not enabled for deployment")
	case typ == "IMAGE_ONLY" && d.isDagDeploy && s.currentDagVersion(d) == "" && d.code.desiredDagVersion == "":
		// Docs: an image-only deploy needs a DAG bundle deployed before.
		return badRequest("type", "no_dag_bundle", "an IMAGE_ONLY deploy needs a DAG deploy first: use IMAGE_AND_DAG")
	case s.status(d) == "HIBERNATING":
		// Inferred: a hibernating Deployment refuses deploys at create.
		return badRequest("deploymentId", "hibernating", "Deployment is hibernating: wake it (hibernation override) before deploying")
	}
	now := s.clock()
	dp := &deploy{
		id: s.newID(), orgID: d.orgID, deploymentID: d.id, typ: typ, status: "INITIALIZED", description: str(req.Description),
		git: git, imageRepository: s.registryHost() + "/" + repositoryOf(d), imageTag: d.imageTag,
		isDagDeploy: d.isDagDeploy, runtime: d.runtime,
		createdAt: now, updatedAt: now, createdBy: callerSubject(c.caller), updatedBy: callerSubject(c.caller),
		seq: s.nextSeq(),
	}
	if typ != "DAG_ONLY" {
		// A new tag to push the image to; unique within the minute too.
		dp.imageTag = imageTagFor(now) + "-" + s.randBase36(6)
	}
	if d.isDagDeploy && typ != "IMAGE_ONLY" {
		dp.sig = s.randBase36(43)
		dp.sigExpires = now.Add(uploadURLLifetime)
	}
	s.codeLocked().deploys[dp.id] = dp
	return http.StatusOK, s.wireDeploy(dp, c)
}

// ---------------------------------------------------------------------------
// UpdateDeploy: only the description changes (code-deploys.md Common).

func (s *Server) updateDeploy(c *call) (int, any) {
	var req wireUpdateDeployReq
	if code, body, ok := decodeBody(c, &req); !ok {
		return code, body
	}
	if utf8.RuneCountInString(str(req.Description)) > 500 {
		return badRequest("description", "max", "description must be at most 500 characters")
	}
	d, code, body := s.lookupDeployment(c)
	if d == nil {
		return code, body
	}
	if !s.canDeploy(c.caller, d) {
		return forbidden()
	}
	dp, ok := s.lookupDeploy(c, d)
	if !ok {
		return errorf(http.StatusNotFound, "Deploy not found")
	}
	dp.description = str(req.Description)
	dp.updatedAt, dp.updatedBy = s.clock(), callerSubject(c.caller)
	return http.StatusOK, s.wireDeploy(dp, c)
}

// ---------------------------------------------------------------------------
// FinalizeDeploy

// finalizeDeploy applies a deploy. The description declares no 404 for
// this operation, so unknown ids are 400 (inferred). A deploy is finalized
// once: a second finalize is 400 (inferred). The version must be one the
// deploy's upload URL received (inferred: Astro checks the blob exists);
// an image deploy needs its tag pushed ("Cannot get digest for image",
// code-deploys.md B.5; a 400 here, inferred).
func (s *Server) finalizeDeploy(c *call) (int, any) {
	var req wireFinalizeDeployReq
	if code, body, ok := decodeBody(c, &req); !ok {
		return code, body
	}
	d, _, _ := s.lookupDeployment(c)
	if d == nil || !s.canReadDeployment(c.caller, d) {
		return badRequest("deploymentId", "not_found", "Deployment not found")
	}
	if !s.canDeploy(c.caller, d) {
		return forbidden()
	}
	dp, ok := s.lookupDeploy(c, d)
	if !ok {
		return badRequest("deployId", "not_found", "Deploy not found")
	}
	if dp.status != "INITIALIZED" {
		return badRequest("deployId", "finalized", "deploy %s is already %s", dp.id, dp.status)
	}
	version := str(req.DagTarballVersion)
	dags := dp.typ != "IMAGE_ONLY" && dp.isDagDeploy
	if dags {
		if version == "" {
			return badRequest("dagTarballVersion", "required", "dagTarballVersion is required for a %s deploy on a Deployment with DAG deploys enabled", dp.typ)
		}
		if !slices.ContainsFunc(dp.versions, func(v blobVersion) bool { return v.id == version }) {
			return badRequest("dagTarballVersion", "not_found", "no DAG tarball with version %s was uploaded for this deploy", version)
		}
	}
	var digest string
	if dp.typ != "DAG_ONLY" {
		dg, ok := s.registry().manifestDigest(repositoryOf(d), dp.imageTag)
		if !ok {
			return badRequest("imageTag", "not_found", "Cannot get digest for image %s:%s", dp.imageRepository, dp.imageTag)
		}
		digest = dg
	}
	now := s.clock()
	if dags {
		d.code.dagVersion = s.currentDagVersion(d)
		d.code.desiredDagVersion = version
		d.code.readyAt = now.Add(s.dagDeployAfter)
		dp.dagTarballVersion = version
	}
	if digest != "" {
		d.imageTag, d.code.imageVersion, d.code.imageDigest = dp.imageTag, dp.imageTag, digest
	}
	dp.status = "DEPLOYED"
	dp.updatedAt, dp.updatedBy = now, callerSubject(c.caller)
	return http.StatusOK, s.wireDeploy(dp, c)
}

// ---------------------------------------------------------------------------
// Hibernation override

// setHibernationOverride: development Deployments only (hibernation is a
// development-mode feature, astro-api.md §4.7); overrideUntil must lie in
// the future (inferred).
func (s *Server) setHibernationOverride(c *call) (int, any) {
	var req wireOverrideReq
	if code, body, ok := decodeBody(c, &req); !ok {
		return code, body
	}
	if req.IsHibernating == nil {
		return badRequest("isHibernating", "required", "isHibernating is required")
	}
	var until time.Time
	if u := str(req.OverrideUntil); u != "" {
		t, err := time.Parse(time.RFC3339, u)
		if err != nil {
			return badRequest("overrideUntil", "datetime", "overrideUntil must be a date-time such as 2026-01-02T15:04:05Z")
		}
		if !t.After(s.clock()) {
			return badRequest("overrideUntil", "future", "overrideUntil must be in the future")
		}
		until = t.UTC().Truncate(time.Second)
	}
	d, code, body := s.lookupDeployment(c)
	if d == nil {
		return code, body
	}
	if !s.canUpdateDeployment(c.caller, d) {
		return forbidden()
	}
	if !d.isDev {
		return badRequest("deploymentId", "development", "hibernation overrides are available only for development-mode Deployments (isDevelopmentMode)")
	}
	d.code.override = &hibernationOverride{isHibernating: *req.IsHibernating, until: until}
	active := true
	out := wireHibernationOverride{IsActive: &active, IsHibernating: req.IsHibernating}
	if !until.IsZero() {
		out.OverrideUntil = ts(until)
	}
	return http.StatusOK, out
}

// deleteHibernationOverride: 204, or 404 when there is none (inferred, as
// for every repeated DELETE of the API).
func (s *Server) deleteHibernationOverride(c *call) (int, any) {
	d, code, body := s.lookupDeployment(c)
	if d == nil {
		return code, body
	}
	if !s.canUpdateDeployment(c.caller, d) {
		return forbidden()
	}
	if d.code.override == nil {
		return errorf(http.StatusNotFound, "Deployment has no hibernation override")
	}
	d.code.override = nil
	return http.StatusNoContent, nil
}

// ---------------------------------------------------------------------------
// Seeding and inspection

// SeedDeploy describes a finished deploy for AddDeploy: the history a base
// Deployment has before astro-ci looks at it.
type SeedDeploy struct {
	Type        string // default IMAGE_AND_DAG
	Description string
	CommitSHA   string // git.commitSha; empty: no git metadata
	Branch      string
	CreatedAt   time.Time // zero = now
}

// AddDeploy records a DEPLOYED deploy of a deployment and returns its id.
func (s *Server) AddDeploy(deploymentID string, sd SeedDeploy) string {
	id := s.newID()
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.deployments[deploymentID]
	if !ok {
		panic(fmt.Sprintf("astrofake: AddDeploy: unknown deployment %q", deploymentID))
	}
	created := sd.CreatedAt.UTC().Truncate(time.Second)
	if sd.CreatedAt.IsZero() {
		created = s.clock()
	}
	dp := &deploy{
		id: id, orgID: d.orgID, deploymentID: d.id, typ: cmp.Or(sd.Type, "IMAGE_AND_DAG"), status: "DEPLOYED",
		description: sd.Description, imageRepository: s.registryHost() + "/" + repositoryOf(d), imageTag: d.imageTag,
		isDagDeploy: d.isDagDeploy, runtime: d.runtime, createdAt: created, updatedAt: created,
		createdBy: s.seedUser, updatedBy: s.seedUser, seq: s.nextSeq(),
	}
	if sd.CommitSHA != "" {
		dp.git = &wireDeployGit{Provider: "GENERIC", CommitSha: sd.CommitSHA, Branch: sd.Branch, RemoteURL: "https://git.example.invalid/repo.git"}
	}
	s.codeLocked().deploys[id] = dp
	return id
}

// DeployInfo is an exported copy of a deploy's state. Tarball is the
// content of the finalized version (nil before finalize).
type DeployInfo struct {
	ID, DeploymentID, Type, Status, Description string
	ImageRepository, ImageTag                   string
	DagTarballVersion                           string
	CommitSHA, Branch                           string
	Uploads                                     int // PUTs the upload URL received
	Tarball                                     []byte
	CreatedAt                                   time.Time
}

// Deploys lists the deploys of a deployment, oldest first.
func (s *Server) Deploys(deploymentID string) []DeployInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []DeployInfo
	for _, dp := range s.deploysOf(deploymentID) {
		di := DeployInfo{
			ID: dp.id, DeploymentID: dp.deploymentID, Type: dp.typ, Status: dp.status, Description: dp.description,
			ImageRepository: dp.imageRepository, ImageTag: dp.imageTag, DagTarballVersion: dp.dagTarballVersion,
			Uploads: len(dp.versions), CreatedAt: dp.createdAt,
		}
		if dp.git != nil {
			di.CommitSHA, di.Branch = dp.git.CommitSha, dp.git.Branch
		}
		for _, v := range dp.versions {
			if v.id == dp.dagTarballVersion {
				di.Tarball = slices.Clone(v.data)
			}
		}
		out = append(out, di)
	}
	return out
}

// CodeInfo is what a deployment runs: its DAG bundle and image.
type CodeInfo struct {
	DagTarballVersion, DesiredDagTarballVersion string
	ImageRepository, ImageTag, ImageDigest      string
	HibernationOverride                         bool // an override is set (active or not)
}

// Code returns what deployment id runs.
func (s *Server) Code(id string) (CodeInfo, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.deployments[id]
	if !ok {
		return CodeInfo{}, false
	}
	return CodeInfo{
		DagTarballVersion: s.currentDagVersion(d), DesiredDagTarballVersion: d.code.desiredDagVersion,
		ImageRepository: s.registryHost() + "/" + repositoryOf(d), ImageTag: d.imageTag, ImageDigest: d.code.imageDigest,
		HibernationOverride: d.code.override != nil,
	}, true
}

// deploymentByRepository finds the live deployment whose image repository
// is repo ("<org>/<namespace>").
func (s *Server) deploymentByRepository(repo string) *deployment {
	org, ns, ok := strings.Cut(repo, "/")
	if !ok {
		return nil
	}
	for _, d := range s.deployments {
		if !d.deleted && d.orgID == org && d.namespace == ns {
			return d
		}
	}
	return nil
}

// snapCode is the code-deploy state of one deployment in Snapshot: its
// deploys (upload signatures hashed, tarballs by digest) and what it runs.
type snapCode struct {
	DeploymentID                           string
	DagVersion, DesiredDagVersion, ReadyAt string
	ImageVersion, ImageDigest              string
	Override                               *snapOverride `json:",omitempty"`
	Deploys                                []snapDeploy
}

type snapOverride struct {
	IsHibernating bool
	Until         snapTime
}

type snapDeploy struct {
	ID, Type, Status, Description, ImageTag, DagTarballVersion string
	CommitSHA, SigSHA256                                       string
	Versions                                                   []string // id=sha256 of the content
	CreatedAt, UpdatedAt                                       snapTime
}

// snapCodeLocked renders every deployment that has code-deploy state,
// sorted by deployment id.
func (s *Server) snapCodeLocked() []snapCode {
	var out []snapCode
	for _, d := range s.sortedDeployments() {
		c := d.code
		deploys := s.deploysOf(d.id)
		if len(deploys) == 0 && c == (depCode{}) {
			continue
		}
		sc := snapCode{DeploymentID: d.id, DagVersion: c.dagVersion, DesiredDagVersion: c.desiredDagVersion,
			ReadyAt: string(st(c.readyAt)), ImageVersion: c.imageVersion, ImageDigest: c.imageDigest}
		if c.override != nil {
			sc.Override = &snapOverride{IsHibernating: c.override.isHibernating, Until: st(c.override.until)}
		}
		for _, dp := range deploys {
			sd := snapDeploy{ID: dp.id, Type: dp.typ, Status: dp.status, Description: dp.description, ImageTag: dp.imageTag,
				DagTarballVersion: dp.dagTarballVersion, CreatedAt: st(dp.createdAt), UpdatedAt: st(dp.updatedAt)}
			if dp.git != nil {
				sd.CommitSHA = dp.git.CommitSha
			}
			if dp.sig != "" {
				sd.SigSHA256 = sha(dp.sig)
			}
			for _, v := range dp.versions {
				sd.Versions = append(sd.Versions, v.id+"="+sha(string(v.data)))
			}
			sc.Deploys = append(sc.Deploys, sd)
		}
		out = append(out, sc)
	}
	return out
}
