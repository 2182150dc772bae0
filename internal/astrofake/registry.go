package astrofake

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/astro-ci/astro-ci/internal/fakefault"
)

// The image registry of the fake, standing in for images.astronomer.cloud
// (code-deploys.md B): go-containerregistry's pkg/registry under /v2/,
// behind basic auth with the user "cli" and a valid API token of the
// organization as password (the docs' `docker login images.astronomer.cloud
// -u cli -p $TOKEN`; astro-cli #1876). Repositories are "<org>/<namespace>",
// one per Deployment, as imageRepository names them.
//
// Pulls need read access to the Deployment, pushes the right to deploy to
// it. Blobs belong to repositories (pkg/registry's in-memory store shares
// them all), so a cross-repository mount (POST …/blobs/uploads/?mount=&from=)
// is a real operation: it succeeds (201) when the caller may pull from and
// the blob is there, else the registry starts an ordinary upload (202), as
// the distribution spec says. Options.RegistryRefusesMount turns mounts off,
// to exercise the client's fallback. The registry is served only when
// Options.RegistryHost is set (otherwise /v2/ is an unknown API path);
// PushImage works either way.

const registryUser = "cli"

type registryState struct {
	inner http.Handler // pkg/registry, unauthenticated
	blobs *repoBlobs
}

// registry returns the registry, built on first use. Call with s.mu held
// or not: it has its own once.
func (s *Server) registry() *registryState {
	s.regOnce.Do(func() {
		b := &repoBlobs{content: map[string][]byte{}, members: map[string]map[string]bool{}}
		s.code.reg = &registryState{
			blobs: b,
			inner: registry.New(registry.Logger(log.New(io.Discard, "", 0)), registry.WithBlobHandler(b)),
		}
	})
	return s.code.reg
}

// repoBlobs is a BlobHandler whose blobs belong to repositories.
type repoBlobs struct {
	mu      sync.Mutex
	content map[string][]byte          // digest → bytes
	members map[string]map[string]bool // repository → digests
}

var (
	_ registry.BlobHandler     = (*repoBlobs)(nil)
	_ registry.BlobStatHandler = (*repoBlobs)(nil)
	_ registry.BlobPutHandler  = (*repoBlobs)(nil)
)

// repoName undoes a quirk of pkg/registry, which names the repository of a
// chunked upload's final PUT (/v2/<name>/blobs/uploads/<id>) "<name>/blobs".
func repoName(repo string) string { return strings.TrimSuffix(repo, "/blobs") }

func (b *repoBlobs) lookup(repo string, h v1.Hash) ([]byte, bool) {
	repo = repoName(repo)
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.members[repo][h.String()] {
		return nil, false
	}
	data, ok := b.content[h.String()]
	return data, ok
}

func (b *repoBlobs) Get(_ context.Context, repo string, h v1.Hash) (io.ReadCloser, error) {
	data, ok := b.lookup(repo, h)
	if !ok {
		return nil, registry.ErrNotFound
	}
	return io.NopCloser(bytes.NewReader(data)), nil
}

func (b *repoBlobs) Stat(_ context.Context, repo string, h v1.Hash) (int64, error) {
	data, ok := b.lookup(repo, h)
	if !ok {
		return 0, registry.ErrNotFound
	}
	return int64(len(data)), nil
}

func (b *repoBlobs) Put(_ context.Context, repo string, h v1.Hash, rc io.ReadCloser) error {
	defer rc.Close()
	data, err := io.ReadAll(rc) // rc verifies size and digest as it is read
	if err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.content[h.String()] = data
	b.link(repoName(repo), h.String())
	return nil
}

func (b *repoBlobs) link(repo, digest string) {
	if b.members[repo] == nil {
		b.members[repo] = map[string]bool{}
	}
	b.members[repo][digest] = true
}

// mount links digest from repository from into to, if from holds it.
func (b *repoBlobs) mount(from, to, digest string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.members[from][digest] {
		return false
	}
	b.link(to, digest)
	return true
}

// manifestDigest resolves repo:tag through the registry itself.
func (r *registryState) manifestDigest(repo, tag string) (string, bool) {
	req := httptest.NewRequest(http.MethodHead, "/v2/"+repo+"/manifests/"+tag, nil)
	req.Header.Set("Accept", "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json")
	rec := httptest.NewRecorder()
	r.inner.ServeHTTP(rec, req)
	d := rec.Header().Get("Docker-Content-Digest")
	return d, rec.Code == http.StatusOK && d != ""
}

