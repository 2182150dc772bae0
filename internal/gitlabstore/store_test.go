package gitlabstore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/astro-ci/astro-ci/internal/fakefault"
	"github.com/astro-ci/astro-ci/internal/gitlabfake"
	"github.com/astro-ci/astro-ci/internal/secret"
	"github.com/astro-ci/astro-ci/internal/target"
)

func TestPutCreatesThenUpdates(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.store(t, tokMaint)
	tg := mustParse(t, "gitlab://acme/platform/deploy/variables/ASTRO_TOKEN")

	created, note, err := s.PutReport(t.Context(), tg, secret.New(val1))
	if err != nil || !created || note != "" {
		t.Fatalf("first put: created=%v note=%q err=%v", created, note, err)
	}
	if got := e.calls(); !slices.Equal(got, []string{"PUT 404", "POST 201"}) {
		t.Errorf("first put calls %v, want PUT 404, POST 201", got)
	}
	v, ok := e.fake.ProjectVariable("acme/platform/deploy", "ASTRO_TOKEN", "*")
	want := gitlabfake.Variable{Key: "ASTRO_TOKEN", Value: val1, VariableType: "env_var", Masked: true, EnvironmentScope: "*", Description: "managed by astro-ci"}
	if !ok || v != want {
		t.Errorf("stored %+v, want %+v", v, want)
	}

	created, note, err = s.PutReport(t.Context(), tg, secret.New(val2))
	if err != nil || created || note != "" {
		t.Fatalf("second put: created=%v note=%q err=%v", created, note, err)
	}
	if got := e.calls(); !slices.Equal(got, []string{"PUT 200"}) {
		t.Errorf("second put calls %v, want one PUT", got)
	}
	if v, _ := e.fake.ProjectVariable("acme/platform/deploy", "ASTRO_TOKEN", "*"); v.Value != val2 {
		t.Error("value not updated")
	}
	// Put is PutReport without the report.
	if err := s.Put(t.Context(), tg, secret.New(val1)); err != nil {
		t.Fatal(err)
	}
	if v, _ := e.fake.ProjectVariable("acme/platform/deploy", "ASTRO_TOKEN", "*"); v.Value != val1 {
		t.Error("Put did not write")
	}
}

func TestPutEnvironmentScopes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.store(t, tokMaint)
	star := mustParse(t, "gitlab://acme/web/variables/ASTRO_TOKEN")
	review := mustParse(t, "gitlab://acme/web/variables/ASTRO_TOKEN?environment_scope=review/x")

	for _, step := range []struct {
		tg  target.Target
		val string
	}{{star, val1}, {review, val2}, {review, val1 + "r"}} {
		if err := s.Put(t.Context(), step.tg, secret.New(step.val)); err != nil {
			t.Fatal(err)
		}
	}
	a, _ := e.fake.ProjectVariable("acme/web", "ASTRO_TOKEN", "*")
	b, _ := e.fake.ProjectVariable("acme/web", "ASTRO_TOKEN", "review/x")
	if a.Value != val1 || b.Value != val1+"r" || len(e.fake.Variables("acme/web")) != 2 {
		t.Errorf("scopes mixed up: * %q, review/x %q, %d variables", a.Value, b.Value, len(e.fake.Variables("acme/web")))
	}
	if err := s.Delete(t.Context(), review); err != nil {
		t.Fatal(err)
	}
	if _, ok := e.fake.ProjectVariable("acme/web", "ASTRO_TOKEN", "*"); !ok {
		t.Error("deleting review/x removed *")
	}
}

func TestPutHidden(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		seed       *gitlabfake.Variable
		target     string
		wantHidden bool
		wantNote   string
		wantCalls  []string
	}{
		{name: "hidden at creation", target: "gitlab://acme/web/variables/K?hidden=true",
			wantHidden: true, wantCalls: []string{"PUT 404", "POST 201"}},
		{name: "asked on an existing variable", seed: &gitlabfake.Variable{Key: "K", Value: "old-value-1", Masked: true},
			target:   "gitlab://acme/web/variables/K?hidden=true",
			wantNote: "variable K already exists, so it cannot be made hidden (GitLab allows hidden only at creation); delete it and rerun to make it hidden", wantCalls: []string{"PUT 200"}},
		{name: "existing unmasked variable becomes masked, still a note", seed: &gitlabfake.Variable{Key: "K", Value: "old value"},
			target:   "gitlab://acme/web/variables/K?hidden=true",
			wantNote: "variable K already exists, so it cannot be made hidden", wantCalls: []string{"PUT 200"}},
		{name: "already hidden", seed: &gitlabfake.Variable{Key: "K", Value: "old-value-1", Hidden: true},
			target: "gitlab://acme/web/variables/K?hidden=true", wantHidden: true, wantCalls: []string{"PUT 200"}},
		{name: "hidden but target does not ask", seed: &gitlabfake.Variable{Key: "K", Value: "old-value-1", Hidden: true},
			target: "gitlab://acme/web/variables/K", wantHidden: true, wantCalls: []string{"PUT 200"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			if tc.seed != nil {
				e.fake.SetProjectVariable("acme/web", *tc.seed)
			}
			_, note, err := e.store(t, tokMaint).PutReport(t.Context(), mustParse(t, tc.target), secret.New(val1))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(note, tc.wantNote) || (tc.wantNote == "" && note != "") {
				t.Errorf("note %q, want %q", note, tc.wantNote)
			}
			v, _ := e.fake.ProjectVariable("acme/web", "K", "*")
			if v.Value != val1 || !v.Masked || v.Hidden != tc.wantHidden {
				t.Errorf("stored value ok=%v masked=%v hidden=%v, want hidden=%v", v.Value == val1, v.Masked, v.Hidden, tc.wantHidden)
			}
			if got := e.calls(); !slices.Equal(got, tc.wantCalls) {
				t.Errorf("calls %v, want %v", got, tc.wantCalls)
			}
		})
	}
}

