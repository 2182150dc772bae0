package bench

import (
	"context"
	"fmt"
	"strings"

	"github.com/astro-ci/astro-ci/internal/gitlabfake"
)

// Target addresses of the scenarios: places, never values (gosec's G101
// takes the secret names for credentials).
//
//nolint:gosec // G101: addresses of secrets, not credentials
const (
	RepoSecret    = "github://acme/app/secrets/ASTRO_API_TOKEN"
	WebSecret     = "github://acme/web/secrets/ASTRO_API_TOKEN"
	EnvSecret     = "github://acme/app/environments/production/secrets/ASTRO_API_TOKEN"
	ProjectVar    = "gitlab://acme/data/airflow-dags/variables/ASTRO_API_TOKEN"
	GroupVar      = "gitlab://groups/acme/data/variables/ASTRO_API_TOKEN"
	PreviewTarget = "github://acme/app/environments/preview-{slug}/secrets/ASTRO_API_TOKEN"
	PreviewBranch = "feature/x"
	// PreviewEnv is the environment PreviewTarget names for PreviewBranch.
	PreviewEnv = "preview-feature-x"
)

// Scenario is one operation of issue 13's table.
type Scenario struct {
	Name string
	// IssueNow and IssueMin are the chain the issue measured and the
	// minimum it asked for.
	IssueNow, IssueMin int
	// Min is the minimum chain the safety orderings allow, and Why the
	// reasoning: the round trips that must follow one another.
	Min int
	Why string
	// Setup prepares the world (its requests are not the operation's).
	Setup func(ctx context.Context, w *World) error
	Args  []string
	// Rounds are the requests the operation makes and which of them go
	// together (see Round): the tests hold it to exactly these.
	Rounds []Round
}

func rotate(targets ...string) []string {
	args := []string{"token", "rotate"}
	for _, t := range targets {
		args = append(args, "--target", t)
	}
	return args
}

func seedRepo(w *World) { w.GitHub.AddSecret("repo:acme/app", "ASTRO_API_TOKEN", "old") }
func seedWeb(w *World)  { w.GitHub.AddSecret("repo:acme/web", "ASTRO_API_TOKEN", "old") }
func seedEnv(w *World)  { w.GitHub.AddSecret("env:acme/app/production", "ASTRO_API_TOKEN", "old") }
func seedProject(w *World) {
	w.GitLab.SetProjectVariable("acme/data/airflow-dags", gitlabfake.Variable{Key: "ASTRO_API_TOKEN", Value: "old-value-0123456789", Masked: true, EnvironmentScope: "*"})
}
func seedGroup(w *World) {
	w.GitLab.SetGroupVariable("acme/data", gitlabfake.Variable{Key: "ASTRO_API_TOKEN", Value: "old-value-0123456789", Masked: true, EnvironmentScope: "*"})
}

func seeds(fs ...func(*World)) func(context.Context, *World) error {
	return func(_ context.Context, w *World) error {
		for _, f := range fs {
			f(w)
		}
		return nil
	}
}

//nolint:gosec // G101: prose about a rotation, not a credential
const overlapWhy = "plan (read the token ∥ list its scope, which the credential's claims name ∥ read-preflight the targets: nothing in a read preflight depends on the plan) → create the successor (needs the token's roles and a passed preflight) → prove the new value ∥ list the lineage again (both need the new token, neither the other) → write (needs the proof and the relist) → commit (needs every write) → delete the old token (needs the commit)"

// overlap is an overlap self-rotation's rounds around the targets' own
// preflight reads and writes (more than one round when a write needs a
// read first).
func overlap(preflight Round, writes ...Round) []Round {
	rs := []Round{join(Round{getToken, listTokens}, preflight), {createToken}, {getToken, listTokens}}
	rs = append(rs, writes...)
	return append(rs, Round{updateToken}, Round{deleteToken})
}

// preflight is a repository or environment secret's read preflight: the
// repository (the user's role), the key, the secret (does it exist), and
// for an environment the environment.
func (s ghSecret) preflight() Round {
	r := Round{s.repoGet(), s.key(), s.read()}
	if strings.Contains(s.scope, "/environments/") {
		r = append(r, gh("GET", s.scope))
	}
	return r
}

