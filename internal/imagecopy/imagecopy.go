// Package imagecopy copies a container image from one registry repository
// to another without pulling it to disk or building anything: the way a new
// preview Deployment gets its base's current image (code-deploys.md B).
//
// It uses go-containerregistry: the source manifest (or index) is read with
// remote.Get and written unchanged with remote.Write / remote.WriteIndex,
// so the destination has the same digest. Blobs the destination lacks are
// cross-repository mounted from the source when both live on one registry
// (POST /v2/<dst>/blobs/uploads/?mount=<digest>&from=<src>), and streamed
// from the source otherwise, or when the registry refuses the mount: the
// library falls back by itself. Astro's registry takes basic auth with the
// user "cli" and an API token as password.
//
// Credentials never appear in an error: errors are rebuilt from the
// operation, the references and the registry's status and error codes, with
// the password and every URL query (a redirect to blob storage may carry a
// signature) scrubbed.
package imagecopy

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync/atomic"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/astro-ci/astro-ci/internal/secret"
	"github.com/astro-ci/astro-ci/internal/version"
)

// AstroUser is the registry user name Astro's registry wants with an API
// token as password (astro-cli #1876).
const AstroUser = "cli"

// Credentials authenticate to one registry.
type Credentials struct {
	Username string
	Password secret.Value
}

// Options configure Copy. The zero value copies with no credentials over
// http.DefaultTransport.
type Options struct {
	// Auth authenticates to the destination, and to the source too unless
	// SourceAuth is set.
	Auth       Credentials
	SourceAuth *Credentials
	// Transport carries every request (tests pass the fake's).
	Transport http.RoundTripper
	// Insecure allows plain HTTP to registries that are not loopback or
	// private addresses (go-containerregistry already uses HTTP for those).
	Insecure bool
	// Jobs bounds concurrent blob transfers; default 4.
	Jobs int
}

// Result tells what a copy did.
type Result struct {
	Digest   string // of the manifest or index, equal at source and destination
	Mounted  int    // blobs the destination mounted from the source repository
	Uploaded int    // blobs streamed to the destination
}

// Error is a copy failure, free of credentials.
type Error struct {
	Op         string // "reading the source image", "writing the destination image", ...
	Ref        string // the reference involved (references hold no credentials)
	StatusCode int    // HTTP status from the registry, 0 if none
	Msg        string // scrubbed detail
}

func (e *Error) Error() string {
	s := fmt.Sprintf("%s %s: %s", e.Op, e.Ref, e.Msg)
	switch e.StatusCode {
	case http.StatusUnauthorized:
		s += ": the registry refused the credentials (Astro's registry wants user cli and a valid API token as password)"
	case http.StatusForbidden:
		s += ": the token may not do this; pulling needs read access to the source Deployment and pushing the right to deploy to the destination Deployment (Workspace Author or above, or the Deployment's own Deployment Admin token)"
	}
	return s
}

