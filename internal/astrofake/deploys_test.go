package astrofake

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// codeEnv is newEnv served so that /v1 goes through the contract validator
// while the registry (/v2) and the blob endpoint, which are not the Astro
// API, reach the fake directly; RegistryHost names that same server.
func newCodeEnv(t *testing.T, opts ...func(*Options)) *env {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	host := srv.Listener.Addr().String()
	e := newEnv(t, append([]func(*Options){func(o *Options) { o.RegistryHost = host }}, opts...)...)
	v := e.srv.Config.Handler // the validator around e.s
	mux := http.NewServeMux()
	mux.Handle("/v1/", v)
	mux.Handle("/", e.s)
	srv.Config.Handler = mux
	srv.Start()
	t.Cleanup(srv.Close)
	e.srv = srv
	return e
}

func deploysPath(org, dep string) string { return deploymentPath(org, dep) + "/deploys" }

// createDeploy creates a deploy as tok and returns it.
func (e *env) createDeploy(dep, tok string, body map[string]any) wireDeploy {
	e.t.Helper()
	var d wireDeploy
	e.want(200, "POST", deploysPath(org1, dep), tok, body).decode(e.t, &d)
	return d
}

// putBlob PUTs data to rawURL with the given x-ms-blob-type ("" for none).
func (e *env) putBlob(rawURL, blobType string, data []byte) *http.Response {
	e.t.Helper()
	req, err := http.NewRequest("PUT", rawURL, bytes.NewReader(data))
	if err != nil {
		e.t.Fatal(err)
	}
	if blobType != "" {
		req.Header.Set("x-ms-blob-type", blobType)
	}
	res, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	res.Body = io.NopCloser(bytes.NewReader(b))
	return res
}

func TestCreateDeployDAGOnlyIsInitializedWithASignedUploadURLToTheFake(t *testing.T) {
	t.Parallel()
	e := newCodeEnv(t)
	d := e.createDeploy(e.dep1, e.owner, map[string]any{"type": "DAG_ONLY", "description": "dags of main",
		"git": map[string]any{"provider": "GITHUB", "commitSha": "abc123", "account": "acme", "repo": "dags", "branch": "main"}})
	if d.Status != "INITIALIZED" || d.Type != "DAG_ONLY" || d.DeploymentID != e.dep1 || !d.IsDagDeployEnabled ||
		d.Git == nil || d.Git.CommitSha != "abc123" || d.Git.Branch != "main" || d.ImageTag == "" {
		t.Fatalf("deploy %+v", d)
	}
	u, err := url.Parse(d.DagsUploadURL)
	if err != nil || u.Host != strings.TrimPrefix(e.srv.URL, "http://") || !strings.HasPrefix(u.Path, blobPrefix) ||
		len(u.Query().Get("sig")) < 32 || u.Query().Get("sr") != "b" {
		t.Fatalf("dagsUploadUrl %q", d.DagsUploadURL)
	}
	// GET and list show the same deploy.
	var g wireDeploy
	e.want(200, "GET", deploysPath(org1, e.dep1)+"/"+d.ID, e.owner, nil).decode(t, &g)
	if g.ID != d.ID || g.Status != "INITIALIZED" {
		t.Fatalf("get %+v", g)
	}
	e.want(404, "GET", deploysPath(org1, e.dep1)+"/"+e.s.newID(), e.owner, nil)
}

