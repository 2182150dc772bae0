package gitlabstore

import (
	"context"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/astro-ci/astro-ci/internal/gitlabfake"
	"github.com/astro-ci/astro-ci/internal/secret"
	"github.com/astro-ci/astro-ci/internal/target"
)

// log returns "METHOD /route?filter status" for each request since the
// last reset, sorted when sorted is true (requests that run concurrently),
// and resets the log.
func (e *env) log(sorted bool) []string {
	var out []string
	for _, r := range e.fake.Requests() {
		p, _ := url.PathUnescape(strings.TrimPrefix(r.Path, "/api/v4"))
		if f := r.Query.Get("filter[environment_scope]"); f != "" {
			p += "?scope=" + f
		} else if f := r.Params["filter[environment_scope]"]; f != "" {
			p += "?scope=" + f
		}
		out = append(out, r.Method+" "+p+" "+itoa(r.Status))
	}
	e.fake.ResetRequests()
	if sorted {
		slices.Sort(out)
	}
	return out
}

func itoa(n int) string {
	if n == 0 {
		return "dropped"
	}
	return strconv.Itoa(n)
}

func newEnvWith(t *testing.T, o gitlabfake.Options) *env {
	t.Helper()
	e := newEnv(t)
	if o.Version == "" {
		return e
	}
	// A fresh fake with the same seed but another version.
	f := gitlabfake.New(gitlabfake.Options{Now: func() time.Time { return t0 }, Version: o.Version})
	f.AddProject("acme/web")
	f.AddToken(tokOwner, gitlabfake.TokenPerms{Scopes: []string{"api"}, Roles: map[string]int{"acme": gitlabfake.Owner}})
	e.fake = f
	e.srv = httptest.NewServer(f)
	t.Cleanup(e.srv.Close)
	return e
}

// TestGroupWithoutScopedVariables: GitLab EE drops environment_scope on
// group variables when the group's tier lacks scoped group variables, and
// the variable lands in "*". The store must notice before anything
// changes, never leave a canary or a stray variable in "*", never
// overwrite the "*" variable, and say what to do instead.
func TestGroupWithoutScopedVariables(t *testing.T) {
	t.Parallel()
	review := "gitlab://groups/acme/variables/ASTRO_TOKEN?environment_scope=review/x"
	star := gitlabfake.Variable{Key: "ASTRO_TOKEN", Value: "star-value-0", Masked: true}
	tests := []struct {
		name string
		seed []gitlabfake.Variable
		op   func(s *Store, tg target.Target) error
	}{
		{name: "put, key absent", op: func(s *Store, tg target.Target) error { return s.Put(t.Context(), tg, secret.New(val1)) }},
		{name: "put, key in *", seed: []gitlabfake.Variable{star},
			op: func(s *Store, tg target.Target) error { return s.Put(t.Context(), tg, secret.New(val1)) }},
		{name: "write preflight", op: func(s *Store, tg target.Target) error { return s.Preflight(t.Context(), tg, target.Proof{}) }},
		{name: "write preflight with current, key in *", seed: []gitlabfake.Variable{star},
			op: func(s *Store, tg target.Target) error {
				cur := secret.New(val2)
				return s.Preflight(t.Context(), tg, target.Proof{Current: &cur})
			}},
		{name: "read preflight", op: func(s *Store, tg target.Target) error {
			return s.Preflight(t.Context(), tg, target.Proof{ByRead: true})
		}},
		{name: "read preflight, key in *", seed: []gitlabfake.Variable{star}, op: func(s *Store, tg target.Target) error {
			return s.Preflight(t.Context(), tg, target.Proof{ByRead: true})
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.fake.SetScopedGroupVariables("acme", false)
			for _, v := range tc.seed {
				e.fake.SetGroupVariable("acme", v)
			}
			before := e.fake.Variables("acme")
			err := tc.op(e.store(t, tokOwner), mustParse(t, review))
			if err == nil {
				t.Fatal("accepted a scoped group variable on a tier without them")
			}
			te := asTargetError(t, err)
			msg := err.Error()
			for _, want := range []string{"scoped group variables", "project variable", "key"} {
				if !strings.Contains(msg, want) {
					t.Errorf("message lacks %q: %s", want, msg)
				}
			}
			if te.Retryable {
				t.Error("retryable")
			}
			if after := e.fake.Variables("acme"); !slices.Equal(before, after) {
				t.Errorf("variables changed: %+v → %+v", before, after)
			}
		})
	}
	// The next preflight of the same group knows, without a canary.
	e := newEnv(t)
	e.fake.SetScopedGroupVariables("acme", false)
	s := e.store(t, tokOwner)
	tg := mustParse(t, review)
	if err := s.Preflight(t.Context(), tg, target.Proof{}); err == nil {
		t.Fatal("accepted")
	}
	e.log(false)
	if err := s.Preflight(t.Context(), mustParse(t, review+"2"), target.Proof{}); err == nil {
		t.Fatal("accepted")
	}
	for _, r := range e.log(false) {
		if strings.HasPrefix(r, "POST") {
			t.Errorf("a second canary: %s", r)
		}
	}
}

