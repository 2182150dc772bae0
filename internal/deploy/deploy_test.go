package deploy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/random"

	"github.com/astro-ci/astro-ci/internal/astro"
	"github.com/astro-ci/astro-ci/internal/astrofake"
	"github.com/astro-ci/astro-ci/internal/contract"
	"github.com/astro-ci/astro-ci/internal/fakeclock"
	"github.com/astro-ci/astro-ci/internal/gitmeta"
	"github.com/astro-ci/astro-ci/internal/secret"
)

const (
	org = "clorgdeploy0000000000001a"
	ws  = "clwsdeploy00000000000001a"
)

var t0 = time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)

// recorder is an Observer keeping everything it hears.
type recorder struct {
	mu      sync.Mutex
	secrets []string
	lines   []string
}

func (r *recorder) Secret(v secret.Value) {
	r.mu.Lock()
	r.secrets = append(r.secrets, v.Reveal())
	r.mu.Unlock()
}
func (r *recorder) Step(m string) { r.mu.Lock(); r.lines = append(r.lines, "step: "+m); r.mu.Unlock() }
func (r *recorder) Warn(m string) { r.mu.Lock(); r.lines = append(r.lines, "warn: "+m); r.mu.Unlock() }

// fixture is an astrofake (the API through the contract validator, the
// registry and the blob endpoint beside it) and an Engine using the real
// astro client against it.
type fixture struct {
	t      *testing.T
	fake   *astrofake.Server
	srv    *httptest.Server
	clock  *fakeclock.Clock
	token  string
	client *astro.Client
	obs    *recorder
	sleeps []time.Duration
	eng    *Engine
	base   string // a HEALTHY STANDARD Deployment with DAG deploys and an image
	dags   string // a DAG folder
}

func newFixture(t *testing.T, opts ...func(*astrofake.Options)) *fixture {
	t.Helper()
	clock := fakeclock.New(t0)
	srv := httptest.NewUnstartedServer(nil)
	o := astrofake.Options{Now: clock.Now, RegistryHost: srv.Listener.Addr().String(), DeploymentReadyAfter: -1}
	for _, f := range opts {
		f(&o)
	}
	fake := astrofake.New(o)
	v, err := contract.Astro()
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/v1/", contract.Check(t, v, fake))
	mux.Handle("/", fake)
	srv.Config.Handler = mux
	srv.Start()
	t.Cleanup(srv.Close)

	fake.AddOrganization(org, "Acme")
	fake.AddWorkspace(org, ws, "Data")
	f := &fixture{t: t, fake: fake, srv: srv, clock: clock, obs: &recorder{}}
	f.base = fake.AddDeployment(astrofake.SeedDeployment{Name: "base", WorkspaceID: ws, IsDagDeployEnabled: true})
	_, f.token = fake.MintToken(astrofake.TokenSpec{OrgID: org, Role: "ORGANIZATION_OWNER"})
	f.client, err = astro.New(astro.Config{BaseURL: srv.URL + "/v1", Token: secret.New(f.token), HTTPClient: srv.Client(),
		Sleep: func(ctx context.Context, d time.Duration) error { return ctx.Err() }})
	if err != nil {
		t.Fatal(err)
	}
	f.dags = t.TempDir()
	writeTree(t, f.dags, map[string]string{"etl.py": "from airflow import DAG\n", "lib/util.py": "x = 1\n", "__pycache__/etl.pyc": "b"})
	f.eng = &Engine{
		Astro: f.client, HTTP: srv.Client(), Observer: f.obs, Now: clock.Now,
		Copy: RegistryCopier(secret.New(f.token), srv.Client().Transport),
		Rand: rand.NewChaCha8([32]byte{7}), TempDir: t.TempDir(),
		// Sleeping advances the fake's clock instead.
		Sleep: func(ctx context.Context, d time.Duration) error {
			f.sleeps = append(f.sleeps, d)
			clock.Advance(d)
			return ctx.Err()
		},
	}
	t.Cleanup(f.checkNoLeaks)
	return f
}