func TestPutProtectedRawAndKeptFields(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		seed   *gitlabfake.Variable
		target string
		want   gitlabfake.Variable // Value and Key filled in by the test
		// params the PUT must not carry
		notSent []string
	}{
		{name: "create protected raw", target: "gitlab://acme/web/variables/K?protected=true&raw=true",
			want: gitlabfake.Variable{VariableType: "env_var", Masked: true, Protected: true, Raw: true, EnvironmentScope: "*", Description: "managed by astro-ci"}},
		{name: "existing protected raw file variable keeps everything", target: "gitlab://acme/web/variables/K",
			seed:    &gitlabfake.Variable{Key: "K", Value: "old", VariableType: "file", Protected: true, Raw: true, Description: "theirs"},
			want:    gitlabfake.Variable{VariableType: "file", Masked: true, Protected: true, Raw: true, EnvironmentScope: "*", Description: "theirs"},
			notSent: []string{"protected", "raw", "variable_type", "description", "environment_scope", "masked_and_hidden"}},
		{name: "existing plain variable gets protected", target: "gitlab://acme/web/variables/K?protected=true",
			seed: &gitlabfake.Variable{Key: "K", Value: "old"},
			want: gitlabfake.Variable{VariableType: "env_var", Masked: true, Protected: true, EnvironmentScope: "*"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			if tc.seed != nil {
				e.fake.SetProjectVariable("acme/web", *tc.seed)
			}
			if err := e.store(t, tokMaint).Put(t.Context(), mustParse(t, tc.target), secret.New(val1)); err != nil {
				t.Fatal(err)
			}
			want := tc.want
			want.Key, want.Value = "K", val1
			if v, _ := e.fake.ProjectVariable("acme/web", "K", "*"); v != want {
				t.Errorf("stored %+v, want %+v", v, want)
			}
			for _, r := range e.fake.Requests() {
				if r.Method != http.MethodPut {
					continue
				}
				if r.Params["masked"] != "true" || r.Params["filter[environment_scope]"] != "*" {
					t.Errorf("PUT params %v lack masked=true or the filter", r.Params)
				}
				for _, p := range tc.notSent {
					if _, ok := r.Params[p]; ok {
						t.Errorf("PUT sent %s", p)
					}
				}
			}
		})
	}
}

func TestPutRefusesUnmaskableBeforeAnyRequest(t *testing.T) {
	t.Parallel()
	values := map[string]string{
		"empty":       "",
		"short":       "abc1234",
		"space":       "abcd efgh ijkl",
		"tab":         "abcd\tefghijkl",
		"newline":     "abcdefgh\nijklmnop",
		"dollar":      "abcd$efghijkl",
		"non-ascii":   "abcdéfghijkl",
		"punctuation": "abcd!efghijkl",
	}
	for name, val := range values {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			err := e.store(t, tokMaint).Put(t.Context(), mustParse(t, "gitlab://acme/web/variables/K"), secret.New(val))
			te := asTargetError(t, err)
			if te.Retryable || te.Op != "write" || te.Status != 0 {
				t.Errorf("classification %+v", te)
			}
			msg := err.Error()
			if !strings.Contains(msg, "GitLab cannot mask this value (") || !strings.Contains(msg, "astro-ci never stores a token unmasked") {
				t.Errorf("message %q", msg)
			}
			if val != "" && strings.Contains(msg, val) {
				t.Errorf("message contains the value")
			}
			if n := len(e.fake.Requests()); n != 0 {
				t.Errorf("%d requests sent for an unmaskable value", n)
			}
		})
	}
	if maskable(val1) != "" || maskable("a+b=c/d@e:f.g~h-i_j") != "" {
		t.Error("maskable rejects a JWT or the allowed punctuation")
	}
}