func TestBlobEndpointWantsBlockBlobAndTheSignatureAndAnswersAVersionID(t *testing.T) {
	t.Parallel()
	e := newCodeEnv(t)
	d := e.createDeploy(e.dep1, e.owner, map[string]any{"type": "DAG_ONLY"})
	u, _ := url.Parse(d.DagsUploadURL)
	sig := u.Query().Get("sig")
	bad := *u
	q := bad.Query()
	q.Set("sig", strings.Repeat("x", len(sig)))
	bad.RawQuery = q.Encode()
	noSig := *u
	q = noSig.Query()
	q.Del("sig")
	noSig.RawQuery = q.Encode()
	for _, tc := range []struct {
		name, url, blobType string
		status              int
		code                string
	}{
		{"no blob type", d.DagsUploadURL, "", 400, "MissingRequiredHeader"},
		{"page blob", d.DagsUploadURL, "PageBlob", 400, "InvalidHeaderValue"},
		{"wrong sig", bad.String(), "BlockBlob", 403, "AuthenticationFailed"},
		{"no sig", noSig.String(), "BlockBlob", 403, "AuthenticationFailed"},
	} {
		res := e.putBlob(tc.url, tc.blobType, []byte("x"))
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode != tc.status || res.Header.Get("x-ms-error-code") != tc.code || !bytes.Contains(b, []byte("<Code>"+tc.code+"</Code>")) {
			t.Errorf("%s: %d %s %s", tc.name, res.StatusCode, res.Header.Get("x-ms-error-code"), b)
		}
		if bytes.Contains(b, []byte(sig)) {
			t.Errorf("%s: the error quotes the signature", tc.name)
		}
	}
	res := e.putBlob(d.DagsUploadURL, "BlockBlob", []byte("tarball"))
	v1 := res.Header.Get("x-ms-version-id")
	if res.StatusCode != 201 || v1 == "" || res.Header.Get("Content-MD5") == "" {
		t.Fatalf("PUT: %d version %q", res.StatusCode, v1)
	}
	if _, err := time.Parse(time.RFC3339Nano, v1); err != nil || len(v1) != len("2025-11-07T15:28:12.8895389Z") {
		t.Errorf("version id %q is not an Azure timestamp: %v", v1, err)
	}
	// Every PUT is a new version.
	if v2 := e.putBlob(d.DagsUploadURL, "BlockBlob", []byte("tarball")).Header.Get("x-ms-version-id"); v2 == v1 || v2 <= v1 {
		t.Errorf("second version %q after %q", v2, v1)
	}
	// The request log never holds the query (the signature).
	for _, r := range e.s.Requests() {
		if r.Route == "PutBlob" && len(r.Query) > 0 {
			t.Errorf("request log keeps the upload query: %v", r.Query)
		}
	}
}

func TestFinalizeRunsTheUploadedVersionAfterDAGDeployAfter(t *testing.T) {
	t.Parallel()
	e := newCodeEnv(t, func(o *Options) { o.DAGDeployAfter = time.Minute })
	d := e.createDeploy(e.dep1, e.owner, map[string]any{"type": "DAG_ONLY"})
	e.want(400, "POST", deploysPath(org1, e.dep1)+"/"+d.ID+"/finalize", e.owner, map[string]any{})
	e.want(400, "POST", deploysPath(org1, e.dep1)+"/"+d.ID+"/finalize", e.owner, map[string]any{"dagTarballVersion": "2026-01-01T00:00:00.0000000Z"})
	v := e.putBlob(d.DagsUploadURL, "BlockBlob", []byte("bundle")).Header.Get("x-ms-version-id")
	var f wireDeploy
	e.want(200, "POST", deploysPath(org1, e.dep1)+"/"+d.ID+"/finalize", e.owner, map[string]any{"dagTarballVersion": v}).decode(t, &f)
	if f.Status != "DEPLOYED" || f.DagTarballVersion != v {
		t.Fatalf("finalized %+v", f)
	}
	get := func() wireDeployment {
		var g wireDeployment
		e.want(200, "GET", deploymentPath(org1, e.dep1), e.owner, nil).decode(t, &g)
		return g
	}
	if g := get(); g.DesiredDagTarballVersion != v || g.DagTarballVersion == v {
		t.Fatalf("right after finalize: current %q desired %q", g.DagTarballVersion, g.DesiredDagTarballVersion)
	}
	e.clock.Advance(time.Minute)
	if g := get(); g.DagTarballVersion != v {
		t.Fatalf("after DAGDeployAfter: current %q, want %q", g.DagTarballVersion, v)
	}
	// Finalized once; the upload URL takes no more writes.
	e.want(400, "POST", deploysPath(org1, e.dep1)+"/"+d.ID+"/finalize", e.owner, map[string]any{"dagTarballVersion": v})
	if res := e.putBlob(d.DagsUploadURL, "BlockBlob", []byte("late")); res.StatusCode != 403 {
		t.Errorf("PUT after finalize: %d", res.StatusCode)
	}
	if ds := e.s.Deploys(e.dep1); len(ds) != 1 || string(ds[0].Tarball) != "bundle" || ds[0].Uploads != 1 {
		t.Errorf("Deploys() = %+v", ds)
	}
	// Unknown ids: 400, the operation declares no 404.
	e.want(400, "POST", deploysPath(org1, e.dep1)+"/"+e.s.newID()+"/finalize", e.owner, map[string]any{"dagTarballVersion": v})
}