// checkNoLeaks: every upload URL and signature the fake handed out was
// registered, and no line the engine printed carries one.
func (f *fixture) checkNoLeaks() {
	f.obs.mu.Lock()
	defer f.obs.mu.Unlock()
	for _, l := range f.obs.lines {
		for _, s := range f.obs.secrets {
			if len(s) >= 8 && strings.Contains(l, s) {
				f.t.Errorf("an observer line carries a registered secret: %q", l)
			}
		}
		if strings.Contains(l, "sig=") || strings.Contains(l, f.token) {
			f.t.Errorf("an observer line carries a credential: %q", l)
		}
	}
}

func (f *fixture) req() Request {
	return Request{DeploymentID: f.base, DagsDir: f.dags, Git: gitmeta.Meta{System: gitmeta.GitHub, CommitSHA: strings.Repeat("ab", 20),
		Branch: "feature/x", Repository: "acme/dags", ServerURL: "https://github.com", AuthorUsername: "octo"}}
}

func (f *fixture) count(route string) int {
	n := 0
	for _, r := range f.fake.Requests() {
		if r.Route == route {
			n++
		}
	}
	return n
}

func TestDAGDeployFinalizesTheUploadedVersionWithTheExactEntries(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	res, err := f.eng.DAGDeploy(context.Background(), f.req())
	if err != nil {
		t.Fatal(err)
	}
	ds := f.fake.Deploys(f.base)
	if len(ds) != 1 || ds[0].ID != res.DeployID || ds[0].Status != "DEPLOYED" || ds[0].Type != "DAG_ONLY" ||
		ds[0].DagTarballVersion != res.DagTarballVersion || ds[0].CommitSHA != strings.Repeat("ab", 20) || ds[0].Branch != "feature/x" {
		t.Fatalf("deploys %+v, result %+v", ds, res)
	}
	if got, want := names(readTarball(t, ds[0].Tarball)), []string{"dags/", "dags/etl.py", "dags/lib/", "dags/lib/util.py"}; !slices.Equal(got, want) {
		t.Fatalf("tarball entries %q, want %q", got, want)
	}
	code, _ := f.fake.Code(f.base)
	if code.DagTarballVersion != res.DagTarballVersion || res.Files != 2 {
		t.Errorf("code %+v result %+v", code, res)
	}
	if !strings.HasPrefix(ds[0].Description, "astro-ci: DAGs of feature/x at ababab") || !strings.Contains(ds[0].Description, "[astro-ci ") {
		t.Errorf("description %q", ds[0].Description)
	}
	// The upload URL and its signature were registered.
	f.obs.mu.Lock()
	n := len(f.obs.secrets)
	f.obs.mu.Unlock()
	if n < 2 {
		t.Errorf("%d secrets registered, want the URL and its signature", n)
	}
	// One GET of the Deployment, one create, one upload, one finalize.
	for route, want := range map[string]int{"GetDeployment": 1, "CreateDeploy": 1, "PutBlob": 1, "FinalizeDeploy": 1} {
		if got := f.count(route); got != want {
			t.Errorf("%s: %d requests, want %d", route, got, want)
		}
	}
}

func TestDAGDeployRefusesAnEmptyFolderBeforeCreatingAnything(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	req := f.req()
	req.DagsDir = t.TempDir()
	if _, err := f.eng.DAGDeploy(context.Background(), req); !errors.Is(err, ErrEmptyDags) || !strings.Contains(err.Error(), "--allow-empty") {
		t.Fatalf("err = %v", err)
	}
	if n := f.count("CreateDeploy"); n != 0 {
		t.Fatalf("%d creates for a refused deploy", n)
	}
	req.AllowEmpty = true
	if _, err := f.eng.DAGDeploy(context.Background(), req); err != nil {
		t.Fatalf("allowed: %v", err)
	}
}