func TestGroupVariables(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.store(t, tokOwner)
	tg := mustParse(t, "gitlab://groups/acme/platform/variables/ASTRO_TOKEN?protected=true")

	created, _, err := s.PutReport(t.Context(), tg, secret.New(val1))
	if err != nil || !created {
		t.Fatalf("create: %v %v", created, err)
	}
	// A lookup and, concurrently, the probe of filter support; then POST.
	if got := e.calls(); !slices.Equal(got, []string{"GET 404", "GET 404", "POST 201"}) {
		t.Errorf("create calls %v", got)
	}
	created, _, err = s.PutReport(t.Context(), tg, secret.New(val2))
	if err != nil || created {
		t.Fatalf("update: %v %v", created, err)
	}
	if got := sorted(e.calls()); !slices.Equal(got, []string{"GET 200", "GET 404", "PUT 200"}) {
		t.Errorf("update calls %v", got)
	}
	// The probe answered: from now on one GET before each PUT.
	if err := s.Put(t.Context(), tg, secret.New(val2)); err != nil {
		t.Fatal(err)
	}
	if got := e.calls(); !slices.Equal(got, []string{"GET 200", "PUT 200"}) {
		t.Errorf("update calls %v", got)
	}
	v, _ := e.fake.GroupVariable("acme/platform", "ASTRO_TOKEN", "*")
	if v.Value != val2 || !v.Masked || !v.Protected {
		t.Errorf("group variable %+v", v.Key)
	}

	// By numeric id.
	id := e.fake.AddGroup("acme/platform")
	if err := s.Put(t.Context(), mustParse(t, "gitlab://groups/"+strconv.Itoa(id)+"/variables/ASTRO_TOKEN"), secret.New(val1)); err != nil {
		t.Fatal(err)
	}
	if v, _ := e.fake.GroupVariable("acme/platform", "ASTRO_TOKEN", "*"); v.Value != val1 {
		t.Error("write by numeric group id missed")
	}
}

// TestGroupPutDoesNotHitAnotherScope: GitLab's group PUT with a filter that
// matches nothing updates the key's variable in another scope; the store
// must create the scoped variable instead.
func TestGroupPutDoesNotHitAnotherScope(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.fake.SetGroupVariable("acme", gitlabfake.Variable{Key: "ASTRO_TOKEN", Value: "star-value-0", Masked: true})
	s := e.store(t, tokOwner)
	created, _, err := s.PutReport(t.Context(), mustParse(t, "gitlab://groups/acme/variables/ASTRO_TOKEN?environment_scope=production"), secret.New(val1))
	if err != nil || !created {
		t.Fatalf("put: %v %v", created, err)
	}
	star, _ := e.fake.GroupVariable("acme", "ASTRO_TOKEN", "*")
	prod, _ := e.fake.GroupVariable("acme", "ASTRO_TOKEN", "production")
	if star.Value != "star-value-0" || prod.Value != val1 {
		t.Errorf("* = %q (want untouched), production set = %v", star.Value, prod.Value == val1)
	}
}

func TestProjectAddressing(t *testing.T) {
	t.Parallel()
	tests := []struct {
		target  string
		project string
		path    string
	}{
		{"gitlab://acme/platform/deploy/variables/K", "acme/platform/deploy", "/api/v4/projects/acme%2Fplatform%2Fdeploy/variables/K"},
		{"gitlab://1002/variables/K", "acme/web", "/api/v4/projects/1002/variables/K"},
		{"gitlab://acme/my.app/variables/K", "acme/my.app", "/api/v4/projects/acme%2Fmy%2Eapp/variables/K"},
		{"gitlab://groups/acme/platform/variables/K", "acme/platform", "/api/v4/groups/acme%2Fplatform/variables/K"},
	}
	for _, tc := range tests {
		t.Run(tc.target, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			if err := e.store(t, tokOwner).Put(t.Context(), mustParse(t, tc.target), secret.New(val1)); err != nil {
				t.Fatal(err)
			}
			if r := e.fake.Requests()[0]; r.Path != tc.path {
				t.Errorf("first request path %s, want %s", r.Path, tc.path)
			}
			if len(e.fake.Variables(tc.project)) != 1 {
				t.Errorf("variable not in %s", tc.project)
			}
		})
	}
}

