// Package contract checks HTTP exchanges against the official OpenAPI
// descriptions of the APIs the project talks to (trimmed copies live in
// testdata/openapi). Tests wrap the project's HTTP fakes with it to prove
// that the clients send, and the fakes answer, what the real services
// document.
package contract

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// FaultHeader marks a response in which a fake simulates a fault outside
// the API (a proxy's 502, a truncated body, ...). Such a response is not the
// API's and is not validated; the header is passed on unchanged.
const FaultHeader = "X-Fake-Fault"

// Files of the trimmed descriptions, relative to the module root.
const (
	AstroFile  = "testdata/openapi/astro-v1.0.subset.json"
	GitHubFile = "testdata/openapi/github.subset.json"
)

// Validator checks HTTP exchanges against one OpenAPI document. It is
// immutable once built and safe for concurrent use.
type Validator struct {
	doc    *openapi3.T
	router routers.Router
	// prefixes are the path prefixes under which the API is served; the
	// first matching one is stripped before routing. "" means the root.
	prefixes []string
	// authSchemes, when set, are the Authorization schemes (lower case)
	// accepted on operations for which the document declares no security:
	// GitHub's description documents authentication only in prose.
	authSchemes []string
	// relaxed maps the schemas added by relaxOptionalDiscriminators to
	// what they stand for, to explain their failures in plain words.
	relaxed map[*openapi3.Schema]relaxedSchema
}

// Load reads a trimmed description (JSON) from path. basePath is the path
// prefix under which the fake serves the API (e.g. "/v1" for Astro, "" for
// GitHub); it is stripped before routing, whatever the document's servers
// say.
func Load(path, basePath string) (*Validator, error) {
	return load(path, config{prefixes: []string{basePath}})
}

// config holds what distinguishes the validators of Astro and GitHub.
type config struct {
	prefixes    []string // see Validator.prefixes
	authSchemes []string // see Validator.authSchemes
	// errorSchema, when set, names the component schema of the error
	// bodies the API sends for undocumented statuses (see addErrorFallback).
	errorSchema string
}

// Astro returns the validator for the Astro API v1 description, served
// under /v1.
func Astro() (*Validator, error) { return astroOnce() }

// GitHub returns the validator for the GitHub REST API description, served
// at the root as on api.github.com or under /api/v3 as on GitHub Enterprise
// Server. Every request must carry "Authorization: Bearer ..." or
// "Authorization: token ...": the project never calls GitHub anonymously.
// Undocumented 4xx/5xx statuses are accepted with GitHub's basic-error body
// (see addErrorFallback).
func GitHub() (*Validator, error) { return gitHubOnce() }

var (
	astroOnce = sync.OnceValues(func() (*Validator, error) {
		path, err := moduleFile(AstroFile)
		if err != nil {
			return nil, err
		}
		return load(path, config{prefixes: []string{"/v1"}})
	})
	gitHubOnce = sync.OnceValues(func() (*Validator, error) {
		path, err := moduleFile(GitHubFile)
		if err != nil {
			return nil, err
		}
		return load(path, config{
			prefixes:    []string{"", "/api/v3"},
			authSchemes: []string{"bearer", "token"},
			errorSchema: "basic-error",
		})
	})
)

// moduleFile finds rel below the directory holding go.mod, walking up from
// the working directory (tests run in their package's directory).
func moduleFile(rel string) (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, filepath.FromSlash(rel)), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("contract: no go.mod above the working directory, cannot find %s", rel)
		}
		dir = parent
	}
}

func load(path string, cfg config) (*Validator, error) {
	loader := openapi3.NewLoader()
	// The trimmed documents are self-contained; never fetch anything.
	loader.IsExternalRefsAllowed = false
	doc, err := loader.LoadFromFile(path)
	if err != nil {
		return nil, fmt.Errorf("contract: loading %s: %w", path, err)
	}
	// Both trimmed documents pass kin-openapi's default checks as they are,
	// so no validation option is relaxed.
	if err := doc.Validate(loader.Context); err != nil {
		return nil, fmt.Errorf("contract: %s is not a valid OpenAPI document: %w", path, err)
	}
	relaxed := relaxOptionalDiscriminators(doc)
	if cfg.errorSchema != "" {
		if err := addErrorFallback(doc, cfg.errorSchema); err != nil {
			return nil, fmt.Errorf("contract: %s: %w", path, err)
		}
	}

	// Route on paths alone: the fakes listen on httptest's random address,
	// not on the servers the document names, and the base path is stripped
	// by the Validator itself.
	doc.Servers = nil
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("contract: %s: %w", path, err)
	}
	v := &Validator{doc: doc, router: router, authSchemes: cfg.authSchemes, relaxed: relaxed}
	for _, p := range cfg.prefixes {
		v.prefixes = append(v.prefixes, strings.TrimSuffix(p, "/"))
	}
	return v, nil
}