func TestDAGDeployWithDAGDeploysOffSaysHowToEnableThem(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	req := f.req()
	req.DeploymentID = f.fake.AddDeployment(astrofake.SeedDeployment{Name: "baked", WorkspaceID: ws})
	_, err := f.eng.DAGDeploy(context.Background(), req)
	if err == nil || !strings.Contains(err.Error(), "--dag-deploy enable") || !strings.Contains(err.Error(), "Astro UI") {
		t.Fatalf("err = %v", err)
	}
	if n := f.count("CreateDeploy"); n != 0 {
		t.Fatalf("%d creates", n)
	}
}

func TestDAGDeployToAHibernatingDeploymentNeedsWake(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	req := f.req()
	req.DeploymentID = f.fake.AddDeployment(astrofake.SeedDeployment{Name: "dev", WorkspaceID: ws, IsDagDeployEnabled: true, IsDevelopmentMode: true, Status: "HIBERNATING"})
	if _, err := f.eng.DAGDeploy(context.Background(), req); err == nil || !strings.Contains(err.Error(), "--wake") {
		t.Fatalf("err = %v", err)
	}
	if f.count("UpdateDeploymentHibernationOverride") != 0 || f.count("CreateDeploy") != 0 {
		t.Fatal("changed something without --wake")
	}
}

func TestDAGDeployWakesAHibernatingPreviewAndRemovesTheOverride(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(o *astrofake.Options) { o.DAGDeployAfter = 20 * time.Second })
	req := f.req()
	dev := f.fake.AddDeployment(astrofake.SeedDeployment{Name: "dev", WorkspaceID: ws, IsDagDeployEnabled: true, IsDevelopmentMode: true, Status: "HIBERNATING"})
	req.DeploymentID, req.Wake = dev, true
	res, err := f.eng.DAGDeploy(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	// Woken, waited for (it applies the bundle only while awake), put back.
	code, _ := f.fake.Code(dev)
	if !res.Woken || !res.Running || code.DagTarballVersion != res.DagTarballVersion || code.HibernationOverride {
		t.Fatalf("result %+v code %+v", res, code)
	}
	info, _ := f.fake.Deployment(dev)
	if info.Status != "HIBERNATING" {
		t.Errorf("after the deploy: %s", info.Status)
	}
	if f.count("UpdateDeploymentHibernationOverride") != 1 || f.count("DeleteDeploymentHibernationOverride") != 1 {
		t.Errorf("override set %d, deleted %d", f.count("UpdateDeploymentHibernationOverride"), f.count("DeleteDeploymentHibernationOverride"))
	}
	// A production (non-development) Deployment cannot be woken.
	req.DeploymentID = f.fake.AddDeployment(astrofake.SeedDeployment{Name: "prod", WorkspaceID: ws, IsDagDeployEnabled: true, Status: "HIBERNATING"})
	if _, err := f.eng.DAGDeploy(context.Background(), req); err == nil || !strings.Contains(err.Error(), "not a development Deployment") {
		t.Fatalf("err = %v", err)
	}
}

func TestDAGDeployWaitPollsFastFirstThenCapped(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(o *astrofake.Options) { o.DAGDeployAfter = 2 * time.Minute })
	req := f.req()
	req.Wait = true
	res, err := f.eng.DAGDeploy(context.Background(), req)
	if err != nil || !res.Running {
		t.Fatalf("%+v %v", res, err)
	}
	if len(f.sleeps) < 3 || f.sleeps[0] != time.Second || f.sleeps[1] <= f.sleeps[0] || slices.Max(f.sleeps) > maxPoll || f.sleeps[len(f.sleeps)-1] != maxPoll {
		t.Errorf("sleeps %v: want 1s first, growing, capped at %v", f.sleeps, maxPoll)
	}
	var total time.Duration
	for _, s := range f.sleeps {
		total += s
	}
	if total < 2*time.Minute || total > 2*time.Minute+maxPoll {
		t.Errorf("waited %v for a 2m deploy", total)
	}
}