func TestCreateDeployRefusedWhenDAGDeploysAreOff(t *testing.T) {
	t.Parallel()
	e := newCodeEnv(t)
	off := e.s.AddDeployment(SeedDeployment{Name: "no-dag-deploys", WorkspaceID: ws1})
	r := e.want(400, "POST", deploysPath(org1, off), e.owner, map[string]any{"type": "DAG_ONLY"})
	if msg := r.errBody(t).Message; !strings.Contains(msg, "dag deploy is not enabled for deployment") {
		t.Errorf("message %q", msg)
	}
	// An image deploy carries no upload URL there.
	if d := e.createDeploy(off, e.owner, map[string]any{"type": "IMAGE_AND_DAG"}); d.DagsUploadURL != "" || d.IsDagDeployEnabled {
		t.Errorf("image deploy on a DAG-deploys-off Deployment: %+v", d)
	}
}

func TestCreateDeployValidatesGitByProvider(t *testing.T) {
	t.Parallel()
	e := newCodeEnv(t)
	for name, git := range map[string]map[string]any{
		"no commit":              {"provider": "GENERIC", "remoteUrl": "https://gitlab.com/a/b.git"},
		"github without repo":    {"provider": "GITHUB", "commitSha": "abc", "account": "acme"},
		"github with remote url": {"provider": "GITHUB", "commitSha": "abc", "account": "a", "repo": "b", "remoteUrl": "x"},
		"generic without remote": {"provider": "GENERIC", "commitSha": "abc"},
		"generic with account":   {"provider": "GENERIC", "commitSha": "abc", "remoteUrl": "x", "account": "a"},
		"unknown provider":       {"provider": "GITLAB", "commitSha": "abc"},
	} {
		if r := e.do("POST", deploysPath(org1, e.dep1), e.owner, map[string]any{"type": "DAG_ONLY", "git": git}); r.status != 400 {
			t.Errorf("%s: %d %s", name, r.status, r.body)
		}
	}
	e.want(400, "POST", deploysPath(org1, e.dep1), e.owner, map[string]any{"type": "DAG_ONLY", "description": strings.Repeat("d", 501)})
	e.want(400, "POST", deploysPath(org1, e.dep1), e.owner, map[string]any{"description": "no type"})
	e.createDeploy(e.dep1, e.owner, map[string]any{"type": "DAG_ONLY", "git": map[string]any{"provider": "GENERIC", "commitSha": "abc", "remoteUrl": "https://gitlab.com/a/b.git"}})
}

func TestDeploysNeedTheRightToDeploy(t *testing.T) {
	t.Parallel()
	e := newCodeEnv(t)
	_, author := e.s.MintToken(TokenSpec{OrgID: org1, Scope: ScopeWorkspace, EntityID: ws1, Role: RoleWorkspaceAuthor})
	e.want(403, "POST", deploysPath(org1, e.dep1), e.ws1Member, map[string]any{"type": "DAG_ONLY"})
	e.want(404, "POST", deploysPath(org1, e.dep2), e.dep1Admin, map[string]any{"type": "DAG_ONLY"})
	e.createDeploy(e.dep1, author, map[string]any{"type": "DAG_ONLY"})
	e.createDeploy(e.dep1, e.dep1Admin, map[string]any{"type": "DAG_ONLY"})
	var page wireDeploysPage
	e.want(200, "GET", deploysPath(org1, e.dep1)+"?limit=1&offset=1", e.ws1Member, nil).decode(t, &page)
	if page.TotalCount != 2 || len(page.Deploys) != 1 {
		t.Errorf("list page %+v", page)
	}
}