// relaxOptionalDiscriminators rewrites every "oneOf + discriminator" schema
// one of whose alternatives leaves the discriminator property optional.
//
// OpenAPI 3.0 lets a validator insist on the discriminator property, and
// kin-openapi does; but none of the alternatives of Astro's
// CreateDeploymentRequest requires "type", and the Astro API v1 accepts a
// create request without it, so a fake must too. Without "type" the
// alternatives are not mutually exclusive (none forbids additional
// properties), so plain oneOf would fail too. The rewrite keeps the strict
// discriminator check whenever the property is present and, when it is
// absent, accepts a body valid against at least one alternative:
//
//	oneOf:
//	  - {required: [type], oneOf: [...], discriminator: ...}
//	  - {not: {required: [type]}, anyOf: [...]}
//
// Schemas whose alternatives all require the property (Astro's
// UpdateDeploymentRequest) are left as they are. It returns the added
// "absent" schemas.
func relaxOptionalDiscriminators(doc *openapi3.T) map[*openapi3.Schema]relaxedSchema {
	relaxed := map[*openapi3.Schema]relaxedSchema{}
	if doc.Components == nil {
		return relaxed
	}
	for _, ref := range doc.Components.Schemas {
		s := ref.Value
		if s == nil || s.Discriminator == nil || len(s.OneOf) == 0 {
			continue
		}
		prop := s.Discriminator.PropertyName
		optional := false
		for _, alt := range s.OneOf {
			if alt.Value != nil && !slices.Contains(alt.Value.Required, prop) {
				optional = true
			}
		}
		if !optional {
			continue
		}
		present := &openapi3.Schema{
			Required:      []string{prop},
			OneOf:         s.OneOf,
			Discriminator: s.Discriminator,
		}
		absent := &openapi3.Schema{
			Not:   openapi3.NewSchemaRef("", &openapi3.Schema{Required: []string{prop}}),
			AnyOf: s.OneOf,
		}
		relaxed[absent] = relaxedSchema{property: prop, alternatives: s.OneOf}
		s.OneOf = openapi3.SchemaRefs{openapi3.NewSchemaRef("", present), openapi3.NewSchemaRef("", absent)}
		s.Discriminator = nil
	}
	return relaxed
}

// relaxedSchema describes an "absent" schema of relaxOptionalDiscriminators.
type relaxedSchema struct {
	property     string
	alternatives openapi3.SchemaRefs
}

// schemaMessage words the failures of relaxOptionalDiscriminators' schemas
// (kin-openapi would say `Doesn't match schema "not"` or give no detail at
// all); other errors keep kin-openapi's message.
func (v *Validator) schemaMessage(err *openapi3.SchemaError) string {
	r, ok := v.relaxed[err.Schema]
	if !ok {
		return ""
	}
	at := ""
	if p := err.JSONPointer(); len(p) > 0 {
		at = fmt.Sprintf("Error at %q: ", "/"+strings.Join(p, "/"))
	}
	switch err.SchemaField {
	case "not":
		return fmt.Sprintf("%s%q is present, so only the alternative it names applies", at, r.property)
	case "anyOf":
		var why []string
		for _, alt := range r.alternatives {
			if alt.Value == nil {
				continue
			}
			name := alt.Ref[strings.LastIndex(alt.Ref, "/")+1:]
			if e := alt.Value.VisitJSON(err.Value, openapi3.MultiErrors(), openapi3.DisableSchemaErrorDetails()); e != nil {
				why = append(why, fmt.Sprintf("%s: %v", name, e))
			}
		}
		return fmt.Sprintf("%swithout %q, the value matches none of the alternatives (%s)", at, r.property, strings.Join(why, "; "))
	}
	return ""
}