func TestDAGDeployWaitEndsAtTheDeadline(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(o *astrofake.Options) { o.DAGDeployAfter = time.Hour })
	ctx, cancel := context.WithCancel(context.Background())
	f.eng.Sleep = func(ctx context.Context, d time.Duration) error { cancel(); return context.DeadlineExceeded }
	req := f.req()
	req.Wait = true
	_, err := f.eng.DAGDeploy(ctx, req)
	if err == nil || !strings.Contains(err.Error(), "did not report DAG bundle") {
		t.Fatalf("err = %v", err)
	}
}

func TestDAGDeployAdoptsTheDeployWhoseCreateAnswerWasLost(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.fake.InjectFault(astrofake.Fault{Route: "CreateDeploy", Drop: true, AfterApply: true, Times: 1})
	f.eng.HTTP = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	c, _ := astro.New(astro.Config{BaseURL: f.srv.URL + "/v1", Token: secret.New(f.token),
		HTTPClient: &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}})
	f.eng.Astro = c
	res, err := f.eng.DAGDeploy(context.Background(), f.req())
	if err != nil {
		t.Fatal(err)
	}
	ds := f.fake.Deploys(f.base)
	if !res.Reconciled || len(ds) != 1 || ds[0].ID != res.DeployID || ds[0].Status != "DEPLOYED" || f.count("CreateDeploy") != 1 {
		t.Fatalf("result %+v deploys %+v creates %d", res, ds, f.count("CreateDeploy"))
	}
}

func TestDAGDeployChecksAFinalizeWhoseAnswerWasLost(t *testing.T) {
	t.Parallel()
	for name, after := range map[string]bool{"applied": true, "not applied": false} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			f.fake.InjectFault(astrofake.Fault{Route: "FinalizeDeploy", Status: 502, AfterApply: after, Times: 1})
			res, err := f.eng.DAGDeploy(context.Background(), f.req())
			if err != nil {
				t.Fatal(err)
			}
			ds := f.fake.Deploys(f.base)
			wantFinalizes := 1
			if !after {
				wantFinalizes = 2
			}
			if !res.Reconciled || len(ds) != 1 || ds[0].Status != "DEPLOYED" || f.count("FinalizeDeploy") != wantFinalizes || f.count("GetDeploy") != 1 {
				t.Fatalf("result %+v deploys %+v finalizes %d", res, ds, f.count("FinalizeDeploy"))
			}
		})
	}
}

// leakyTransport fails the upload the way net/http does, quoting the URL.
type leakyTransport struct{}

func (leakyTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	return nil, fmt.Errorf("dial failed for %s (raw query %s)", r.URL.String(), r.URL.RawQuery)
}

func TestUploadErrorsNeverCarryTheSignedURL(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.eng.HTTP = &http.Client{Transport: leakyTransport{}}
	_, err := f.eng.DAGDeploy(context.Background(), f.req())
	var ue *UploadError
	if !errors.As(err, &ue) {
		t.Fatalf("err = %v", err)
	}
	d := f.fake.Deploys(f.base)[0]
	u, _ := url.Parse(ue.URL)
	for _, s := range []string{err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err)} {
		f.obs.mu.Lock()
		for _, sec := range f.obs.secrets {
			if len(sec) >= 8 && strings.Contains(s, sec) {
				t.Errorf("the error carries the upload URL's credential: %s", s)
			}
		}
		f.obs.mu.Unlock()
		if strings.Contains(s, "sig=") {
			t.Errorf("the error carries sig=: %s", s)
		}
	}
	if u.RawQuery != "" || !strings.Contains(ue.URL, d.ID) {
		t.Errorf("UploadError.URL %q should be the bare URL", ue.URL)
	}
	// Three attempts, then the error; nothing was finalized.
	if f.count("FinalizeDeploy") != 0 || len(f.sleeps) != uploadAttempts-1 {
		t.Errorf("finalizes %d, sleeps %v", f.count("FinalizeDeploy"), f.sleeps)
	}
}