func TestHibernatingDeploymentRefusesDeploysUntilAWakeOverride(t *testing.T) {
	t.Parallel()
	e := newCodeEnv(t)
	dev := e.s.AddDeployment(SeedDeployment{Name: "dev", WorkspaceID: ws1, IsDevelopmentMode: true, IsDagDeployEnabled: true, Status: "HIBERNATING"})
	e.want(400, "POST", deploysPath(org1, dev), e.owner, map[string]any{"type": "DAG_ONLY"})
	ov := deploymentPath(org1, dev) + "/hibernation-override"
	e.want(400, "POST", ov, e.owner, map[string]any{"isHibernating": false, "overrideUntil": t0.Add(-time.Hour).Format(time.RFC3339)})
	var o wireHibernationOverride
	e.want(200, "POST", ov, e.owner, map[string]any{"isHibernating": false, "overrideUntil": t0.Add(time.Hour).Format(time.RFC3339)}).decode(t, &o)
	if o.IsActive == nil || !*o.IsActive || o.IsHibernating == nil || *o.IsHibernating {
		t.Fatalf("override %+v", o)
	}
	var g wireDeployment
	e.want(200, "GET", deploymentPath(org1, dev), e.owner, nil).decode(t, &g)
	if g.Status != "HEALTHY" || g.ScalingSpec.HibernationSpec.Override == nil {
		t.Fatalf("woken: status %s spec %+v", g.Status, g.ScalingSpec)
	}
	e.createDeploy(dev, e.owner, map[string]any{"type": "DAG_ONLY"})
	e.want(204, "DELETE", ov, e.owner, nil)
	e.want(404, "DELETE", ov, e.owner, nil)
	e.want(200, "GET", deploymentPath(org1, dev), e.owner, nil).decode(t, &g)
	if g.Status != "HIBERNATING" {
		t.Fatalf("after the override is gone: %s", g.Status)
	}
	// An override that ran out stops applying by itself.
	e.want(200, "POST", ov, e.owner, map[string]any{"isHibernating": false, "overrideUntil": t0.Add(time.Minute).Format(time.RFC3339)})
	e.clock.Advance(2 * time.Minute)
	e.want(200, "GET", deploymentPath(org1, dev), e.owner, nil).decode(t, &g)
	if g.Status != "HIBERNATING" {
		t.Fatalf("after overrideUntil: %s", g.Status)
	}
}

func TestHibernationOverrideIsForDevelopmentDeploymentsOnly(t *testing.T) {
	t.Parallel()
	e := newCodeEnv(t)
	ov := deploymentPath(org1, e.dep1) + "/hibernation-override"
	e.want(400, "POST", ov, e.owner, map[string]any{"isHibernating": false})
	e.want(403, "POST", ov, e.ws1Member, map[string]any{"isHibernating": false})
}

// regOpts are go-containerregistry options authenticating as cli / tok.
func (e *env) regOpts(tok string) []remote.Option {
	return []remote.Option{
		remote.WithAuth(&authn.Basic{Username: "cli", Password: tok}),
		remote.WithTransport(e.srv.Client().Transport),
	}
}

func (e *env) imageRef(dep, tag string) name.Reference {
	e.t.Helper()
	var g wireDeployment
	e.want(200, "GET", deploymentPath(org1, dep), e.owner, nil).decode(e.t, &g)
	if tag == "" {
		tag = g.ImageTag
	}
	ref, err := name.ParseReference(g.ImageRepository+":"+tag, name.Insecure)
	if err != nil {
		e.t.Fatal(err)
	}
	return ref
}

