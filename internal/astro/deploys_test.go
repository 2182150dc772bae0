package astro

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/astro-ci/astro-ci/internal/astrofake"
	"github.com/astro-ci/astro-ci/internal/secret"
)

// uploadTo PUTs data to a dagsUploadUrl the way package deploy does. The
// blob endpoint is not the Astro API, so the PUT reaches the fake past the
// contract validator.
func uploadTo(t *testing.T, e *fxEnv, u secret.Value, data []byte) string {
	t.Helper()
	raw := httptest.NewServer(e.fake)
	t.Cleanup(raw.Close)
	target, err := url.Parse(u.Reveal())
	if err != nil {
		t.Fatal(err)
	}
	target.Host = strings.TrimPrefix(raw.URL, "http://")
	req, err := http.NewRequest(http.MethodPut, target.String(), bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("x-ms-blob-type", "BlockBlob")
	res, err := raw.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 201 {
		t.Fatalf("PUT: %d", res.StatusCode)
	}
	return res.Header.Get("x-ms-version-id")
}

func TestFakeDAGDeployCreateFinalizeAndTheDeploymentReportsTheVersion(t *testing.T) {
	t.Parallel()
	e := newFxEnv(t)
	c := e.client(e.owner)
	ctx := context.Background()
	git := &DeployGit{Provider: GitProviderGitHub, CommitSHA: "0123456789abcdef", Account: "acme", Repo: "dags", Branch: "feature/x"}
	d, err := c.CreateDeploy(ctx, fxDep1, CreateDeployRequest{Type: DeployDAGOnly, Description: "dags", Git: git})
	if err != nil {
		t.Fatal(err)
	}
	if d.ID == "" || d.Status != DeployInitialized || d.Type != DeployDAGOnly || d.DagsUploadURL.IsZero() || d.Git == nil || d.Git.Branch != "feature/x" {
		t.Fatalf("created %+v", d)
	}
	// The upload URL carries a credential: no formatting path prints it.
	e.addSecret(d.DagsUploadURL.Reveal())
	for _, s := range []string{fmt.Sprintf("%v", d), fmt.Sprintf("%+v", d), fmt.Sprintf("%#v", d)} {
		if strings.Contains(s, "sig=") {
			t.Fatalf("a formatted Deploy shows the upload URL: %s", s)
		}
	}
	v := uploadTo(t, e, d.DagsUploadURL, []byte("bundle"))
	f, err := c.FinalizeDeploy(ctx, fxDep1, d.ID, FinalizeDeployRequest{DagTarballVersion: v})
	if err != nil || f.Status != DeployDeployed || f.DagTarballVersion != v {
		t.Fatalf("finalize: %+v %v", f, err)
	}
	g, err := c.GetDeploy(ctx, fxDep1, d.ID)
	if err != nil || g.Status != DeployDeployed {
		t.Fatalf("get: %+v %v", g, err)
	}
	dep, err := c.GetDeployment(ctx, fxDep1)
	if err != nil || dep.DagTarballVersion != v || dep.DesiredDagTarballVersion != v || dep.ImageRepository == "" || dep.ImageTag == "" {
		t.Fatalf("deployment after finalize: %+v %v", dep, err)
	}
	_, err = c.FinalizeDeploy(ctx, fxDep1, d.ID, FinalizeDeployRequest{DagTarballVersion: v})
	apiErr(t, e.seen(err), 400)
}

func TestFakeListDeploysFollowsPages(t *testing.T) {
	t.Parallel()
	e := newFxEnv(t)
	for i := range 5 {
		e.fake.AddDeploy(fxDep1, astrofake.SeedDeploy{CommitSHA: fmt.Sprintf("c%d", i), CreatedAt: fxT0.Add(time.Duration(i) * time.Minute)})
	}
	ds, err := e.client(e.owner, pageSize(2)).ListDeploys(context.Background(), fxDep1)
	if err != nil || len(ds) != 5 || ds[4].Git == nil || ds[4].Git.CommitSHA != "c4" {
		t.Fatalf("ListDeploys = %d deploys, %v", len(ds), err)
	}
	if n := len(e.requests("ListDeploys")); n != 3 {
		t.Errorf("%d list requests for 5 deploys at page size 2", n)
	}
}

func TestFakeCreateDeployWhoseAnswerIsLostIsUncertain(t *testing.T) {
	t.Parallel()
	for name, f := range map[string]astrofake.Fault{
		"dropped": {Route: "CreateDeploy", Drop: true, AfterApply: true, Times: 1},
		"500":     {Route: "CreateDeploy", Status: 500, AfterApply: true, Times: 1},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newFxEnv(t)
			e.fake.InjectFault(f)
			_, err := e.client(e.owner, noKeepAlive).CreateDeploy(context.Background(), fxDep1, CreateDeployRequest{Type: DeployDAGOnly})
			if !IsUncertain(e.seen(err)) {
				t.Fatalf("err = %v, want an *UncertainError", err)
			}
			if n := len(e.requests("CreateDeploy")); n != 1 {
				t.Fatalf("%d create requests: a create must not be repeated blindly", n)
			}
			if ds := e.fake.Deploys(fxDep1); len(ds) != 1 {
				t.Fatalf("the fake applied %d creates", len(ds))
			}
		})
	}
}

func TestCreateDeployAnsweredWithAnUnreadableBodyIsUncertain(t *testing.T) {
	t.Parallel()
	c, _ := testClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"id": "cl`)) // cut short: Astro applied it, the id is lost
	}))
	if _, err := c.CreateDeploy(context.Background(), fxDep1, CreateDeployRequest{Type: DeployDAGOnly}); !IsUncertain(err) {
		t.Fatalf("err = %v, want an *UncertainError", err)
	}
	if _, err := c.FinalizeDeploy(context.Background(), fxDep1, "d", FinalizeDeployRequest{}); !IsUncertain(err) {
		t.Fatalf("finalize err = %v, want an *UncertainError", err)
	}
}

func TestFakeHibernationOverrideWakesADevelopmentDeployment(t *testing.T) {
	t.Parallel()
	e := newFxEnv(t)
	dev := e.fake.AddDeployment(astrofake.SeedDeployment{Name: "dev", WorkspaceID: fxWS1, IsDevelopmentMode: true, IsDagDeployEnabled: true, Status: "HIBERNATING"})
	c := e.client(e.owner)
	ctx := context.Background()
	d, err := c.GetDeployment(ctx, dev)
	if err != nil || !d.IsHibernating() {
		t.Fatalf("seeded: %+v %v", d, err)
	}
	until := fxT0.Add(time.Hour)
	o, err := c.SetHibernationOverride(ctx, dev, false, &until)
	if err != nil || !o.IsActive || o.IsHibernating || o.OverrideUntil == nil || !o.OverrideUntil.Equal(until) {
		t.Fatalf("override: %+v %v", o, err)
	}
	d, err = c.GetDeployment(ctx, dev)
	if err != nil || d.IsHibernating() || d.ScalingSpec.HibernationSpec.Override == nil {
		t.Fatalf("woken: %+v %v", d, err)
	}
	if err := c.DeleteHibernationOverride(ctx, dev); err != nil {
		t.Fatal(err)
	}
	if d, _ = c.GetDeployment(ctx, dev); !d.IsHibernating() {
		t.Fatalf("after delete: %s", d.Status)
	}
	apiErr(t, e.seen(c.DeleteHibernationOverride(ctx, dev)), 404)
}
