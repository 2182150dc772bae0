// Package sandbox serves the fakes of the Astro, GitHub and GitLab APIs on
// one local listener, seeded with an organization to play with, for the demo,
// the real-runner tests and anyone trying astro-ci without credentials.
package sandbox

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/random"

	"github.com/astro-ci/astro-ci/internal/astrofake"
	"github.com/astro-ci/astro-ci/internal/githubfake"
	"github.com/astro-ci/astro-ci/internal/gitlabfake"
)

// Seed ids are fixed so that scripts and docs can name them.
const (
	OrgID        = "clsandboxorg0000000000001"
	WorkspaceID  = "clsandboxws00000000000001"
	DeploymentID = "clsandboxdep0000000000001"
)

// GitHub seeds: the repository of the demo and its fine-grained PAT.
const (
	GitHubOwner = "acme"
	GitHubRepo  = "airflow-dags"
)

// Sandbox holds the fakes.
type Sandbox struct {
	Astro  *astrofake.Server
	GitHub *githubfake.Server
	GitLab *gitlabfake.Server
	// Env is what to export to point astro-ci at the sandbox; it holds the
	// seeded tokens' values (fake credentials, valid only here).
	Env map[string]string
	mux *http.ServeMux
	now func() time.Time
}

// Options for New.
type Options struct {
	Now func() time.Time
	// DeploymentReadyAfter: how long new Deployments stay CREATING.
	DeploymentReadyAfter time.Duration
	// DAGDeployAfter: how long after a finalize a Deployment reports the
	// new DAG bundle. 0: at once.
	DAGDeployAfter time.Duration
	// BaseImageCommit is the commit the seeded base's image was built from
	// (its image deploy's git.commitSha); "" records none.
	BaseImageCommit string
	// OrphanPreview seeds a preview of production for the branch
	// feature/abandoned, created three days ago, whose branch the GitHub
	// repository does not have: what a missed delete event leaves.
	OrphanPreview bool
}

// OrphanBranch is the branch of Options.OrphanPreview.
const OrphanBranch = "feature/abandoned"

// New builds and seeds the sandbox. baseURL is where it will be served
// (http://127.0.0.1:PORT), used in the printed environment.
func New(baseURL string, o Options) *Sandbox {
	if o.Now == nil {
		o.Now = time.Now
	}
	ready := o.DeploymentReadyAfter
	if ready == 0 {
		ready = 3 * time.Second
	}
	// The registry is reached where the sandbox is served: imageRepository
	// values name it, and image copies go there (basic auth: cli and an
	// Astro token of the organization).
	regHost := ""
	if u, err := url.Parse(baseURL); err == nil {
		regHost = u.Host
	}
	a := astrofake.New(astrofake.Options{Now: o.Now, DeploymentReadyAfter: ready, DAGDeployAfter: o.DAGDeployAfter, RegistryHost: regHost})
	gh := githubfake.New(githubfake.Options{Now: o.Now})
	gl := gitlabfake.New(gitlabfake.Options{Now: o.Now})
	s := &Sandbox{Astro: a, GitHub: gh, GitLab: gl, Env: map[string]string{}, mux: http.NewServeMux(), now: o.Now}
	s.seed(baseURL, o.BaseImageCommit)
	if o.OrphanPreview {
		s.seedOrphan()
	}
	s.seedGitHub(baseURL)
	s.seedGitLab(baseURL)
	// Served like self-managed GitLab: CI_API_V4_URL=<base>/gitlab/api/v4.
	s.mux.Handle("/gitlab/", http.StripPrefix("/gitlab", gl))
	// The Astro API, its registry (/v2/) and its DAG upload endpoint.
	s.mux.Handle("/v1/", a)
	s.mux.Handle("/v2/", a)
	s.mux.Handle("/v2", a)
	s.mux.Handle("/astrofake-blob/", a)
	// Served like GitHub Enterprise Server: GITHUB_API_URL=<base>/github/api/v3.
	s.mux.Handle("/github/", http.StripPrefix("/github", gh))
	s.mux.HandleFunc("GET /_sandbox/state", s.state)
	s.mux.HandleFunc("POST /_sandbox/authenticates", s.authenticates)
	s.mux.HandleFunc("PUT /_sandbox/github/branches/{branch...}", s.branch)
	s.mux.HandleFunc("DELETE /_sandbox/github/branches/{branch...}", s.branch)
	return s
}