func TestImageAndDAGDeployGivesANewPreviewTheBasesImageDigest(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	img, _ := random.Image(1024, 3)
	if err := f.fake.PushImage(f.base, img); err != nil {
		t.Fatal(err)
	}
	f.fake.AddDeploy(f.base, astrofake.SeedDeploy{Type: "IMAGE_AND_DAG", CommitSHA: strings.Repeat("cd", 20), CreatedAt: t0.Add(-time.Hour)})
	b, err := f.eng.BaseImage(context.Background(), f.base)
	if err != nil || b.Commit != strings.Repeat("cd", 20) || b.Ref == "" {
		t.Fatalf("BaseImage = %+v, %v", b, err)
	}
	preview := f.fake.AddDeployment(astrofake.SeedDeployment{Name: "preview", WorkspaceID: ws, IsDagDeployEnabled: true})
	req := f.req()
	req.DeploymentID = preview
	res, err := f.eng.ImageAndDAGDeploy(context.Background(), req, b.Ref)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := img.Digest()
	code, _ := f.fake.Code(preview)
	if code.ImageDigest != want.String() || res.ImageDigest != want.String() || code.DagTarballVersion != res.DagTarballVersion || res.Mounted != 4 {
		t.Fatalf("preview code %+v result %+v, want digest %s", code, res, want)
	}
	ds := f.fake.Deploys(preview)
	if len(ds) != 1 || ds[0].Type != "IMAGE_AND_DAG" || ds[0].Status != "DEPLOYED" || !bytes.HasPrefix(ds[0].Tarball, []byte{0x1f, 0x8b}) {
		t.Fatalf("preview deploys %+v", ds)
	}
	if got := names(readTarball(t, ds[0].Tarball)); !slices.Contains(got, "dags/etl.py") {
		t.Errorf("entries %q", got)
	}
}

func TestImageAndDAGDeployFailsCleanlyWhenTheBaseImageIsMissing(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	preview := f.fake.AddDeployment(astrofake.SeedDeployment{Name: "preview", WorkspaceID: ws, IsDagDeployEnabled: true})
	req := f.req()
	req.DeploymentID = preview
	b, err := f.eng.BaseImage(context.Background(), f.base)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.eng.ImageAndDAGDeploy(context.Background(), req, b.Ref)
	if err == nil || !strings.Contains(err.Error(), "copying the base's image") {
		t.Fatalf("err = %v", err)
	}
	if ds := f.fake.Deploys(preview); len(ds) != 1 || ds[0].Status != "INITIALIZED" {
		t.Fatalf("deploys %+v: the unfinished deploy stays INITIALIZED", ds)
	}
	if strings.Contains(err.Error(), f.token) {
		t.Fatal("the error carries the token")
	}
}

func TestDescriptionFitsAstrosLimitAndCarriesTheNonce(t *testing.T) {
	t.Parallel()
	d := description(Request{Description: strings.Repeat("é", 600)}, "abc")
	if n := len([]rune(d)); n > maxDescription || !strings.HasSuffix(d, "[astro-ci abc]") {
		t.Fatalf("%d runes: %q", n, d[len(d)-20:])
	}
}

func TestDeployGitFollowsTheProviderRules(t *testing.T) {
	t.Parallel()
	gh := deployGit(gitmeta.Meta{System: gitmeta.GitHub, CommitSHA: "a", Repository: "o/r", ServerURL: "https://github.com"}, "dags/")
	if gh.Provider != "GITHUB" || gh.Account != "o" || gh.Repo != "r" || gh.RemoteURL != "" {
		t.Errorf("github %+v", gh)
	}
	gl := deployGit(gitmeta.Meta{System: gitmeta.GitLab, CommitSHA: "a", Repository: "g/s/p", RemoteURL: "https://gitlab.com/g/s/p.git"}, "dags/")
	if gl.Provider != "GENERIC" || gl.RemoteURL == "" || gl.Account != "" {
		t.Errorf("gitlab %+v", gl)
	}
	if g := deployGit(gitmeta.Meta{System: gitmeta.Local, CommitSHA: "a"}, "dags/"); g != nil {
		t.Errorf("no remote: %+v", g)
	}
}