func TestPreflight(t *testing.T) {
	t.Parallel()
	cur := secret.New(val1)
	tests := []struct {
		name      string
		target    string
		token     string
		seed      func(*gitlabfake.Server)
		current   *secret.Value
		wantCalls []string
	}{
		{name: "write-back of current", target: "gitlab://acme/web/variables/K", token: tokMaint, current: &cur,
			seed: func(f *gitlabfake.Server) {
				f.SetProjectVariable("acme/web", gitlabfake.Variable{Key: "K", Value: val1})
			},
			wantCalls: []string{"PUT 200"}},
		{name: "write-back to a hidden variable", target: "gitlab://acme/web/variables/K", token: tokMaint, current: &cur,
			seed: func(f *gitlabfake.Server) {
				f.SetProjectVariable("acme/web", gitlabfake.Variable{Key: "K", Value: val1, Hidden: true})
			},
			wantCalls: []string{"PUT 200"}},
		{name: "canary without current", target: "gitlab://acme/web/variables/K?environment_scope=review/x", token: tokMaint,
			wantCalls: []string{"POST 201", "DELETE 204", "GET 200"}}, // GET: the sweep for earlier runs' canaries
		{name: "canary when current's variable is absent", target: "gitlab://acme/web/variables/K", token: tokMaint, current: &cur,
			wantCalls: []string{"PUT 404", "POST 201", "DELETE 204", "GET 200"}},
		{name: "group write-back", target: "gitlab://groups/acme/variables/K", token: tokOwner, current: &cur,
			seed:      func(f *gitlabfake.Server) { f.SetGroupVariable("acme", gitlabfake.Variable{Key: "K", Value: val1}) },
			wantCalls: []string{"GET 200", "GET 404", "PUT 200"}},
		{name: "group canary", target: "gitlab://groups/acme/variables/K", token: tokOwner, current: &cur,
			wantCalls: []string{"DELETE 204", "GET 404", "GET 404", "POST 201", "GET 200"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			if tc.seed != nil {
				tc.seed(e.fake)
			}
			tg := mustParse(t, tc.target)
			ns := tg.Project + tg.Group
			before := e.fake.Variables(ns)
			if err := e.store(t, tc.token).Preflight(t.Context(), tg, target.Proof{Current: tc.current}); err != nil {
				t.Fatal(err)
			}
			reqs := e.fake.Requests()
			// Sorted: a group lookup runs its probe concurrently
			// (TestRequestSequences pins the order).
			if got := sorted(e.calls()); !slices.Equal(got, sorted(tc.wantCalls)) {
				t.Errorf("calls %v, want %v", got, tc.wantCalls)
			}
			if after := e.fake.Variables(ns); !slices.Equal(before, after) {
				t.Errorf("preflight left a change: before %+v, after %+v", before, after)
			}
			for _, r := range reqs {
				switch r.Method {
				case http.MethodPost:
					key := r.Params["key"]
					if !strings.HasPrefix(key, "ASTRO_CI_PREFLIGHT_") || len(key) != len("ASTRO_CI_PREFLIGHT_")+8 ||
						r.Params["masked"] != "true" || r.Params["environment_scope"] != tg.EnvironmentScope {
						t.Errorf("canary POST %v", r.Params)
					}
				case http.MethodPut:
					// Write-back sends the value only: no flag changes.
					for _, p := range []string{"masked", "protected", "raw"} {
						if _, ok := r.Params[p]; ok {
							t.Errorf("write-back sent %s", p)
						}
					}
				}
			}
		})
	}
}

func TestPreflightCleansUpLeftoverCanaries(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		fault gitlabfake.Fault
	}{
		{"delete failed (both tries)", gitlabfake.Fault{Method: "DELETE", Status: 502, Times: 2}},
		{"create answer lost", gitlabfake.Fault{Method: "POST", Status: 502, AfterApply: true, Times: 1}},
		{"create connection dropped after apply", gitlabfake.Fault{Method: "POST", Drop: true, AfterApply: true, Times: 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			s := e.store(t, tokMaint)
			tg := mustParse(t, "gitlab://acme/web/variables/K")
			e.fake.InjectFault(tc.fault)
			err := s.Preflight(t.Context(), tg, target.Proof{})
			te := asTargetError(t, err)
			if !te.Retryable {
				t.Errorf("not retryable: %v", err)
			}
			left := e.fake.Variables("acme/web")
			if tc.fault.Method == "POST" {
				// A create whose answer was lost is followed by its
				// delete at once: the run may not get another preflight.
				if len(left) != 0 {
					t.Fatalf("the canary of a create whose answer was lost is left: %+v", left)
				}
			} else {
				if len(left) != 1 || !strings.HasPrefix(left[0].Key, target.CanaryPrefix) {
					t.Fatalf("expected one leftover canary, have %+v", left)
				}
				if !strings.Contains(te.Hint, left[0].Key) {
					t.Errorf("hint %q does not name the canary", te.Hint)
				}
			}
			if err := s.Preflight(t.Context(), tg, target.Proof{}); err != nil {
				t.Fatal(err)
			}
			if left := e.fake.Variables("acme/web"); len(left) != 0 {
				t.Errorf("canary still there after the next preflight: %+v", left)
			}
		})
	}
}