// branch adds (PUT) or deletes (DELETE) a branch of the seeded GitHub
// repository, as a push or a merged pull request would.
func (s *Sandbox) branch(w http.ResponseWriter, r *http.Request) {
	b := r.PathValue("branch")
	if b == "" || len(b) > 255 {
		http.Error(w, "a branch name, at most 255 bytes", http.StatusBadRequest)
		return
	}
	if r.Method == http.MethodDelete {
		s.GitHub.DeleteBranch(GitHubOwner, GitHubRepo, b)
	} else {
		sum := sha256.Sum256([]byte(b))
		s.GitHub.AddBranch(GitHubOwner, GitHubRepo, b, hex.EncodeToString(sum[:20]))
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Sandbox) seed(baseURL, imageCommit string) {
	a := s.Astro
	a.AddOrganization(OrgID, "Sandbox Org")
	a.AddWorkspace(OrgID, WorkspaceID, "data-platform")
	a.AddDeployment(astrofake.SeedDeployment{
		ID: DeploymentID, Name: "production", WorkspaceID: WorkspaceID, Type: "STANDARD",
		CloudProvider: "AWS", Region: "us-east-1", AstroRuntimeVersion: "13.1.0", Executor: "CELERY",
		SchedulerSize: "SMALL", IsCicdEnforced: true, IsDagDeployEnabled: true,
		DefaultTaskPodCPU: "0.5", DefaultTaskPodMemory: "1Gi", ResourceQuotaCPU: "10", ResourceQuotaMemory: "20Gi",
		WorkerQueues:         []astrofake.WorkerQueue{{Name: "default", IsDefault: true, AstroMachine: "A5", MinWorkerCount: 0, MaxWorkerCount: 5, WorkerConcurrency: 10}},
		HibernationSchedules: []astrofake.HibernationSchedule{{HibernateAtCron: "0 20 * * 1-5", WakeAtCron: "0 7 * * 1-5", IsEnabled: true}},
		EnvVars:              []astrofake.EnvVar{{Key: "AIRFLOW__CORE__DEFAULT_TIMEZONE", Value: "utc"}, {Key: "WAREHOUSE_PASSWORD", Value: "sandbox-warehouse-pw", IsSecret: true}},
	})
	// production runs a project image (a small random one) from an image
	// deploy, as `astro deploy` leaves it: previews get a copy of it.
	img, err := random.Image(4096, 2)
	if err == nil {
		err = a.PushImage(DeploymentID, img)
	}
	if err != nil {
		panic(fmt.Sprintf("sandbox: seeding production's image: %v", err))
	}
	a.AddDeploy(DeploymentID, astrofake.SeedDeploy{Type: "IMAGE_AND_DAG", Description: "astro deploy", CommitSHA: imageCommit, Branch: "main", CreatedAt: s.now().Add(-24 * time.Hour)})
	now := time.Now()
	adminID, admin := a.MintToken(astrofake.TokenSpec{
		OrgID: OrgID, Name: "astro-ci admin", Description: "the sandbox's CI token",
		Scope: "ORGANIZATION", Role: "ORGANIZATION_OWNER", ExpiryDays: 30, CreatedAt: now.AddDate(0, 0, -21),
	})
	deployID, deploy := a.MintToken(astrofake.TokenSpec{
		OrgID: OrgID, Name: "deploy-bot", Description: "deploys DAGs to production",
		Scope: "WORKSPACE", EntityID: WorkspaceID, Role: "WORKSPACE_OPERATOR", ExpiryDays: 90, CreatedAt: now.AddDate(0, 0, -87),
	})
	s.Env["ASTRO_API_URL"] = baseURL + "/v1"
	s.Env["ASTRO_API_TOKEN"] = admin
	s.Env["ASTRO_SANDBOX_URL"] = baseURL
	s.Env["ASTRO_SANDBOX_ADMIN_TOKEN_ID"] = adminID
	s.Env["ASTRO_SANDBOX_DEPLOY_TOKEN_ID"] = deployID
	s.Env["ASTRO_SANDBOX_DEPLOY_TOKEN"] = deploy
	s.Env["ASTRO_SANDBOX_WORKSPACE_ID"] = WorkspaceID
	s.Env["ASTRO_SANDBOX_DEPLOYMENT_ID"] = DeploymentID
}

// seedOrphan adds a preview as astro-ci makes them (its marker names the
// base and the branch's hash) for a branch that is gone.
func (s *Sandbox) seedOrphan() {
	sum := sha256.Sum256([]byte(OrphanBranch))
	s.Astro.AddDeployment(astrofake.SeedDeployment{
		Name: "preview-feature-abandoned", WorkspaceID: WorkspaceID, IsDagDeployEnabled: true,
		Description: fmt.Sprintf("Preview of production for branch %q, managed by astro-ci. [astro-ci preview base=%s ref=%s]", OrphanBranch, DeploymentID, hex.EncodeToString(sum[:8])),
		CreatedAt:   s.now().Add(-72 * time.Hour),
	})
}

func (s *Sandbox) seedGitHub(baseURL string) {
	gh := s.GitHub
	gh.AddOrg(GitHubOwner)
	gh.AddRepo(GitHubOwner, GitHubRepo, true)
	gh.AddEnvironment(GitHubOwner, GitHubRepo, "production")
	pat := "github_pat_sandbox_" + randomHex(16)
	gh.AddToken(pat, githubfake.TokenPerms{Label: "sandbox PAT", Perms: map[string]string{
		"secrets": "write", "environments": "read", "administration": "write", "organization_secrets": "write", "dependabot_secrets": "write",
		"deployments": "write", "pull_requests": "write", "contents": "read",
	}})
	// The branch of the demo and the tests, and its pull request.
	gh.AddBranch(GitHubOwner, GitHubRepo, "feature/orders-dag", strings.Repeat("0d1a", 10))
	gh.AddPullRequest(GitHubOwner, GitHubRepo, 42)
	s.Env["GITHUB_API_URL"] = baseURL + "/github/api/v3"
	s.Env["ASTRO_CI_GITHUB_TOKEN"] = pat
	s.Env["ASTRO_SANDBOX_GITHUB_REPOSITORY"] = GitHubOwner + "/" + GitHubRepo
}

// GitLab seeds.
const (
	GitLabGroup   = "acme/data"
	GitLabProject = "acme/data/airflow-dags"
)

func (s *Sandbox) seedGitLab(baseURL string) {
	s.GitLab.AddGroup(GitLabGroup)
	id := s.GitLab.AddProject(GitLabProject)
	tok := "glpat-sandbox-" + randomHex(10)
	s.GitLab.AddToken(tok, gitlabfake.TokenPerms{Name: "astro-ci sandbox", Scopes: []string{"api"}, Roles: map[string]int{GitLabGroup: 50}})
	s.Env["CI_API_V4_URL"] = baseURL + "/gitlab/api/v4"
	s.Env["ASTRO_CI_GITLAB_TOKEN"] = tok
	s.Env["ASTRO_SANDBOX_GITLAB_PROJECT"] = GitLabProject
	s.Env["ASTRO_SANDBOX_GITLAB_PROJECT_ID"] = fmt.Sprint(id)
}

// ServeHTTP serves every fake and the sandbox's own inspection routes.
func (s *Sandbox) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// WriteEnv writes the environment as KEY=VALUE lines (a dotenv file that
// `set -a; . file` and docker/--env-file read alike).
func (s *Sandbox) WriteEnv(w io.Writer) error {
	keys := make([]string, 0, len(s.Env))
	for k := range s.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if _, err := fmt.Fprintf(w, "%s=%s\n", k, s.Env[k]); err != nil {
			return err
		}
	}
	return nil
}