func TestRegistryWantsUserCliAndAValidTokenOfTheOrganization(t *testing.T) {
	t.Parallel()
	e := newCodeEnv(t)
	img, err := random.Image(512, 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.s.PushImage(e.dep1, img); err != nil {
		t.Fatal(err)
	}
	ref := e.imageRef(e.dep1, "")
	ctx := context.Background()
	for name, opts := range map[string][]remote.Option{
		"wrong user": {remote.WithAuth(&authn.Basic{Username: "admin", Password: e.owner})},
		"bad token":  {remote.WithAuth(&authn.Basic{Username: "cli", Password: e.owner + "x"})},
		"anonymous":  {},
		"other org":  {remote.WithAuth(&authn.Basic{Username: "cli", Password: e.other})},
		"no access":  {remote.WithAuth(&authn.Basic{Username: "cli", Password: e.s.mintIn(t, ws2)})},
	} {
		_, err := remote.Get(ref, append(opts, remote.WithContext(ctx), remote.WithTransport(e.srv.Client().Transport))...)
		var te *transport.Error
		if !errors.As(err, &te) || (te.StatusCode != 401 && te.StatusCode != 403) {
			t.Errorf("%s: %v", name, err)
		}
	}
	desc, err := remote.Get(ref, e.regOpts(e.ws1Member)...)
	want, _ := img.Digest()
	if err != nil || desc.Digest != want {
		t.Fatalf("pull as a workspace member: %v %v", desc, err)
	}
	// A member may pull, not push.
	if err := remote.Write(e.imageRef(e.dep1, "other"), img, e.regOpts(e.ws1Member)...); err == nil {
		t.Fatal("a WORKSPACE_MEMBER pushed")
	}
}

// mintIn mints a WORKSPACE_OWNER token of ws in org1.
func (s *Server) mintIn(t *testing.T, ws string) string {
	t.Helper()
	_, v := s.MintToken(TokenSpec{OrgID: org1, Scope: ScopeWorkspace, EntityID: ws, Role: RoleWorkspaceOwner})
	return v
}

func TestRegistryMountsAcrossRepositoriesOrFallsBackToAnUpload(t *testing.T) {
	t.Parallel()
	for _, refuse := range []bool{false, true} {
		e := newCodeEnv(t, func(o *Options) { o.RegistryRefusesMount = refuse })
		img, _ := random.Image(1024, 3)
		if err := e.s.PushImage(e.dep1, img); err != nil {
			t.Fatal(err)
		}
		src, err := remote.Image(e.imageRef(e.dep1, ""), e.regOpts(e.owner)...)
		if err != nil {
			t.Fatal(err)
		}
		e.s.ResetRequests()
		preview := e.s.AddDeployment(SeedDeployment{Name: "preview", WorkspaceID: ws1, IsDagDeployEnabled: true})
		if err := remote.Write(e.imageRef(preview, "copied"), src, e.regOpts(e.owner)...); err != nil {
			t.Fatalf("refuse=%v: %v", refuse, err)
		}
		mounts, uploads := 0, 0
		for _, r := range e.s.Requests() {
			switch {
			case r.Route == "registry:blob-mount" && r.Status == 201:
				mounts++
			case r.Route == "registry:blob-upload" && r.Method == "PUT":
				uploads++
			}
		}
		// 3 layers and the config blob.
		if (!refuse && (mounts != 4 || uploads != 0)) || (refuse && (mounts != 0 || uploads != 4)) {
			t.Errorf("refuse=%v: %d mounts, %d uploads", refuse, mounts, uploads)
		}
		got, ok := e.s.ImageDigest(preview, "copied")
		want, _ := img.Digest()
		if !ok || got != want.String() {
			t.Errorf("refuse=%v: preview digest %q, want %s", refuse, got, want)
		}
	}
}

func TestImageAndDAGFinalizeNeedsThePushedTagAndSwitchesTheImage(t *testing.T) {
	t.Parallel()
	e := newCodeEnv(t)
	img, _ := random.Image(256, 1)
	d := e.createDeploy(e.dep1, e.owner, map[string]any{"type": "IMAGE_AND_DAG"})
	if d.DagsUploadURL == "" || !strings.HasPrefix(d.ImageRepository, strings.TrimPrefix(e.srv.URL, "http://")+"/") {
		t.Fatalf("deploy %+v", d)
	}
	v := e.putBlob(d.DagsUploadURL, "BlockBlob", []byte("bundle")).Header.Get("x-ms-version-id")
	fin := deploysPath(org1, e.dep1) + "/" + d.ID + "/finalize"
	r := e.want(400, "POST", fin, e.owner, map[string]any{"dagTarballVersion": v})
	if !strings.Contains(r.errBody(t).Message, "Cannot get digest for image") {
		t.Errorf("message %s", r.body)
	}
	ref, _ := name.ParseReference(d.ImageRepository+":"+d.ImageTag, name.Insecure)
	if err := remote.Write(ref, img, e.regOpts(e.owner)...); err != nil {
		t.Fatal(err)
	}
	e.want(200, "POST", fin, e.owner, map[string]any{"dagTarballVersion": v})
	code, _ := e.s.Code(e.dep1)
	want, _ := img.Digest()
	if code.ImageTag != d.ImageTag || code.ImageDigest != want.String() || code.DagTarballVersion != v {
		t.Errorf("code %+v", code)
	}
}

func TestSnapshotCoversDeploysWithoutTheUploadSignature(t *testing.T) {
	t.Parallel()
	e := newCodeEnv(t)
	before := e.s.Snapshot()
	if bytes.Contains(before, []byte(`"code"`)) {
		t.Fatal("a fake without deploys renders code state")
	}
	d := e.createDeploy(e.dep1, e.owner, map[string]any{"type": "DAG_ONLY"})
	after := e.s.Snapshot()
	if bytes.Equal(before, after) || !bytes.Equal(after, e.s.Snapshot()) {
		t.Fatal("a deploy does not show in Snapshot, or Snapshot is not stable")
	}
	u, _ := url.Parse(d.DagsUploadURL)
	if bytes.Contains(after, []byte(u.Query().Get("sig"))) {
		t.Fatal("Snapshot carries the upload signature")
	}
}