// TestPreflightStoppedDuringCanaryCreateDeletesIt: a run stopped (SIGTERM
// cancels its context) while the canary's POST is in flight still deletes
// the canary in its cleanup time, also when GitLab applies that POST a
// moment after the delete that followed it found nothing (the POST's
// connection was closed by the stop; the delete went on a new one). The
// kill harness found it left: TestPreflightCanaryIsRemoved/GitHub/SIGTERM,
// where the GitLab preflight ran beside the GitHub one.
func TestPreflightStoppedDuringCanaryCreateDeletesIt(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		late time.Duration // the POST is applied this long after the stop
	}{
		{"applied before the stop", -1},
		{"applied after the first delete", 150 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			post := func(r *http.Request) bool { return r.Method == http.MethodPost }
			h, applied := fakefault.StopInFlight(e.fake, post, cancel, tc.late)
			srv := httptest.NewServer(h)
			t.Cleanup(srv.Close)
			s, err := New(Config{BaseURL: srv.URL + "/api/v4", Token: secret.New(tokMaint), HTTPClient: srv.Client(), Rand: &seqReader{}})
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Preflight(ctx, mustParse(t, "gitlab://acme/web/variables/K"), target.Proof{}); err == nil {
				t.Fatal("a preflight stopped mid-way succeeded")
			}
			<-applied
			if left := e.fake.Variables("acme/web"); len(left) != 0 {
				t.Errorf("stopped during the canary's create, the preflight leaves %+v", left)
			}
		})
	}
}

func TestErrorsExplain(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		token      string
		target     string
		wantStatus int
		wantErr    string
		wantHint   string
	}{
		{"unknown token", "glpat-nope-0000000000", "gitlab://acme/web/variables/K", 401, "401 Unauthorized",
			"the GitLab token is invalid, expired or revoked (ASTRO_CI_GITLAB_TOKEN / GITLAB_TOKEN)"},
		{"expired token", tokExpired, "gitlab://acme/web/variables/K", 401, "Token has expired.", "invalid, expired or revoked"},
		{"job token value", tokJob, "gitlab://acme/platform/deploy/variables/K", 401, "401", "CI_JOB_TOKEN is not accepted by the variables API"},
		{"developer", tokDev, "gitlab://acme/platform/deploy/variables/K", 403, "403 Forbidden",
			"the token needs the Maintainer role on project acme/platform/deploy and the api scope"},
		{"read_api", tokReadAPI, "gitlab://acme/platform/deploy/variables/K", 403, "insufficient_scope",
			"the token lacks the api scope (read_api is not enough)"},
		{"group maintainer", tokGroupM, "gitlab://groups/acme/variables/K", 403, "403 Forbidden",
			"the token needs the Owner role on group acme and the api scope"},
		{"unknown project", tokMaint, "gitlab://acme/nope/variables/K", 404, "Project Not Found",
			"project acme/nope not found or not visible to this token (check the path or use the numeric id)"},
		{"project without a role", tokMaint, "gitlab://other/secret/variables/K", 404, "Project Not Found", "not visible to this token"},
		{"unknown group", tokOwner, "gitlab://groups/nope/variables/K", 404, "Group Not Found", "group nope not found"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			s := e.store(t, tc.token)
			tg := mustParse(t, tc.target)
			cur := secret.New(val2)
			ops := map[string]func() error{
				"write":     func() error { return s.Put(t.Context(), tg, secret.New(val1)) },
				"preflight": func() error { return s.Preflight(t.Context(), tg, target.Proof{Current: &cur}) },
				"delete":    func() error { return s.Delete(t.Context(), tg) },
			}
			for op, run := range ops {
				err := run()
				te := asTargetError(t, err)
				if te.Op != op || te.Status != tc.wantStatus || te.Retryable || te.PushBack || te.Target != tg.String() {
					t.Errorf("%s: classification %+v", op, te)
				}
				if !strings.Contains(te.Err.Error(), tc.wantErr) || !strings.Contains(te.Hint, tc.wantHint) {
					t.Errorf("%s: error %q, want %q and hint %q", op, err, tc.wantErr, tc.wantHint)
				}
			}
		})
	}
}

func TestRetryableFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name           string
		fault          gitlabfake.Fault
		wantStatus     int
		wantRetry      bool
		wantPushBack   bool
		wantRetryAfter time.Duration
	}{
		{"429 Retry-After seconds", gitlabfake.Fault{Status: 429, RetryAfter: "7"}, 429, true, true, 7 * time.Second},
		{"429 Retry-After date", gitlabfake.Fault{Status: 429, RetryAfter: t0.Add(90 * time.Second).Format(http.TimeFormat)}, 429, true, true, 90 * time.Second},
		{"429 RateLimit-Reset", gitlabfake.Fault{Status: 429, Header: http.Header{"RateLimit-Reset": {strconv.FormatInt(t0.Add(30*time.Second).Unix(), 10)}}}, 429, true, true, 30 * time.Second},
		{"429 without a wait", gitlabfake.Fault{Status: 429}, 429, true, true, 0},
		{"500", gitlabfake.Fault{Status: 500}, 500, true, false, 0},
		{"502", gitlabfake.Fault{Status: 502}, 502, true, false, 0},
		{"503 Retry-After", gitlabfake.Fault{Status: 503, RetryAfter: "3"}, 503, true, false, 3 * time.Second},
		{"504", gitlabfake.Fault{Status: 504}, 504, true, false, 0},
		{"501 is not transient", gitlabfake.Fault{Status: 501}, 501, false, false, 0},
		{"dropped connection", gitlabfake.Fault{Drop: true}, 0, true, false, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			f := tc.fault
			f.Method = "PUT"
			e.fake.InjectFault(f)
			err := e.store(t, tokMaint).Put(t.Context(), mustParse(t, "gitlab://acme/web/variables/K"), secret.New(val1))
			te := asTargetError(t, err)
			if te.Status != tc.wantStatus || te.Retryable != tc.wantRetry || te.PushBack != tc.wantPushBack || te.RetryAfter != tc.wantRetryAfter {
				t.Errorf("got status %d retryable %v pushback %v after %v; want %d %v %v %v (%v)",
					te.Status, te.Retryable, te.PushBack, te.RetryAfter, tc.wantStatus, tc.wantRetry, tc.wantPushBack, tc.wantRetryAfter, err)
			}
			// client-go must not retry on its own: one PUT, nothing else.
			if got := e.calls(); len(got) != 1 {
				t.Errorf("calls %v, want exactly one (client-go retries must be off)", got)
			}
		})
	}
}

// TestFanoutRetriesGitLab runs the store under target.Fanout: a 429 is
// retried after the wait GitLab asked for, and the write then succeeds.
func TestFanoutRetriesGitLab(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.fake.InjectFault(gitlabfake.Fault{Method: "PUT", Status: 429, RetryAfter: "5", Times: 1})
	var waits []time.Duration
	fo := &target.Fanout{
		Stores: map[target.Scheme]target.Store{target.GitLab: e.store(t, tokMaint)},
		Sleep:  func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil },
		Jitter: func() float64 { return 0 },
	}
	var ts []target.Target
	for _, k := range []string{"A", "B", "C", "D", "E", "F"} {
		ts = append(ts, mustParse(t, "gitlab://acme/web/variables/"+k))
	}
	res := fo.Put(t.Context(), ts, secret.New(val1))
	if err := target.Err(res); err != nil {
		t.Fatal(err)
	}
	attempts := 0
	for _, r := range res {
		attempts += r.Attempts
	}
	if attempts != len(ts)+1 || !slices.Equal(waits, []time.Duration{5 * time.Second}) {
		t.Errorf("attempts %d, waits %v", attempts, waits)
	}
	if n := len(e.fake.Variables("acme/web")); n != len(ts) {
		t.Errorf("%d variables written", n)
	}
}

func TestDelete(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.store(t, tokMaint)
	e.fake.SetProjectVariable("acme/web", gitlabfake.Variable{Key: "K", Value: "a-value-1"})
	e.fake.SetProjectVariable("acme/web", gitlabfake.Variable{Key: "K", Value: "a-value-2", EnvironmentScope: "review/x"})
	tg := mustParse(t, "gitlab://acme/web/variables/K")
	for range 2 {
		if err := s.Delete(t.Context(), tg); err != nil {
			t.Fatal(err)
		}
	}
	if got := e.calls(); !slices.Equal(got, []string{"DELETE 204", "DELETE 404"}) {
		t.Errorf("calls %v", got)
	}
	if _, ok := e.fake.ProjectVariable("acme/web", "K", "review/x"); !ok {
		t.Error("delete of * removed review/x")
	}
	if err := e.store(t, tokOwner).Delete(t.Context(), mustParse(t, "gitlab://groups/acme/variables/NONE")); err != nil {
		t.Errorf("group delete of an absent variable: %v", err)
	}
	err := s.Delete(t.Context(), mustParse(t, "gitlab://acme/nope/variables/K"))
	if te := asTargetError(t, err); te.Status != 404 || te.Op != "delete" {
		t.Errorf("absent project: %v", err)
	}
}