// TestGroupWithoutScopedVariablesLostAnswer: the POST that landed in "*"
// lost its answer, so the store could not see the scope; the retry finds
// the key taken, recognises its own value in "*", deletes it and refuses.
func TestGroupWithoutScopedVariablesLostAnswer(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.fake.SetScopedGroupVariables("acme", false)
	e.fake.InjectFault(gitlabfake.Fault{Method: "POST", AfterApply: true, Body: "<html>reset</html>", Times: 1})
	fo := &target.Fanout{
		Stores: map[target.Scheme]target.Store{target.GitLab: e.store(t, tokOwner)},
		Sleep:  func(context.Context, time.Duration) error { return nil },
	}
	res := fo.Put(t.Context(), []target.Target{mustParse(t, "gitlab://groups/acme/variables/K?environment_scope=review/x")}, secret.New(val1))
	err := target.Err(res)
	if err == nil || !strings.Contains(err.Error(), "scoped group variables") || !strings.Contains(err.Error(), "astro-ci deleted the variable it had created") {
		t.Fatalf("err = %v", err)
	}
	if vs := e.fake.Variables("acme"); len(vs) != 0 {
		t.Errorf("left %+v", vs)
	}
	// A "*" variable that is not ours is never touched (a fresh store,
	// which has not learnt the group's tier yet).
	e.fake.SetGroupVariable("acme", gitlabfake.Variable{Key: "K", Value: "theirs-value-1", Masked: true})
	fo.Stores[target.GitLab] = e.store(t, tokOwner)
	res = fo.Put(t.Context(), []target.Target{mustParse(t, "gitlab://groups/acme/variables/K?environment_scope=review/y")}, secret.New(val1))
	if err := target.Err(res); err == nil || !strings.Contains(err.Error(), "was not changed") {
		t.Fatalf("err = %v", err)
	}
	if v, _ := e.fake.GroupVariable("acme", "K", "*"); v.Value != "theirs-value-1" {
		t.Error("* changed")
	}
}

// TestGroupWithoutScopedVariablesStillWorks: "*" needs no tier, and a
// scoped variable created before a downgrade is still addressed by the
// filter, which GitLab does not drop.
func TestGroupWithoutScopedVariablesStillWorks(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.fake.SetScopedGroupVariables("acme", false)
	e.fake.SetGroupVariable("acme", gitlabfake.Variable{Key: "OLD", Value: "old-value-1", EnvironmentScope: "production", Masked: true})
	e.fake.SetGroupVariable("acme", gitlabfake.Variable{Key: "OLD", Value: "star-value-1", Masked: true})
	s := e.store(t, tokOwner)
	for _, raw := range []string{"gitlab://groups/acme/variables/NEW", "gitlab://groups/acme/variables/OLD?environment_scope=production"} {
		tg := mustParse(t, raw)
		for _, p := range []target.Proof{{ByRead: true}, {}} {
			if err := s.Preflight(t.Context(), tg, p); err != nil {
				t.Fatalf("%s preflight %+v: %v", raw, p, err)
			}
		}
		if err := s.Put(t.Context(), tg, secret.New(val1)); err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
	}
	if v, _ := e.fake.GroupVariable("acme", "OLD", "production"); v.Value != val1 {
		t.Error("production not written")
	}
	if v, _ := e.fake.GroupVariable("acme", "OLD", "*"); v.Value != "star-value-1" {
		t.Error("* overwritten")
	}
	if v, _ := e.fake.GroupVariable("acme", "NEW", "*"); v.Value != val1 {
		t.Error("NEW not written")
	}
}