// addErrorFallback declares, on every operation that has no 4XX (or 5XX)
// range and no default response, a "4XX" (and "5XX") response whose body is
// the named component schema.
//
// GitHub's description documents error statuses only here and there: most
// secrets operations list nothing but their success status, although the
// API answers any of them with 401, 403, 404, 422, 5xx and the like, always
// with its basic-error JSON body (message, documentation_url, ...). Fakes
// must be able to answer "404 Not Found" for a missing secret, so such
// answers are accepted, but only with a JSON body matching basic-error, and
// statuses the description does declare keep their own schema.
func addErrorFallback(doc *openapi3.T, schemaName string) error {
	var schema *openapi3.SchemaRef
	if doc.Components != nil {
		schema = doc.Components.Schemas[schemaName]
	}
	if schema == nil {
		return fmt.Errorf("schema %q is missing", schemaName)
	}
	ref := openapi3.NewSchemaRef("#/components/schemas/"+schemaName, schema.Value)
	for _, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			if op.Responses.Default() != nil {
				continue
			}
			for _, class := range []string{"4XX", "5XX"} {
				if op.Responses.Value(class) != nil {
					continue
				}
				desc := "undocumented error (added by internal/contract)"
				op.Responses.Set(class, &openapi3.ResponseRef{Value: openapi3.NewResponse().
					WithDescription(desc).
					WithContent(openapi3.NewContentWithJSONSchemaRef(ref))})
			}
		}
	}
	return nil
}

// Violation is one way in which an exchange breaks the contract.
type Violation struct {
	Method string
	Path   string // as requested, base path included
	// Status is the status code the handler answered with; 0 if it did not
	// answer (it hijacked the connection or panicked).
	Status int
	// Response tells whether the response (true) or the request (false)
	// broke the contract.
	Response bool
	Err      error
}

func (v *Violation) Error() string {
	if v.Response {
		return fmt.Sprintf("contract: response to %s %s -> %d: %v", v.Method, v.Path, v.Status, v.Err)
	}
	answered := "not answered"
	if v.Status != 0 {
		answered = fmt.Sprintf("answered %d", v.Status)
	}
	return fmt.Sprintf("contract: request %s %s (%s): %v", v.Method, v.Path, answered, v.Err)
}

func (v *Violation) Unwrap() error { return v.Err }

// options returns fresh validation options; kin-openapi only reads them,
// but a copy per exchange keeps exchanges fully independent.
func (v *Validator) options() *openapi3filter.Options {
	o := &openapi3filter.Options{
		ExcludeRequestBody:                false,
		IncludeResponseStatus:             true,
		MultiError:                        true,
		RejectWhenRequestBodyNotSpecified: true,
		// Never write defaults into the request: the handler must see
		// exactly what the client sent.
		SkipSettingDefaults: true,
		AuthenticationFunc:  authenticate,
		// Error messages name the JSON pointer and the reason, without
		// dumping (possibly huge) schemas and values.
		SchemaValidationOptions: []openapi3.SchemaValidationOption{openapi3.DisableSchemaErrorDetails()},
	}
	o.WithCustomSchemaErrorFunc(v.schemaMessage)
	return o
}

// authenticate accepts any credentials of the declared kind: the point is
// that the client sends them the way the API expects, not their validity.
func authenticate(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	s := in.SecurityScheme
	req := in.RequestValidationInput.Request
	switch s.Type {
	case "http":
		return checkAuthorization(req, []string{strings.ToLower(s.Scheme)})
	case "oauth2", "openIdConnect":
		return checkAuthorization(req, []string{"bearer"})
	case "apiKey":
		var present bool
		switch s.In {
		case "header":
			present = req.Header.Get(s.Name) != ""
		case "query":
			present = req.URL.Query().Get(s.Name) != ""
		case "cookie":
			_, err := req.Cookie(s.Name)
			present = err == nil
		}
		if !present {
			return fmt.Errorf("missing API key %q in %s", s.Name, s.In)
		}
		return nil
	default:
		return fmt.Errorf("unsupported security scheme type %q", s.Type)
	}
}

// checkAuthorization requires an Authorization header using one of schemes
// (lower case) with non-empty credentials.
func checkAuthorization(req *http.Request, schemes []string) error {
	h := req.Header.Get("Authorization")
	if h == "" {
		return errors.New("missing Authorization header")
	}
	scheme, cred, _ := strings.Cut(h, " ")
	if !slices.Contains(schemes, strings.ToLower(scheme)) || strings.TrimSpace(cred) == "" {
		return fmt.Errorf("the Authorization header must be <scheme> <credentials> with scheme %s, got scheme %q", strings.Join(schemes, " or "), scheme)
	}
	return nil
}