// Scenarios are the operations of issue 13's table, in its order.
func Scenarios() []Scenario {
	five := []string{RepoSecret, WebSecret, EnvSecret, ProjectVar, GroupVar}
	// The repository is read once for both of its targets.
	fivePre := Round{appSecret.repoGet(), appSecret.key(), appSecret.read(), webSecret.repoGet(), webSecret.key(), webSecret.read(),
		envGet, envSecret.key(), envSecret.read(), projectGet, groupGet, groupGet, glTokenScope}
	ghPuts := Round{appSecret.put(), webSecret.put(), envSecret.put()}
	return []Scenario{
		{Name: "token check", IssueNow: 1, IssueMin: 1, Min: 1,
			Why:   "one read of the token",
			Setup: seeds(), Args: []string{"token", "check"},
			Rounds: []Round{{getToken}}},
		{Name: "overlap self-rotation → 1 GitHub repo secret, present", IssueNow: 9, IssueMin: 7, Min: 6,
			Why:   overlapWhy,
			Setup: seeds(seedRepo), Args: rotate(RepoSecret),
			Rounds: overlap(appSecret.preflight(), Round{appSecret.put()})},
		{Name: "overlap self-rotation → 1 GitHub repo secret, absent", IssueNow: 10, IssueMin: 8, Min: 6,
			Why:   overlapWhy + "; absence costs nothing more: the preflight's read of the secret tells the write that it creates one",
			Setup: seeds(), Args: rotate(RepoSecret),
			Rounds: overlap(appSecret.preflight(), Round{appSecret.put()})},
		{Name: "overlap self-rotation → 1 GitLab variable, present", IssueNow: 8, IssueMin: 6, Min: 6,
			Why:   overlapWhy + "; the preflight reads the variable ∥ the token's scopes",
			Setup: seeds(seedProject), Args: rotate(ProjectVar),
			Rounds: overlap(Round{projectGet, glTokenScope}, Round{projectPut})},
		{Name: "overlap self-rotation → 1 GitLab variable, absent", IssueNow: 11, IssueMin: 8, Min: 6,
			Why:   overlapWhy + "; the preflight's GET saw 404, so the write is one POST",
			Setup: seeds(), Args: rotate(ProjectVar),
			Rounds: overlap(Round{projectGet, glTokenScope}, Round{projectPost})},
		{Name: "overlap self-rotation → 5 targets on both forges, present", IssueNow: 11, IssueMin: 7, Min: 7,
			Why: overlapWhy + "; targets: repository secrets of acme/app and acme/web, an environment secret, a GitLab project and a group variable. " +
				"Every preflight read goes at once, and so do the writes, except that a group variable is read again right before its PUT: " +
				"GitLab's group PUT whose filter matches nothing updates the key's variable in another scope, so only a fresh read makes the PUT safe (one more round trip)",
			Setup: seeds(seedRepo, seedWeb, seedEnv, seedProject, seedGroup), Args: rotate(five...),
			Rounds: overlap(fivePre, join(ghPuts, Round{projectPut, groupGet}), Round{groupPut})},
		{Name: "overlap self-rotation → 5 targets on both forges, absent", IssueNow: 13, IssueMin: 8, Min: 6,
			Why:   overlapWhy + "; the same five targets, none there yet: the preflight reads say so, and every write is one request (GitLab: POST)",
			Setup: seeds(), Args: rotate(five...),
			Rounds: overlap(fivePre, join(ghPuts, Round{projectPost, groupPost}))},
		{Name: "--strategy rotate → 1 GitHub secret", IssueNow: 6, IssueMin: 4, Min: 4,
			Why: "plan (read the token) ∥ the public key → write the current value back (preflight by write: after the rotate a write refused would leave a dead value) → rotate (needs the preflight) → " +
				"prove the new value ∥ write it (the old value is dead, so the write never waited for the proof's verdict: the new value is the only one that may work)",
			Setup: seeds(seedRepo), Args: append(rotate(RepoSecret), "--strategy", "rotate"),
			Rounds: []Round{{getToken, appSecret.key()}, {appSecret.put()}, {rotateToken}, {getToken, appSecret.put()}}},
		{Name: "preview create with an environment-secret token target", IssueNow: 14, IssueMin: 10, Min: 9,
			Why: "the base ∥ the repository, environment and key (preflight by write: the token is new, nothing else holds it) → the branch's previews ∥ a canary PUT → the canary's DELETE → " +
				"create the Deployment (needs both) → list the branch's previews again (runs that create at once converge on one) → create its token → prove it ∥ list the Deployment's tokens (creates converge) → write → commit",
			Setup: func(_ context.Context, w *World) error {
				w.GitHub.AddEnvironment("acme", "app", PreviewEnv)
				return nil
			},
			Args: []string{"preview", "create", "--base-deployment", BaseID, "--branch", PreviewBranch, "--token-target", PreviewTarget},
			Rounds: []Round{
				{getDep, prvSecret.repoGet(), prvEnvGet, prvSecret.key()},
				{listDeps, gh("PUT", canary)},
				{gh("DELETE", canary)},
				{createDep},
				{listDeps},
				{createToken},
				{getToken, listTokens},
				{prvSecret.put()},
				{updateToken},
			}},
		{Name: "preview delete", IssueNow: 7, IssueMin: 5, Min: 5,
			Why: "the base → the branch's previews (in the base's workspace) → the preview's tokens → delete the target (only once the look-ups succeeded: a preview whose token no target holds must not remain) → delete the tokens ∥ the Deployment",
			Setup: func(ctx context.Context, w *World) error {
				w.GitHub.AddEnvironment("acme", "app", PreviewEnv)
				r := w.Run(ctx, "preview", "create", "--base-deployment", BaseID, "--branch", PreviewBranch, "--token-target", PreviewTarget)
				if r.Code != 0 {
					return fmt.Errorf("creating the preview to delete: exit %d: %s", r.Code, r.Stderr)
				}
				return nil
			},
			Args:   []string{"preview", "delete", "--base-deployment", BaseID, "--branch", PreviewBranch, "--token-target", PreviewTarget},
			Rounds: []Round{{getDep}, {listDeps}, {listTokens}, {prvSecret.delete()}, {deleteDep, deleteToken}}},
	}
}