type regErr struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// serveRegistry authenticates and authorizes one registry request, then
// hands it to pkg/registry.
func (s *Server) serveRegistry(w http.ResponseWriter, r *http.Request) {
	reg := s.registry()
	entry := Request{Method: r.Method, Path: r.URL.Path, Query: cloneValues(r.URL.Query()), RequestID: s.nextRequestID()}
	defer func() { s.logRequest(entry) }()
	w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
	fail := func(status int, code, msg string) {
		entry.Status = status
		if status == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Basic realm="astrofake registry"`)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string][]regErr{"errors": {{Code: code, Message: msg}}})
	}
	repo, kind := registryPath(r.URL.Path)
	entry.Route = "registry:" + registryOp(r, kind)

	user, pass, ok := r.BasicAuth()
	s.mu.Lock()
	var p *principal
	if ok && subtle.ConstantTimeCompare([]byte(user), []byte(registryUser)) == 1 {
		if t := s.tokenForValueLocked(pass); t != nil && !s.expired(t) {
			p = newPrincipal(t)
			entry.TokenID = t.id
		}
	}
	if p == nil {
		s.mu.Unlock()
		fail(http.StatusUnauthorized, "UNAUTHORIZED", "authentication required: user cli and an Astro API token as password")
		return
	}
	if kind == "" { // GET /v2/: the version check
		s.mu.Unlock()
		entry.Status = http.StatusOK
		w.WriteHeader(http.StatusOK)
		return
	}
	d := s.deploymentByRepository(repo)
	push := r.Method != http.MethodGet && r.Method != http.MethodHead
	allowed := d != nil && d.orgID == p.tok.orgID && s.canReadDeployment(p, d) && (!push || s.canDeploy(p, d))
	var mountFrom *deployment
	if from := r.URL.Query().Get("from"); allowed && r.Method == http.MethodPost && kind == "uploads" && from != "" {
		if fd := s.deploymentByRepository(from); fd != nil && fd.orgID == p.tok.orgID && s.canReadDeployment(p, fd) {
			mountFrom = fd
		}
	}
	s.mu.Unlock()
	switch {
	case !allowed:
		fail(http.StatusForbidden, "DENIED", "requested access to the resource is denied")
		return
	case r.Method == http.MethodDelete:
		fail(http.StatusMethodNotAllowed, "UNSUPPORTED", "deleting is not allowed")
		return
	}
	// A mount names a repository of this registry: "origin", when given,
	// must be this registry (go-containerregistry sends it).
	origin := r.URL.Query().Get("origin")
	sameRegistry := origin == "" || origin == s.regHost
	if digest := r.URL.Query().Get("mount"); mountFrom != nil && digest != "" && sameRegistry && !s.refuseMount {
		if reg.blobs.mount(repositoryOf(mountFrom), repo, digest) {
			w.Header().Set("Location", "/v2/"+repo+"/blobs/"+digest)
			w.Header().Set("Docker-Content-Digest", digest)
			entry.Status = http.StatusCreated
			w.WriteHeader(http.StatusCreated)
			return
		}
	}
	rw := &fakefault.StatusWriter{ResponseWriter: w}
	reg.inner.ServeHTTP(rw, r)
	entry.Status = rw.Status
}

// registryPath splits /v2/<name>/<kind>/… into the repository name and
// the kind: manifests, blobs, uploads or tags; "" for the version check.
func registryPath(p string) (repo, kind string) {
	segs := strings.Split(strings.Trim(strings.TrimPrefix(p, "/v2"), "/"), "/")
	for i := len(segs) - 1; i >= 1; i-- {
		switch segs[i] {
		case "manifests", "tags":
			return strings.Join(segs[:i], "/"), segs[i]
		case "blobs":
			if i+1 < len(segs) && segs[i+1] == "uploads" {
				return strings.Join(segs[:i], "/"), "uploads"
			}
			return strings.Join(segs[:i], "/"), "blobs"
		}
	}
	if p == "/v2" || p == "/v2/" {
		return "", ""
	}
	return strings.Join(segs, "/"), "unknown"
}

// registryOp names a registry request for the request log.
func registryOp(r *http.Request, kind string) string {
	switch {
	case kind == "":
		return "ping"
	case kind == "uploads" && r.Method == http.MethodPost && r.URL.Query().Get("mount") != "":
		return "blob-mount"
	case kind == "uploads" && r.Method == http.MethodPost:
		return "blob-upload-start"
	case kind == "uploads":
		return "blob-upload"
	}
	return strings.ToLower(r.Method) + "-" + kind
}

// inProcess serves a client's requests with the unauthenticated registry,
// for PushImage.
type inProcess struct{ h http.Handler }

func (t inProcess) RoundTrip(req *http.Request) (*http.Response, error) {
	// pkg/registry prefixes repository names with URL.Host, empty on a
	// server's requests: clear it so the names match the served ones.
	sreq := req.Clone(req.Context())
	sreq.URL.Host, sreq.URL.Scheme, sreq.RequestURI = "", "", req.URL.RequestURI()
	if sreq.Body == nil {
		sreq.Body = http.NoBody // as on a server's requests
	}
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, sreq)
	res := rec.Result()
	res.Request = req
	return res, nil
}

// PushImage stores img in deployment id's repository under its current
// imageTag and makes it the deployment's image: the state of a base
// Deployment that already runs a project image.
func (s *Server) PushImage(id string, img v1.Image) error {
	s.mu.Lock()
	d, ok := s.deployments[id]
	if !ok {
		s.mu.Unlock()
		return errors.New("astrofake: PushImage: unknown deployment " + id)
	}
	repo, tag := repositoryOf(d), d.imageTag
	s.mu.Unlock()
	reg := s.registry()
	ref, err := name.NewTag("astrofake.invalid/"+repo+":"+tag, name.Insecure)
	if err != nil {
		return err
	}
	if err := remote.Write(ref, img, remote.WithTransport(inProcess{reg.inner})); err != nil {
		return err
	}
	digest, ok := reg.manifestDigest(repo, tag)
	if !ok {
		return errors.New("astrofake: PushImage: the pushed manifest is not found")
	}
	s.mu.Lock()
	d.code.imageDigest, d.code.imageVersion = digest, tag
	s.mu.Unlock()
	return nil
}

// ImageDigest resolves an image of deployment id's repository by tag
// (the deployment's current one when tag is "").
func (s *Server) ImageDigest(id, tag string) (string, bool) {
	s.mu.Lock()
	d, ok := s.deployments[id]
	if !ok {
		s.mu.Unlock()
		return "", false
	}
	repo := repositoryOf(d)
	if tag == "" {
		tag = d.imageTag
	}
	s.mu.Unlock()
	return s.registry().manifestDigest(repo, tag)
}