func TestNew(t *testing.T) {
	t.Parallel()
	tok := secret.New("glpat-NEWTEST-SECRET-hhhhhh")
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
		wantURL string
	}{
		{name: "job token", cfg: Config{JobToken: true}, wantErr: "project access token"},
		{name: "job token by prefix", cfg: Config{Token: secret.New("glcbt-64_abcdefghijkl")}, wantErr: "CI_JOB_TOKEN cannot manage CI/CD variables"},
		{name: "no token", cfg: Config{}, wantErr: "ASTRO_CI_GITLAB_TOKEN"},
		{name: "ftp", cfg: Config{Token: tok, BaseURL: "ftp://gitlab.example.com"}, wantErr: "not an http(s) URL"},
		{name: "no host", cfg: Config{Token: tok, BaseURL: "gitlab.example.com/api/v4"}, wantErr: "not an http(s) URL"},
		{name: "query", cfg: Config{Token: tok, BaseURL: "https://gitlab.example.com/api/v4?x=1"}, wantErr: "not an http(s) URL"},
		{name: "default", cfg: Config{Token: tok}, wantURL: "https://gitlab.com/api/v4/"},
		{name: "self-managed", cfg: Config{Token: tok, BaseURL: "https://gitlab.example.com/api/v4"}, wantURL: "https://gitlab.example.com/api/v4/"},
		{name: "without api/v4", cfg: Config{Token: tok, BaseURL: "https://gitlab.example.com/"}, wantURL: "https://gitlab.example.com/api/v4/"},
		{name: "sub-path install", cfg: Config{Token: tok, BaseURL: "https://example.com/gitlab/api/v4/"}, wantURL: "https://example.com/gitlab/api/v4/"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, err := New(tc.cfg)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				if strings.Contains(err.Error(), tok.Reveal()) {
					t.Error("error holds the token")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := s.c.BaseURL().String(); got != tc.wantURL {
				t.Errorf("base URL %s, want %s", got, tc.wantURL)
			}
		})
	}
	for _, want := range []string{"Maintainer role", "api scope", "ASTRO_CI_GITLAB_TOKEN", "masked"} {
		if !strings.Contains(ErrJobToken.Error(), want) {
			t.Errorf("job token explanation lacks %q", want)
		}
	}
}

func TestInjectedClientIsUsedNotModified(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var seen atomic.Int32
	base := e.srv.Client()
	hc := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		seen.Add(1)
		return base.Transport.RoundTrip(r)
	})}
	s, err := New(Config{BaseURL: e.srv.URL + "/api/v4", Token: secret.New(tokMaint), HTTPClient: hc})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Put(t.Context(), mustParse(t, "gitlab://acme/web/variables/K"), secret.New(val1)); err != nil {
		t.Fatal(err)
	}
	if seen.Load() != 2 {
		t.Errorf("injected transport saw %d requests, want 2", seen.Load())
	}
	if hc.CheckRedirect != nil {
		t.Error("New modified the injected client")
	}
	if _, ok := hc.Transport.(roundTripFunc); !ok {
		t.Error("New replaced the injected client's transport")
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestRedirectNotFollowed: PRIVATE-TOKEN survives cross-host redirects in
// Go, so the store must not follow one at all.
func TestRedirectNotFollowed(t *testing.T) {
	t.Parallel()
	var leaked atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("PRIVATE-TOKEN") != "" {
			leaked.Add(1)
		}
		w.WriteHeader(200)
	}))
	defer other.Close()
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	defer redirector.Close()
	s, err := New(Config{BaseURL: redirector.URL + "/api/v4", Token: secret.New(tokMaint), HTTPClient: redirector.Client()})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Put(t.Context(), mustParse(t, "gitlab://acme/web/variables/K"), secret.New(val1))
	te := asTargetError(t, err)
	if te.Status != 307 || !strings.Contains(te.Hint, "redirect") || te.Retryable {
		t.Errorf("redirect: %+v", te)
	}
	if leaked.Load() != 0 {
		t.Error("the token followed the redirect")
	}
}

func TestConcurrentPuts(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.store(t, tokOwner)
	fo := &target.Fanout{Stores: map[target.Scheme]target.Store{target.GitLab: s}, Limit: 8}
	var ts []target.Target
	for _, k := range []string{"A", "B", "C", "D", "E", "F", "G", "H", "I", "J"} {
		ts = append(ts, mustParse(t, "gitlab://acme/web/variables/"+k), mustParse(t, "gitlab://groups/acme/variables/"+k))
	}
	if err := target.Err(fo.Preflight(t.Context(), ts, target.Proof{})); err != nil {
		t.Fatal(err)
	}
	if err := target.Err(fo.Put(t.Context(), ts, secret.New(val1))); err != nil {
		t.Fatal(err)
	}
	if err := target.Err(fo.Delete(t.Context(), ts)); err != nil {
		t.Fatal(err)
	}
	if n := len(e.fake.Variables("acme/web")) + len(e.fake.Variables("acme")); n != 0 {
		t.Errorf("%d variables left", n)
	}
}

func TestCanceledContext(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := e.store(t, tokMaint).Put(ctx, mustParse(t, "gitlab://acme/web/variables/K"), secret.New(val1))
	te := asTargetError(t, err)
	if te.Retryable || !errors.Is(err, context.Canceled) {
		t.Errorf("canceled: %+v", te)
	}
}

