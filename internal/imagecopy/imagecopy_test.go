package imagecopy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/astro-ci/astro-ci/internal/astrofake"
	"github.com/astro-ci/astro-ci/internal/secret"
)

const (
	org = "clorgimagecopy00000000001"
	ws  = "clwsimagecopy000000000001"
)

// astroRegistry is an astrofake serving its registry, with a base and a
// preview Deployment and an owner token; the base runs img.
type astroRegistry struct {
	fake          *astrofake.Server
	srv           *httptest.Server
	base, preview string
	token         string
}

func newAstroRegistry(t *testing.T, img v1.Image, opts astrofake.Options) *astroRegistry {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	opts.RegistryHost = srv.Listener.Addr().String()
	f := astrofake.New(opts)
	srv.Config.Handler = f
	srv.Start()
	t.Cleanup(srv.Close)
	f.AddOrganization(org, "Acme")
	f.AddWorkspace(org, ws, "Data")
	a := &astroRegistry{fake: f, srv: srv}
	a.base = f.AddDeployment(astrofake.SeedDeployment{Name: "base", WorkspaceID: ws, IsDagDeployEnabled: true})
	a.preview = f.AddDeployment(astrofake.SeedDeployment{Name: "preview", WorkspaceID: ws, IsDagDeployEnabled: true})
	_, a.token = f.MintToken(astrofake.TokenSpec{OrgID: org, Role: "ORGANIZATION_OWNER"})
	if err := f.PushImage(a.base, img); err != nil {
		t.Fatal(err)
	}
	return a
}

func (a *astroRegistry) ref(dep, tag string) string {
	c, _ := a.fake.Code(dep)
	if tag == "" {
		tag = c.ImageTag
	}
	return c.ImageRepository + ":" + tag
}

func (a *astroRegistry) options() Options {
	return Options{Auth: Credentials{Username: AstroUser, Password: secret.New(a.token)}, Transport: a.srv.Client().Transport}
}

func (a *astroRegistry) count(route string, status int) int {
	n := 0
	for _, r := range a.fake.Requests() {
		if r.Route == route && r.Status == status {
			n++
		}
	}
	return n
}

func TestCopyWithinOneRegistryMountsEveryBlobAndKeepsTheDigest(t *testing.T) {
	t.Parallel()
	img, _ := random.Image(2048, 3)
	a := newAstroRegistry(t, img, astrofake.Options{})
	a.fake.ResetRequests()
	res, err := Copy(context.Background(), a.ref(a.base, ""), a.ref(a.preview, "deploy-1"), a.options())
	if err != nil {
		t.Fatal(err)
	}
	want, _ := img.Digest()
	got, ok := a.fake.ImageDigest(a.preview, "deploy-1")
	if res.Digest != want.String() || !ok || got != want.String() {
		t.Fatalf("preview digest %q (result %q), want the base's %s", got, res.Digest, want)
	}
	// 3 layers + config: all mounted, none streamed, and no layer was read.
	if res.Mounted != 4 || res.Uploaded != 0 {
		t.Errorf("mounted %d, uploaded %d", res.Mounted, res.Uploaded)
	}
	if n := a.count("registry:get-blobs", 200); n != 0 {
		t.Errorf("%d blob downloads for a mount-only copy", n)
	}
}

func TestCopyFallsBackToAnUploadWhenTheRegistryRefusesTheMount(t *testing.T) {
	t.Parallel()
	img, _ := random.Image(2048, 3)
	a := newAstroRegistry(t, img, astrofake.Options{RegistryRefusesMount: true})
	res, err := Copy(context.Background(), a.ref(a.base, ""), a.ref(a.preview, "deploy-1"), a.options())
	if err != nil {
		t.Fatal(err)
	}
	want, _ := img.Digest()
	if res.Digest != want.String() || res.Mounted != 0 || res.Uploaded != 4 {
		t.Fatalf("result %+v, want digest %s and 4 uploads", res, want)
	}
}

// plainRegistry is pkg/registry without authentication.
func plainRegistry(t *testing.T) (host string, client *http.Client) {
	t.Helper()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://"), srv.Client()
}