// Fingerprint is how the sandbox shows a value: the start of its SHA-256.
func Fingerprint(v string) string {
	sum := sha256.Sum256([]byte(v))
	return "sha256:" + hex.EncodeToString(sum[:6])
}

// State is what /_sandbox/state returns: what each fake holds, values as
// fingerprints only.
type State struct {
	Tokens        []TokenState      `json:"tokens"`
	Deployments   []DeploymentState `json:"deployments"`
	GitHubSecrets []SecretState     `json:"githubSecrets"`
	// GitLabVariables: filled once the GitLab fake is served.
	GitLabVariables []SecretState `json:"gitlabVariables"`
	// GitHubDeployments of the seeded repository.
	GitHubDeployments []GitHubDeploymentState `json:"githubDeployments"`
	// GitHubComments on pull request 42 of the seeded repository.
	GitHubComments []string `json:"githubComments"`
}

// SecretState is one forge secret or variable: where, and a fingerprint of
// its value with the Astro token it authenticates as, if any.
type SecretState struct {
	Scope       string `json:"scope"`
	Name        string `json:"name"`
	Fingerprint string `json:"fingerprint"`
	TokenID     string `json:"tokenId,omitempty"`
	Valid       bool   `json:"valid"`
	Note        string `json:"note,omitempty"`
}