// TestGroupFilterIgnoredBefore169: a self-managed GitLab before 16.9 ignores
// filter[environment_scope] on group variables, so GET, PUT and DELETE act
// on the first variable with the key. The store verifies the scope that
// comes back and whether the key is unique before it writes or deletes, and
// otherwise refuses naming the version requirement.
func TestGroupFilterIgnoredBefore169(t *testing.T) {
	t.Parallel()
	starV := gitlabfake.Variable{Key: "K", Value: "star-value-1", Masked: true}
	prodV := gitlabfake.Variable{Key: "K", Value: "prod-value-1", Masked: true, EnvironmentScope: "production"}
	prod := "gitlab://groups/acme/variables/K?environment_scope=production"
	put := func(s *Store, tg target.Target) error { return s.Put(t.Context(), tg, secret.New(val1)) }
	del := func(s *Store, tg target.Target) error { return s.Delete(t.Context(), tg) }
	readPF := func(s *Store, tg target.Target) error {
		return s.Preflight(t.Context(), tg, target.Proof{ByRead: true})
	}
	writePF := func(s *Store, tg target.Target) error {
		cur := secret.New(val2)
		return s.Preflight(t.Context(), tg, target.Proof{Current: &cur})
	}
	tests := []struct {
		name    string
		seed    []gitlabfake.Variable
		target  string
		op      func(*Store, target.Target) error
		refused bool
		want    map[string]string // scope → value after
	}{
		{"put, * first", []gitlabfake.Variable{starV, prodV}, prod, put, true, map[string]string{"*": "star-value-1", "production": "prod-value-1"}},
		{"put, production first", []gitlabfake.Variable{prodV, starV}, prod, put, true, map[string]string{"*": "star-value-1", "production": "prod-value-1"}},
		{"put, the key only in production", []gitlabfake.Variable{prodV}, prod, put, false, map[string]string{"production": val1}},
		{"put, the key only in *, asked for production", []gitlabfake.Variable{starV}, prod, put, true, map[string]string{"*": "star-value-1"}},
		{"put, new key", nil, prod, put, false, map[string]string{"production": val1}},
		{"put, * when production exists", []gitlabfake.Variable{prodV, starV}, "gitlab://groups/acme/variables/K", put, true, map[string]string{"*": "star-value-1", "production": "prod-value-1"}},
		{"delete, * first", []gitlabfake.Variable{starV, prodV}, prod, del, true, map[string]string{"*": "star-value-1", "production": "prod-value-1"}},
		{"delete, the key only in production", []gitlabfake.Variable{prodV}, prod, del, false, map[string]string{}},
		{"delete, absent", nil, prod, del, false, map[string]string{}},
		{"read preflight, * first", []gitlabfake.Variable{starV, prodV}, prod, readPF, true, map[string]string{"*": "star-value-1", "production": "prod-value-1"}},
		{"write preflight, production first", []gitlabfake.Variable{prodV, starV}, prod, writePF, true, map[string]string{"*": "star-value-1", "production": "prod-value-1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnvWith(t, gitlabfake.Options{Version: "16.8.4-ee"})
			for _, v := range tc.seed {
				e.fake.SetGroupVariable("acme", v)
			}
			err := tc.op(e.store(t, tokOwner), mustParse(t, tc.target))
			if tc.refused {
				if err == nil {
					t.Fatal("accepted")
				}
				for _, want := range []string{"16.9", "filter[environment_scope]", "project variable"} {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("message lacks %q: %v", want, err)
					}
				}
				if asTargetError(t, err).Retryable {
					t.Error("retryable")
				}
			} else if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for _, v := range e.fake.Variables("acme") {
				got[v.EnvironmentScope] = v.Value
			}
			if len(got) != len(tc.want) {
				t.Fatalf("variables %v, want %v", got, tc.want)
			}
			for k, v := range tc.want {
				if got[k] != v {
					t.Errorf("scope %s holds %q, want %q", k, got[k], v)
				}
			}
		})
	}
}