// Copy copies the image or index src to dst ("host/repo:tag" or
// "host/repo@sha256:…") and checks that dst resolves to the source digest.
func Copy(ctx context.Context, src, dst string, opts Options) (Result, error) {
	var nameOpts []name.Option
	if opts.Insecure {
		nameOpts = append(nameOpts, name.Insecure)
	}
	srcRef, err := name.ParseReference(src, nameOpts...)
	if err != nil {
		return Result{}, &Error{Op: "parsing the source image reference", Ref: fmt.Sprintf("%q", src), Msg: "not a registry/repository:tag or @digest reference"}
	}
	dstRef, err := name.ParseReference(dst, nameOpts...)
	if err != nil {
		return Result{}, &Error{Op: "parsing the destination image reference", Ref: fmt.Sprintf("%q", dst), Msg: "not a registry/repository:tag or @digest reference"}
	}
	if _, ok := dstRef.(name.Tag); !ok {
		return Result{}, &Error{Op: "checking the destination", Ref: dstRef.String(), Msg: "the destination must be a tag"}
	}
	scrub := scrubber(opts)
	count := &counting{next: opts.Transport}
	if count.next == nil {
		count.next = http.DefaultTransport
	}
	ro := []remote.Option{
		remote.WithContext(ctx),
		remote.WithTransport(count),
		remote.WithAuthFromKeychain(keychain{src: srcRef.Context().RegistryStr(), opts: opts}),
		remote.WithUserAgent(version.UserAgent()),
		remote.WithJobs(cmp.Or(max(opts.Jobs, 0), 4)),
	}

	// 1. Read the source manifest: one GET, no layer is read yet.
	desc, err := remote.Get(srcRef, ro...)
	if err != nil {
		return Result{}, wrap("reading the source image", srcRef.String(), err, scrub)
	}
	// 2. Write it to the destination: blobs first (HEAD, then mount or
	// upload), the manifest last, so the tag never names a partial image.
	if desc.MediaType.IsIndex() {
		idx, err := desc.ImageIndex()
		if err != nil {
			return Result{}, wrap("reading the source index", srcRef.String(), err, scrub)
		}
		err = remote.WriteIndex(dstRef, idx, ro...)
		if err != nil {
			return Result{}, wrap("writing the destination index", dstRef.String(), err, scrub)
		}
	} else {
		img, err := desc.Image()
		if err != nil {
			return Result{}, wrap("reading the source image", srcRef.String(), err, scrub)
		}
		if err := remote.Write(dstRef, img, ro...); err != nil {
			return Result{}, wrap("writing the destination image", dstRef.String(), err, scrub)
		}
	}
	// 3. The destination tag must resolve to the source digest.
	got, err := remote.Head(dstRef, ro...)
	if err != nil {
		return Result{}, wrap("checking the destination image", dstRef.String(), err, scrub)
	}
	if got.Digest != desc.Digest {
		return Result{}, &Error{Op: "checking the destination image", Ref: dstRef.String(),
			Msg: fmt.Sprintf("it resolves to %s, not to the source's %s", got.Digest, desc.Digest)}
	}
	return Result{Digest: desc.Digest.String(), Mounted: int(count.mounted.Load()), Uploaded: int(count.uploaded.Load())}, nil
}

// keychain gives the source registry SourceAuth (when set) and every
// other registry Auth.
type keychain struct {
	src  string
	opts Options
}

func (k keychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	c := k.opts.Auth
	if k.opts.SourceAuth != nil && r.RegistryStr() == k.src {
		c = *k.opts.SourceAuth
	}
	if c.Username == "" && c.Password.IsZero() {
		return authn.Anonymous, nil
	}
	return &authn.Basic{Username: c.Username, Password: c.Password.Reveal()}, nil
}

// counting counts mounted and uploaded blobs as the registry answers them.
type counting struct {
	next              http.RoundTripper
	mounted, uploaded atomic.Int64
}

func (c *counting) RoundTrip(req *http.Request) (*http.Response, error) {
	res, err := c.next.RoundTrip(req)
	if err != nil {
		return res, err
	}
	upload := strings.Contains(req.URL.Path, "/blobs/uploads")
	switch {
	case upload && req.Method == http.MethodPost && req.URL.Query().Get("mount") != "" && res.StatusCode == http.StatusCreated:
		c.mounted.Add(1)
	case upload && req.Method == http.MethodPut && res.StatusCode == http.StatusCreated:
		c.uploaded.Add(1)
	}
	return res, nil
}

var urlQuery = regexp.MustCompile(`(https?://[^\s?"'<>]+)\?[^\s"'<>]*`)

// scrubber removes the passwords of opts and URL queries from s.
func scrubber(opts Options) func(string) string {
	var secrets []string
	for _, c := range []*Credentials{&opts.Auth, opts.SourceAuth} {
		if c != nil && !c.Password.IsZero() {
			secrets = append(secrets, c.Password.Reveal())
		}
	}
	return func(s string) string {
		for _, v := range secrets {
			s = strings.ReplaceAll(s, v, secret.Redacted)
		}
		return urlQuery.ReplaceAllString(s, "$1?"+secret.Redacted)
	}
}

// wrap rebuilds err as an *Error; the registry's own error codes and
// messages are kept (scrubbed), the library's wrapping is not.
func wrap(op, ref string, err error, scrub func(string) string) error {
	e := &Error{Op: op, Ref: ref}
	var te *transport.Error
	if errors.As(err, &te) {
		e.StatusCode = te.StatusCode
		var parts []string
		for _, d := range te.Errors {
			parts = append(parts, scrub(string(d.Code)+": "+d.Message))
		}
		if len(parts) == 0 {
			parts = append(parts, fmt.Sprintf("the registry answered %d", te.StatusCode))
		}
		e.Msg = strings.Join(parts, "; ")
		return e
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		e.Msg = "the deadline passed before the copy finished"
		return e
	case errors.Is(err, context.Canceled):
		e.Msg = "canceled before the copy finished"
		return e
	}
	e.Msg = scrub(err.Error())
	return e
}