// TokenState is one live Astro token.
type TokenState struct {
	ID          string     `json:"id"`
	Name        string     `json:"name"`
	Description string     `json:"description"`
	Scope       string     `json:"scope"`
	EntityID    string     `json:"entityId,omitempty"`
	ExpiresAt   *time.Time `json:"expiresAt,omitempty"`
	Rotated     bool       `json:"rotated"`
}

// DeploymentState is one Deployment, with the code it runs.
type DeploymentState struct {
	ID                 string        `json:"id"`
	Name               string        `json:"name"`
	Description        string        `json:"description"`
	Status             string        `json:"status"`
	WorkspaceID        string        `json:"workspaceId"`
	IsDagDeployEnabled bool          `json:"isDagDeployEnabled"`
	DagTarballVersion  string        `json:"dagTarballVersion,omitempty"`
	ImageDigest        string        `json:"imageDigest,omitempty"`
	Deploys            []DeployState `json:"deploys,omitempty"`
}

// DeployState is one deploy of a Deployment; Files are the entries of its
// finalized DAG bundle.
type DeployState struct {
	ID                string   `json:"id"`
	Type              string   `json:"type"`
	Status            string   `json:"status"`
	CommitSHA         string   `json:"commitSha,omitempty"`
	Branch            string   `json:"branch,omitempty"`
	DagTarballVersion string   `json:"dagTarballVersion,omitempty"`
	Files             []string `json:"files,omitempty"`
}

// GitHubDeploymentState is one GitHub deployment and its statuses' states,
// oldest first.
type GitHubDeploymentState struct {
	ID             int64    `json:"id"`
	Ref            string   `json:"ref"`
	Environment    string   `json:"environment"`
	States         []string `json:"states"`
	EnvironmentURL string   `json:"environmentUrl,omitempty"`
}