// TestCreateRace: the variable appears between the PUT (404) and the POST
// (400 taken); the store updates it instead of failing.
func TestCreateRace(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var once atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && once.CompareAndSwap(false, true) {
			e.fake.SetProjectVariable("acme/web", gitlabfake.Variable{Key: "K", Value: "theirs-123", Masked: true})
		}
		e.fake.ServeHTTP(w, r)
	}))
	defer srv.Close()
	s, err := New(Config{BaseURL: srv.URL, Token: secret.New(tokMaint), HTTPClient: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	created, _, err := s.PutReport(t.Context(), mustParse(t, "gitlab://acme/web/variables/K"), secret.New(val1))
	if err != nil || created {
		t.Fatalf("created=%v err=%v", created, err)
	}
	if got := e.calls(); !slices.Equal(got, []string{"PUT 404", "POST 400", "PUT 200"}) {
		t.Errorf("calls %v", got)
	}
	if v, _ := e.fake.ProjectVariable("acme/web", "K", "*"); v.Value != val1 {
		t.Error("value not written")
	}
}

// TestBadRequestSaysWhatGitLabSaid: a 400 carries GitLab's message.
func TestBadRequestSaysWhatGitLabSaid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		body     string
		wantErr  string
		wantHint string
	}{
		{`{"message":{"value":["is invalid"]}}`, "GitLab answered 400 Bad Request: value is invalid", "GitLab would not mask the value; astro-ci never stores a token unmasked"},
		{`{"message":{"base":["Updating masked attribute is not allowed on updates for hidden variables."]}}`, "400 Bad Request: Updating masked attribute is not allowed", ""},
		{`{"error":"value is missing"}`, "400 Bad Request: value is missing", ""},
		{`<html>proxy says no</html>`, "GitLab answered 400 Bad Request", ""},
	}
	for _, tc := range tests {
		t.Run(tc.wantErr, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusBadRequest)
				_, _ = w.Write([]byte(tc.body))
			}))
			defer srv.Close()
			s, err := New(Config{BaseURL: srv.URL, Token: secret.New(tokMaint), HTTPClient: srv.Client()})
			if err != nil {
				t.Fatal(err)
			}
			err = s.Put(t.Context(), mustParse(t, "gitlab://acme/web/variables/K"), secret.New(val1))
			te := asTargetError(t, err)
			if te.Status != 400 || te.Retryable || !strings.Contains(te.Err.Error(), tc.wantErr) || te.Hint != tc.wantHint {
				t.Errorf("got %q (hint %q)", err, te.Hint)
			}
			if strings.Contains(err.Error(), "html") {
				t.Error("HTML body copied into the message")
			}
		})
	}
}

// TestHiddenUnsupported: a GitLab before 17.4 ignores masked_and_hidden; the
// variable is created masked and the note says it is not hidden.
func TestHiddenUnsupported(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	old := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			var m map[string]any
			_ = json.NewDecoder(r.Body).Decode(&m)
			delete(m, "masked_and_hidden")
			b, _ := json.Marshal(m)
			r.Body = io.NopCloser(bytes.NewReader(b))
			r.ContentLength = int64(len(b))
		}
		e.fake.ServeHTTP(w, r)
	}))
	defer old.Close()
	s, err := New(Config{BaseURL: old.URL + "/api/v4", Token: secret.New(tokMaint), HTTPClient: old.Client()})
	if err != nil {
		t.Fatal(err)
	}
	created, note, err := s.PutReport(t.Context(), mustParse(t, "gitlab://acme/web/variables/K?hidden=true"), secret.New(val1))
	if err != nil || !created || !strings.Contains(note, "created masked but not hidden") {
		t.Errorf("created=%v note=%q err=%v", created, note, err)
	}
	if v, _ := e.fake.ProjectVariable("acme/web", "K", "*"); !v.Masked || v.Hidden {
		t.Errorf("stored masked=%v hidden=%v", v.Masked, v.Hidden)
	}
}

// TestPreflightSweepsCanariesOfKilledRuns: a canary a killed run left (it
// had no chance to delete it) goes with the next preflight that proves a
// write there; a variable of the user's that merely shares the prefix
// stays.
func TestPreflightSweepsCanariesOfKilledRuns(t *testing.T) {
	t.Parallel()
	for _, tgt := range []string{"gitlab://acme/web/variables/K", "gitlab://groups/acme/variables/K"} {
		e := newEnv(t)
		tg := mustParse(t, tgt)
		set := e.fake.SetProjectVariable
		ns := "acme/web"
		if tg.Kind == target.KindGroupVar {
			set, ns = e.fake.SetGroupVariable, "acme"
		}
		set(ns, gitlabfake.Variable{Key: "ASTRO_CI_PREFLIGHT_DEADBEEF", Value: "0123456789abcdef", Masked: true, EnvironmentScope: "*", Description: canaryDescription})
		set(ns, gitlabfake.Variable{Key: "ASTRO_CI_PREFLIGHT_MINE", Value: "users-own-value", EnvironmentScope: "*", Description: "mine"})
		if err := e.store(t, tokOwner).Preflight(t.Context(), tg, target.Proof{}); err != nil {
			t.Fatal(err)
		}
		var keys []string
		for _, v := range e.fake.Variables(ns) {
			keys = append(keys, v.Key)
		}
		if !slices.Equal(keys, []string{"ASTRO_CI_PREFLIGHT_MINE"}) {
			t.Errorf("%s: variables left %v", tgt, keys)
		}
	}
}
