package act

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/astro-ci/astro-ci/internal/sandbox"
)

// gitCommit commits everything in dir as the test's author.
func gitCommit(t *testing.T, dir, msg string) string {
	t.Helper()
	for _, args := range [][]string{{"add", "-A"}, {"-c", "user.name=astro-ci test", "-c", "user.email=test@example.com", "commit", "-q", "-m", msg}} {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	return gitHead(t, dir)
}

func gitHead(t *testing.T, dir string) string {
	t.Helper()
	cmd := exec.Command("git", "rev-parse", "HEAD")
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}

func deploymentNamed(st sandbox.State, name string) (sandbox.DeploymentState, bool) {
	for _, d := range st.Deployments {
		if d.Name == name {
			return d, true
		}
	}
	return sandbox.DeploymentState{}, false
}

// (f) Previews with code: a new branch's preview gets production's image
// (a registry copy, same digest) and the branch's DAGs; a push to the branch
// deploys its DAGs to the preview (a DAG-only deploy, no new Deployment),
// each recorded as a GitHub deployment of the branch.
func TestPreviewWithCodeOnCreateAndPush(t *testing.T) {
	s := setup(t)
	t.Parallel()
	const wf = `name: preview
on: [create, push]
jobs:
  preview:
    if: github.event_name == 'push' || github.event.ref_type == 'branch'
    runs-on: ubuntu-latest
    steps:
` + checkout + `      - id: astro
        uses: ./
        with:
          command: run
          base-deployment: production
          wait: true
          astro-api-token: ${{ secrets.ASTRO_API_TOKEN }}
          github-token: ${{ secrets.ASTRO_CI_GITHUB_TOKEN }}
      - env:
          ACTION: ${{ steps.astro.outputs.action }}
          DEPLOY_ID: ${{ steps.astro.outputs.deploy-id }}
          VERSION: ${{ steps.astro.outputs.dag-tarball-version }}
          IMAGE_BUILD: ${{ steps.astro.outputs.image-build-required }}
          GH_DEPLOYMENT: ${{ steps.astro.outputs.github-deployment-id }}
        run: echo "outputs action=$ACTION deploy-id=$DEPLOY_ID dag-tarball-version=$VERSION image-build-required=$IMAGE_BUILD github-deployment-id=$GH_DEPLOYMENT"
`
	repo := s.newRepo(t, true, map[string]string{".github/workflows/preview.yml": wf, "dags/orders.py": "from airflow import DAG\n"})
	// production's image was built from this commit.
	sb := s.startSandbox(t, "-base-image-commit", gitHead(t, repo))
	secrets, env := sb.forge()
	cache := t.TempDir()
	const name = "preview-feature-orders-dag-72991e"

	out, err := s.act(t, run{dir: repo, event: "create", payload: branchEvent("feature/orders-dag"), workflow: ".github/workflows/preview.yml", secrets: secrets, env: env, cache: cache})
	mustSucceed(t, out, err)
	st := sb.state(t)
	prod, _ := deploymentNamed(st, "production")
	pv, ok := deploymentNamed(st, name)
	if !ok || len(pv.Deploys) != 1 || pv.Deploys[0].Type != "IMAGE_AND_DAG" || pv.ImageDigest == "" || pv.ImageDigest != prod.ImageDigest ||
		!slices.Contains(pv.Deploys[0].Files, "dags/orders.py") || slices.Contains(pv.Deploys[0].Files, "dags/.git") {
		t.Fatalf("preview %+v, production %+v", pv, prod)
	}
	mustContain(t, out, "outputs action=created deploy-id="+pv.Deploys[0].ID+" dag-tarball-version="+pv.DagTarballVersion+" image-build-required=false github-deployment-id=")
	assertNoSecrets(t, out, sb.secrets()...)
	assertNoUploadURL(t, out)
	deployments := len(st.Deployments)

	// A push changes the DAG: deployed to the same preview.
	if err := os.WriteFile(filepath.Join(repo, "dags", "orders.py"), []byte("from airflow import DAG  # pushed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	after := gitCommit(t, repo, "orders: pushed")
	push := pushEvent()
	push["ref"], push["after"] = "refs/heads/feature/orders-dag", after
	out, err = s.act(t, run{dir: repo, event: "push", payload: push, workflow: ".github/workflows/preview.yml", secrets: secrets, env: env, cache: cache})
	mustSucceed(t, out, err)
	st = sb.state(t)
	pv, _ = deploymentNamed(st, name)
	if len(st.Deployments) != deployments || len(pv.Deploys) != 2 || pv.Deploys[1].Type != "DAG_ONLY" || pv.Deploys[1].DagTarballVersion != pv.DagTarballVersion {
		t.Fatalf("after the push: %d Deployments (was %d), preview %+v", len(st.Deployments), deployments, pv)
	}
	mustContain(t, out, "outputs action=exists deploy-id="+pv.Deploys[1].ID+" dag-tarball-version="+pv.DagTarballVersion+" image-build-required=false")
	var gh []sandbox.GitHubDeploymentState
	for _, d := range st.GitHubDeployments {
		if d.Environment == name && d.Ref == "feature/orders-dag" {
			gh = append(gh, d)
		}
	}
	if len(gh) != 2 || !slices.Equal(gh[1].States, []string{"success"}) || !strings.HasPrefix(gh[1].EnvironmentURL, "https://") {
		t.Errorf("GitHub deployments %+v", st.GitHubDeployments)
	}
	assertNoSecrets(t, out, sb.secrets()...)
	assertNoUploadURL(t, out)
}

// assertNoUploadURL: no DAG upload URL's signature in act's output (astro-ci
// masks the URL on GitHub; act shows the mask command as ***).
func assertNoUploadURL(t *testing.T, out string) {
	t.Helper()
	if strings.Contains(out, "sig=") || strings.Contains(out, "astrofake-blob") && strings.Contains(out, "?se=") {
		t.Errorf("an upload URL appears in act's output")
	}
}