// stripPrefix returns path without the first of v.prefixes it lies under.
func (v *Validator) stripPrefix(path string) (string, bool) {
	// Try non-empty prefixes first so that "/api/v3/repos/..." is not
	// routed as a path under the root.
	for _, p := range v.prefixes {
		if p == "" {
			continue
		}
		if rest, ok := strings.CutPrefix(path, p); ok && (rest == "" || rest[0] == '/') {
			if rest == "" {
				rest = "/"
			}
			return rest, true
		}
	}
	if slices.Contains(v.prefixes, "") {
		return path, true
	}
	return "", false
}

// checkRequest validates r, whose body has been read into body. It returns
// the validation input needed to check the response (nil when the request
// could not be routed) and the violations found.
func (v *Validator) checkRequest(r *http.Request, body []byte) (*openapi3filter.RequestValidationInput, []error) {
	path, ok := v.stripPrefix(r.URL.Path)
	if !ok {
		return nil, []error{fmt.Errorf("path is not under the API's base path %q", strings.Join(v.prefixes, `" or "`))}
	}
	rawPath := ""
	if r.URL.RawPath != "" {
		rawPath, _ = v.stripPrefix(r.URL.RawPath)
	}

	// Validate a copy, so that nothing kin-openapi does to the request
	// (reading the body, decoding) is visible to the handler.
	clone := r.Clone(r.Context())
	clone.URL.Path, clone.URL.RawPath = path, rawPath
	clone.Body = io.NopCloser(bytes.NewReader(body))
	clone.ContentLength = int64(len(body))
	if len(body) == 0 {
		clone.Body = http.NoBody
	}

	route, params, err := v.router.FindRoute(clone)
	if err != nil {
		return nil, []error{err}
	}
	input := &openapi3filter.RequestValidationInput{
		Request:    clone,
		PathParams: params,
		Route:      route,
		Options:    v.options(),
	}

	var errs []error
	if v.authSchemes != nil && !declaresSecurity(route) {
		if err := checkAuthorization(clone, v.authSchemes); err != nil {
			errs = append(errs, fmt.Errorf("authorization failed: %w", err))
		}
	}
	if err := openapi3filter.ValidateRequest(r.Context(), input); err != nil {
		errs = append(errs, splitErrors(err)...)
	}
	// Leave the body readable for the response check's sake (kin-openapi
	// only looks at the method there, but keep the input consistent).
	clone.Body = io.NopCloser(bytes.NewReader(body))
	return input, errs
}

func declaresSecurity(route *routers.Route) bool {
	if s := route.Operation.Security; s != nil {
		return len(*s) > 0
	}
	return len(route.Spec.Security) > 0
}

// splitErrors turns kin-openapi's top-level MultiError (one entry per
// parameter, body, security requirement...) into its parts. Nested
// MultiErrors stay inside their part, so that each violation keeps the
// context ("request body has an error: ...") of its details.
func splitErrors(err error) []error {
	if me, ok := err.(openapi3.MultiError); ok {
		var out []error
		for _, e := range me {
			out = append(out, splitErrors(e)...)
		}
		return out
	}
	return []error{err}
}

// checkResponse validates what the handler wrote.
func (v *Validator) checkResponse(ctx context.Context, input *openapi3filter.RequestValidationInput, status int, header http.Header, body []byte) []error {
	header = header.Clone()
	// net/http sniffs a Content-Type when the handler sets none (and does
	// not suppress it with a nil value); the client sees the sniffed one.
	if _, set := header["Content-Type"]; !set && len(body) > 0 {
		header.Set("Content-Type", http.DetectContentType(body))
	}

	var errs []error
	// kin-openapi ignores the body of a response declared without content;
	// a body there is still something the real API does not send.
	if resp := input.Route.Operation.Responses.Status(status); resp != nil && resp.Value != nil &&
		len(resp.Value.Content) == 0 && len(bytes.TrimSpace(body)) > 0 && input.Request.Method != http.MethodHead {
		errs = append(errs, errors.New("response has a body but the description declares no content for this status"))
	}
	err := openapi3filter.ValidateResponse(ctx, &openapi3filter.ResponseValidationInput{
		RequestValidationInput: input,
		Status:                 status,
		Header:                 header,
		Body:                   io.NopCloser(bytes.NewReader(body)),
		Options:                input.Options,
	})
	if err != nil {
		errs = append(errs, splitErrors(err)...)
	}
	return errs
}