// TestUnreadableAnswersAreRetried: a garbage or truncated answer to an
// idempotent write that GitLab applied is retried by the fan-out, and the
// write then completes; nothing is left behind.
func TestUnreadableAnswersAreRetried(t *testing.T) {
	t.Parallel()
	faults := map[string]gitlabfake.Fault{
		"PUT garbage":       {Method: "PUT", AfterApply: true, Body: "<html>bad gateway</html>", Times: 1},
		"PUT truncated":     {Method: "PUT", AfterApply: true, Truncate: 10, Times: 1},
		"POST garbage":      {Method: "POST", AfterApply: true, Body: "\x00garbage", Times: 1},
		"POST truncated":    {Method: "POST", AfterApply: true, Truncate: 20, Times: 1},
		"GET garbage":       {Method: "GET", AfterApply: true, Body: "{", Times: 1},
		"proxy garbage 200": {Method: "PUT", Status: 200, Body: "<html>hello</html>", Times: 1},
	}
	for name, f := range faults {
		for _, raw := range []string{"gitlab://acme/web/variables/K", "gitlab://groups/acme/variables/K?environment_scope=production"} {
			for _, exists := range []bool{true, false} {
				if !exists && (name == "PUT garbage" || name == "GET garbage") {
					// The faulted request answers 404, whose garbled body
					// cannot say what was not found: not this case.
					continue
				}
				t.Run(name+" "+raw+" exists="+strconv.FormatBool(exists), func(t *testing.T) {
					t.Parallel()
					e := newEnv(t)
					tg := mustParse(t, raw)
					if exists {
						v := gitlabfake.Variable{Key: "K", Value: "old-value-1", Masked: true, EnvironmentScope: tg.EnvironmentScope}
						if tg.Kind == target.KindGroupVar {
							e.fake.SetGroupVariable("acme", v)
						} else {
							e.fake.SetProjectVariable("acme/web", v)
						}
					}
					e.fake.InjectFault(f)
					fo := &target.Fanout{
						Stores: map[target.Scheme]target.Store{target.GitLab: e.store(t, tokOwner)},
						Sleep:  func(context.Context, time.Duration) error { return nil },
					}
					res := fo.Put(t.Context(), []target.Target{tg}, secret.New(val1))
					if err := target.Err(res); err != nil {
						t.Fatal(err)
					}
					ns := "acme/web"
					if tg.Kind == target.KindGroupVar {
						ns = "acme"
					}
					vs := e.fake.Variables(ns)
					if len(vs) != 1 || vs[0].Value != val1 || vs[0].EnvironmentScope != tg.EnvironmentScope {
						t.Errorf("variables %+v", vs)
					}
				})
			}
		}
	}
	// The classification itself.
	e := newEnv(t)
	e.fake.InjectFault(gitlabfake.Fault{Method: "PUT", AfterApply: true, Body: "<html>", Times: 1})
	e.fake.SetProjectVariable("acme/web", gitlabfake.Variable{Key: "K", Value: "old-value-1"})
	err := e.store(t, tokMaint).Put(t.Context(), mustParse(t, "gitlab://acme/web/variables/K"), secret.New(val1))
	te := asTargetError(t, err)
	if !te.Retryable || te.Status != 200 || !strings.Contains(err.Error(), "cannot read") {
		t.Errorf("garbage 200: %+v", te)
	}
}