// Snapshot returns the state.
func (s *Sandbox) Snapshot() State {
	var st State
	for _, t := range s.Astro.Tokens() {
		ts := TokenState{ID: t.ID, Name: t.Name, Description: t.Description, Scope: t.Scope, EntityID: t.EntityID, Rotated: !t.LastRotatedAt.IsZero()}
		if !t.EndAt.IsZero() {
			e := t.EndAt
			ts.ExpiresAt = &e
		}
		st.Tokens = append(st.Tokens, ts)
	}
	for _, d := range s.Astro.Deployments() {
		ds := DeploymentState{ID: d.ID, Name: d.Name, Description: d.Description, Status: d.Status, WorkspaceID: d.WorkspaceID, IsDagDeployEnabled: d.IsDagDeployEnabled}
		if c, ok := s.Astro.Code(d.ID); ok {
			ds.DagTarballVersion, ds.ImageDigest = c.DagTarballVersion, c.ImageDigest
		}
		for _, dp := range s.Astro.Deploys(d.ID) {
			ds.Deploys = append(ds.Deploys, DeployState{ID: dp.ID, Type: dp.Type, Status: dp.Status, CommitSHA: dp.CommitSHA, Branch: dp.Branch,
				DagTarballVersion: dp.DagTarballVersion, Files: bundleEntries(dp.Tarball)})
		}
		st.Deployments = append(st.Deployments, ds)
	}
	for _, d := range s.GitHub.Deployments(GitHubOwner, GitHubRepo) {
		gd := GitHubDeploymentState{ID: d.ID, Ref: d.Ref, Environment: d.Environment, States: []string{}}
		for _, x := range d.Statuses {
			gd.States = append(gd.States, x.State)
			if x.EnvironmentURL != "" {
				gd.EnvironmentURL = x.EnvironmentURL
			}
		}
		st.GitHubDeployments = append(st.GitHubDeployments, gd)
	}
	st.GitHubComments = s.GitHub.Comments(GitHubOwner, GitHubRepo, 42)
	for _, scope := range s.githubScopes() {
		for _, name := range s.GitHub.SecretNames(scope) {
			info, ok := s.GitHub.Secret(scope, name)
			if !ok {
				continue
			}
			st.GitHubSecrets = append(st.GitHubSecrets, s.secretState(scope, name, info.Value))
		}
	}
	for _, path := range []string{GitLabProject, GitLabGroup} {
		for _, v := range s.GitLab.Variables(path) {
			vs := s.secretState(path+" ["+v.EnvironmentScope+"]", v.Key, v.Value)
			var flags []string
			for name, on := range map[string]bool{"masked": v.Masked, "hidden": v.Hidden, "protected": v.Protected} {
				if on {
					flags = append(flags, name)
				}
			}
			sort.Strings(flags)
			vs.Note = strings.Join(flags, ",")
			st.GitLabVariables = append(st.GitLabVariables, vs)
		}
	}
	return st
}

func (s *Sandbox) state(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(s.Snapshot())
}

// authenticates answers whether the value in the body would authenticate
// with the fake Astro API now, and as which token; the value is never echoed.
func (s *Sandbox) authenticates(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	v := strings.TrimSpace(string(b))
	id, ok := s.Astro.TokenIDForValue(v)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"valid": ok && s.Astro.Authenticates(v), "tokenId": id, "fingerprint": Fingerprint(v)})
}

func (s *Sandbox) secretState(scope, name, value string) SecretState {
	id, _ := s.Astro.TokenIDForValue(value)
	return SecretState{Scope: scope, Name: name, Fingerprint: Fingerprint(value), TokenID: id, Valid: s.Astro.Authenticates(value)}
}

// githubScopes lists the secret scopes of the seeded repository, its
// environments (including ones made for previews) and organization.
func (s *Sandbox) githubScopes() []string {
	repo := GitHubOwner + "/" + GitHubRepo
	scopes := []string{"repo:" + repo, "dependabot:" + repo, "org:" + GitHubOwner}
	for _, env := range s.GitHub.Environments(GitHubOwner, GitHubRepo) {
		scopes = append(scopes, "env:"+repo+"/"+env)
	}
	return scopes
}

// bundleEntries lists the entries of a gzipped DAG bundle (nil for none,
// or for what is not one).
func bundleEntries(tgz []byte) []string {
	if len(tgz) == 0 {
		return nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(tgz))
	if err != nil {
		return nil
	}
	tr := tar.NewReader(zr)
	var names []string
	for len(names) < 10_000 {
		h, err := tr.Next()
		if err != nil {
			break
		}
		names = append(names, h.Name)
	}
	return names
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}