// Middleware wraps h: each request is validated before h runs (the
// operation must exist, parameters, security, body), and the response h
// writes is captured and validated (status declared, content type and body
// against the schema). Every violation is passed to report as a
// *Violation; the exchange itself is left untouched. Responses carrying
// FaultHeader, and exchanges whose connection h hijacks, are not validated.
func (v *Validator) Middleware(h http.Handler, report func(error)) http.Handler {
	if report == nil {
		report = func(error) {}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body []byte
		if r.Body != nil {
			var err error
			body, err = io.ReadAll(r.Body)
			_ = r.Body.Close()
			if err != nil {
				report(&Violation{Method: r.Method, Path: r.URL.Path, Err: fmt.Errorf("reading request body: %w", err)})
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		method, path := r.Method, r.URL.Path
		input, reqErrs := v.checkRequest(r, body)

		cw := &captureWriter{w: w}
		returned := false
		// Request violations are reported after h so that they can name the
		// status the fake answered; the defer reports them even if h panics.
		defer func() {
			status := cw.status
			if returned {
				status = cw.statusCode()
			}
			if cw.hijacked {
				status = 0
			}
			for _, err := range reqErrs {
				report(&Violation{Method: method, Path: path, Status: status, Err: err})
			}
		}()
		h.ServeHTTP(cw, r)
		returned = true

		if cw.hijacked || input == nil {
			return
		}
		header := cw.headerSnapshot()
		if len(header.Values(FaultHeader)) > 0 {
			return
		}
		for _, err := range v.checkResponse(r.Context(), input, cw.statusCode(), header, cw.body.Bytes()) {
			report(&Violation{Method: method, Path: path, Status: cw.statusCode(), Response: true, Err: err})
		}
	})
}

// Check wraps h with v's Middleware and fails t on any violation. It is
// safe to use from server goroutines (t.Errorf is), as long as the server
// is closed before the test ends (t.Cleanup(srv.Close) does that):
// reporting after the end of a test panics.
func Check(t testing.TB, v *Validator, h http.Handler) http.Handler {
	t.Helper()
	if v == nil {
		t.Fatal("contract.Check: nil Validator")
	}
	return v.Middleware(h, func(err error) { t.Errorf("%v", err) })
}

// captureWriter passes everything through to w and keeps a copy of the
// status, the headers as sent and the body.
type captureWriter struct {
	w        http.ResponseWriter
	status   int
	header   http.Header // snapshot taken when the header was sent
	body     bytes.Buffer
	hijacked bool
}

func (c *captureWriter) Header() http.Header { return c.w.Header() }

func (c *captureWriter) WriteHeader(code int) {
	// 1xx responses (other than 101) are interim; the final one follows.
	if c.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		c.status = code
		c.header = c.w.Header().Clone()
	}
	c.w.WriteHeader(code)
}

func (c *captureWriter) Write(p []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
		c.header = c.w.Header().Clone()
	}
	n, err := c.w.Write(p)
	c.body.Write(p[:n])
	return n, err
}

// Flush supports streaming handlers.
func (c *captureWriter) Flush() {
	if c.status == 0 {
		c.status = http.StatusOK
		c.header = c.w.Header().Clone()
	}
	if f, ok := c.w.(http.Flusher); ok {
		f.Flush()
	}
}

// Hijack lets a fake take over the connection (to simulate a dropped
// connection, say); the exchange is then not validated.
func (c *captureWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := c.w.(http.Hijacker)
	if !ok {
		return nil, nil, fmt.Errorf("contract: %T does not support hijacking: %w", c.w, http.ErrNotSupported)
	}
	conn, rw, err := hj.Hijack()
	if err == nil {
		c.hijacked = true
	}
	return conn, rw, err
}

// Unwrap lets http.ResponseController reach the underlying writer's other
// optional methods.
func (c *captureWriter) Unwrap() http.ResponseWriter { return c.w }

func (c *captureWriter) statusCode() int {
	if c.status == 0 {
		return http.StatusOK // what net/http sends when the handler writes nothing
	}
	return c.status
}

func (c *captureWriter) headerSnapshot() http.Header {
	if c.header == nil {
		return c.w.Header().Clone()
	}
	return c.header
}