// TestRequestSequences pins what each preflight and the write after it
// send, per target kind, present or absent, by read or by write. A read
// preflight writes nothing; a Put after a preflight that saw the variable
// absent goes straight to POST. Requests on one line run concurrently.
func TestRequestSequences(t *testing.T) {
	t.Parallel()
	pat := "GET /personal_access_tokens/self 200"
	type phase struct {
		concurrent []string // sorted, sent first and together
		then       []string // in order, after
		beside     []string // sent at some point, beside the others
	}
	// A write-proving preflight sweeps canaries earlier runs left, beside
	// its own canary.
	sweepProject := []string{"GET /projects/acme/web/variables 200"}
	sweepGroup := []string{"GET /groups/acme/variables 200"}
	tests := []struct {
		name      string
		target    string
		present   bool
		byRead    bool
		current   bool
		preflight phase
		put       phase
	}{
		{name: "project present by read", target: "gitlab://acme/web/variables/K", present: true, byRead: true, current: true,
			preflight: phase{concurrent: []string{"GET /projects/acme/web/variables/K?scope=* 200", pat}},
			put:       phase{then: []string{"PUT /projects/acme/web/variables/K?scope=* 200"}}},
		{name: "project absent by read", target: "gitlab://acme/web/variables/K", byRead: true, current: true,
			preflight: phase{concurrent: []string{"GET /projects/acme/web/variables/K?scope=* 404", pat}},
			put:       phase{then: []string{"POST /projects/acme/web/variables 201"}}},
		{name: "project present by write", target: "gitlab://acme/web/variables/K", present: true, current: true,
			preflight: phase{then: []string{"PUT /projects/acme/web/variables/K?scope=* 200"}},
			put:       phase{then: []string{"PUT /projects/acme/web/variables/K?scope=* 200"}}},
		{name: "project absent by write", target: "gitlab://acme/web/variables/K", current: true,
			preflight: phase{beside: sweepProject, then: []string{"PUT /projects/acme/web/variables/K?scope=* 404", "POST /projects/acme/web/variables 201", "DELETE /projects/acme/web/variables/ASTRO_CI_PREFLIGHT_00010203 204"}},
			put:       phase{then: []string{"POST /projects/acme/web/variables 201"}}},
		{name: "project present, create (no current)", target: "gitlab://acme/web/variables/K", present: true,
			preflight: phase{beside: sweepProject, then: []string{"POST /projects/acme/web/variables 201", "DELETE /projects/acme/web/variables/ASTRO_CI_PREFLIGHT_00010203 204"}},
			put:       phase{then: []string{"PUT /projects/acme/web/variables/K?scope=* 200"}}},
		{name: "group present by read", target: "gitlab://groups/acme/variables/K", present: true, byRead: true, current: true,
			preflight: phase{concurrent: []string{"GET /groups/acme/variables/K?scope=* 200", "GET /groups/acme/variables/K?scope=astro-ci:no-such-scope 404", pat}},
			put:       phase{then: []string{"GET /groups/acme/variables/K?scope=* 200", "PUT /groups/acme/variables/K?scope=* 200"}}},
		{name: "group absent by read", target: "gitlab://groups/acme/variables/K", byRead: true, current: true,
			preflight: phase{concurrent: []string{"GET /groups/acme/variables/K?scope=* 404", "GET /groups/acme/variables/K?scope=astro-ci:no-such-scope 404", pat}},
			put:       phase{then: []string{"POST /groups/acme/variables 201"}}},
		{name: "scoped group absent by read", target: "gitlab://groups/acme/variables/K?environment_scope=production", byRead: true, current: true,
			preflight: phase{
				concurrent: []string{"GET /groups/acme/variables/K?scope=astro-ci:no-such-scope 404", "GET /groups/acme/variables/K?scope=production 404", pat},
				beside:     sweepGroup,
				then:       []string{"POST /groups/acme/variables 201", "DELETE /groups/acme/variables/ASTRO_CI_PREFLIGHT_00010203 204"}},
			put: phase{then: []string{"POST /groups/acme/variables 201"}}},
		{name: "group present by write", target: "gitlab://groups/acme/variables/K", present: true, current: true,
			preflight: phase{
				concurrent: []string{"GET /groups/acme/variables/K?scope=* 200", "GET /groups/acme/variables/K?scope=astro-ci:no-such-scope 404"},
				then:       []string{"PUT /groups/acme/variables/K?scope=* 200"}},
			put: phase{then: []string{"GET /groups/acme/variables/K?scope=* 200", "PUT /groups/acme/variables/K?scope=* 200"}}},
		{name: "group absent by write", target: "gitlab://groups/acme/variables/K", current: true,
			preflight: phase{
				concurrent: []string{"GET /groups/acme/variables/K?scope=* 404", "GET /groups/acme/variables/K?scope=astro-ci:no-such-scope 404"},
				beside:     sweepGroup,
				then:       []string{"POST /groups/acme/variables 201", "DELETE /groups/acme/variables/ASTRO_CI_PREFLIGHT_00010203 204"}},
			put: phase{then: []string{"POST /groups/acme/variables 201"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			tg := mustParse(t, tc.target)
			if tc.present {
				v := gitlabfake.Variable{Key: "K", Value: val2, Masked: true, EnvironmentScope: tg.EnvironmentScope}
				if tg.Kind == target.KindGroupVar {
					e.fake.SetGroupVariable("acme", v)
				} else {
					e.fake.SetProjectVariable("acme/web", v)
				}
			}
			s := e.store(t, tokOwner)
			p := target.Proof{ByRead: tc.byRead}
			if tc.current {
				cur := secret.New(val2)
				p.Current = &cur
			}
			if err := s.Preflight(t.Context(), tg, p); err != nil {
				t.Fatal(err)
			}
			check := func(what string, want phase) {
				got := e.log(false)
				for _, b := range want.beside {
					i := slices.Index(got, b)
					if i < 0 {
						t.Fatalf("%s: %v lacks %q", what, got, b)
					}
					got = slices.Delete(got, i, i+1)
				}
				n := len(want.concurrent)
				if len(got) < n {
					t.Fatalf("%s: %v, want %v then %v", what, got, want.concurrent, want.then)
				}
				first := slices.Clone(got[:n])
				slices.Sort(first)
				wantFirst := slices.Clone(want.concurrent)
				slices.Sort(wantFirst)
				if !slices.Equal(first, wantFirst) || !slices.Equal(got[n:], want.then) {
					t.Errorf("%s:\n got %q\nwant %q then %q", what, got, want.concurrent, want.then)
				}
			}
			check("preflight", tc.preflight)
			if err := s.Put(t.Context(), tg, secret.New(val1)); err != nil {
				t.Fatal(err)
			}
			check("put", tc.put)
			writes := 0
			for _, r := range append(slices.Clone(tc.preflight.then), tc.put.then...) {
				if !strings.HasPrefix(r, "GET") {
					writes++
				}
			}
			if tc.present && tc.byRead && writes != 1 {
				t.Errorf("%d writes to an existing target under overlap, want 1", writes)
			}
		})
	}
}

// TestReadPreflightProvesWhatAReadCan: a read preflight catches a token
// without the api scope (from GET /personal_access_tokens/self, which any
// token may call), a role below Maintainer/Owner and a missing project;
// none of them writes.
func TestReadPreflightProvesWhatAReadCan(t *testing.T) {
	t.Parallel()
	tests := []struct {
		token, target, want string
	}{
		{tokReadAPI, "gitlab://acme/platform/deploy/variables/K", "lacks the api scope"},
		{tokDev, "gitlab://acme/platform/deploy/variables/K", "Maintainer role"},
		{tokGroupM, "gitlab://groups/acme/variables/K", "Owner role"},
		{tokMaint, "gitlab://acme/nope/variables/K", "not found"},
	}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			err := e.store(t, tc.token).Preflight(t.Context(), mustParse(t, tc.target), target.Proof{ByRead: true})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
			for _, r := range e.fake.Requests() {
				if r.Method != "GET" {
					t.Errorf("a read preflight sent %s %s", r.Method, r.Path)
				}
			}
		})
	}
}

// TestProbeScopeCannotExist: the probe relies on no variable having its
// scope; GitLab (and the fake) refuse it as an environment scope.
func TestProbeScopeCannotExist(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tg := mustParse(t, "gitlab://groups/acme/variables/K")
	tg.EnvironmentScope = probeScope
	_, x, err := e.store(t, tokOwner).create(t.Context(), tg, "K", val1, false, Description)
	if err == nil || x.status != 400 || !strings.Contains(string(x.body), "environment_scope") {
		t.Fatalf("created a variable in the probe scope: %v", err)
	}
}