func TestCopyBetweenTwoRegistriesUploadsAndKeepsTheDigestOfAnImageAndAnIndex(t *testing.T) {
	t.Parallel()
	srcHost, c := plainRegistry(t)
	dstHost, _ := plainRegistry(t)
	img, _ := random.Image(1024, 2)
	idx, _ := random.Index(512, 1, 2)
	for name, w := range map[string]func(name.Reference) error{
		"image": func(r name.Reference) error { return remote.Write(r, img, remote.WithTransport(c.Transport)) },
		"index": func(r name.Reference) error { return remote.WriteIndex(r, idx, remote.WithTransport(c.Transport)) },
	} {
		src := srcHost + "/base/" + name + ":v1"
		ref, _ := nameRef(src)
		if err := w(ref); err != nil {
			t.Fatal(err)
		}
		res, err := Copy(context.Background(), src, dstHost+"/preview/"+name+":v1", Options{Transport: c.Transport})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		want, _ := img.Digest()
		if name == "index" {
			want, _ = idx.Digest()
		}
		dstRef, _ := nameRef(dstHost + "/preview/" + name + ":v1")
		got, err := remote.Head(dstRef, remote.WithTransport(c.Transport))
		if err != nil || got.Digest != want || res.Digest != want.String() || res.Mounted != 0 || res.Uploaded == 0 {
			t.Errorf("%s: dst %v (%v), result %+v, want %s", name, got, err, res, want)
		}
	}
}

func nameRef(s string) (name.Reference, error) { return name.ParseReference(s) }

func TestCopyErrorsNeverCarryTheCredentialOrASignedURL(t *testing.T) {
	t.Parallel()
	const password = "astro-api-token-value-0123456789"
	// A registry that echoes what it was sent, as a careless one might.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, _ := r.BasicAuth()
		if user == "" {
			w.Header().Set("WWW-Authenticate", `Basic realm="echo"`)
			w.WriteHeader(401)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(403)
		fmt.Fprintf(w, `{"errors":[{"code":"DENIED","message":"%s:%s may not read; see https://blob.example.invalid/b?sv=1&sig=SIGNATURE123"}]}`, user, pass)
	}))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	opts := Options{Auth: Credentials{Username: AstroUser, Password: secret.New(password)}, Transport: srv.Client().Transport}
	_, err := Copy(context.Background(), host+"/a/b:1", host+"/a/c:1", opts)
	var ce *Error
	if !errors.As(err, &ce) || ce.StatusCode != 403 {
		t.Fatalf("err = %v", err)
	}
	for _, s := range []string{err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err)} {
		if strings.Contains(s, password) || strings.Contains(s, "SIGNATURE123") {
			t.Fatalf("the error carries a secret: %s", s)
		}
	}
	if !strings.Contains(err.Error(), "DENIED") || !strings.Contains(err.Error(), "right to deploy") {
		t.Errorf("the error should keep the registry's code and say what to do: %v", err)
	}
}

func TestCopyWithAWrongTokenSaysTheRegistryRefusedTheCredentials(t *testing.T) {
	t.Parallel()
	img, _ := random.Image(256, 1)
	a := newAstroRegistry(t, img, astrofake.Options{})
	opts := a.options()
	bad := a.token[:len(a.token)-2] + "xx"
	opts.Auth.Password = secret.New(bad)
	_, err := Copy(context.Background(), a.ref(a.base, ""), a.ref(a.preview, "x"), opts)
	var ce *Error
	if !errors.As(err, &ce) || ce.StatusCode != 401 || strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), "user cli") {
		t.Fatalf("err = %v", err)
	}
}

func TestCopyRefusesBadReferencesAndAnUntaggedDestination(t *testing.T) {
	t.Parallel()
	for _, tc := range [][2]string{
		{"not a ref!", "r.example/a:b"},
		{"r.example/a:b", "NOT/VALID:"},
		{"r.example/a:b", "r.example/a@sha256:" + strings.Repeat("0", 64)},
	} {
		if _, err := Copy(context.Background(), tc[0], tc[1], Options{}); err == nil {
			t.Errorf("Copy(%q, %q) succeeded", tc[0], tc[1])
		}
	}
}

func TestCopyEndsAtTheDeadline(t *testing.T) {
	t.Parallel()
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(block); srv.Close() })
	host := strings.TrimPrefix(srv.URL, "http://")
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := Copy(ctx, host+"/a/b:1", host+"/a/c:1", Options{Transport: srv.Client().Transport})
	if err == nil || !strings.Contains(err.Error(), "deadline") {
		t.Fatalf("err = %v", err)
	}
}
