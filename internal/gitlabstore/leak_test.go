package gitlabstore

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/astro-ci/astro-ci/internal/gitlabfake"
	"github.com/astro-ci/astro-ci/internal/secret"
	"github.com/astro-ci/astro-ci/internal/target"
)

// echoServer answers every request with a 400 whose message quotes the
// request body and the token: a misbehaving GitLab or proxy. The store's
// errors must still not carry either.
func echoServer(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		msg := map[string]any{"message": map[string]any{"value": []string{string(body) + " is invalid", "token " + r.Header.Get("PRIVATE-TOKEN")}}}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(msg)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestNoSecretInAnyError runs every failure path and scans every string
// each error can be printed as for the values and tokens involved.
func TestNoSecretInAnyError(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	echo := echoServer(t)
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()

	cur := secret.New(val2)
	unmaskable := "SECRET VALUE WITH SPACES 1234"
	secrets := []string{val1, val2, unmaskable, tokMaint, tokOwner, tokGroupM, tokDev, tokReadAPI, tokExpired, tokJob, "glpat-nope-0000000000"}

	type op struct {
		name string
		run  func() error
	}
	var ops []op
	add := func(name string, run func() error) { ops = append(ops, op{name, run}) }

	for _, tok := range []string{"glpat-nope-0000000000", tokExpired, tokJob, tokDev, tokReadAPI, tokGroupM, tokMaint} {
		s := e.store(t, tok)
		for _, raw := range []string{"gitlab://acme/platform/deploy/variables/K", "gitlab://groups/acme/variables/K", "gitlab://acme/nope/variables/K", "gitlab://other/secret/variables/K?hidden=true"} {
			tg := mustParse(t, raw)
			add(tok+" put "+raw, func() error { return s.Put(t.Context(), tg, secret.New(val1)) })
			add(tok+" preflight "+raw, func() error { return s.Preflight(t.Context(), tg, target.Proof{Current: &cur}) })
			add(tok+" delete "+raw, func() error { return s.Delete(t.Context(), tg) })
		}
	}
	// Read preflights, a group without scoped variables, a GitLab before
	// 16.9: the refusals name scopes and keys, never values.
	for _, tok := range []string{tokReadAPI, tokDev, tokOwner} {
		s := e.store(t, tok)
		for _, raw := range []string{"gitlab://acme/platform/deploy/variables/K", "gitlab://groups/acme/variables/K?environment_scope=review/x"} {
			tg := mustParse(t, raw)
			add(tok+" read preflight "+raw, func() error { return s.Preflight(t.Context(), tg, target.Proof{Current: &cur, ByRead: true}) })
		}
	}
	noScopes := newEnv(t)
	noScopes.fake.SetScopedGroupVariables("acme", false)
	noScopes.fake.SetGroupVariable("acme", gitlabfake.Variable{Key: "K", Value: val2, Masked: true})
	old := newEnvWith(t, gitlabfake.Options{Version: "16.0.0"})
	old.fake.SetGroupVariable("acme", gitlabfake.Variable{Key: "K", Value: val2, Masked: true})
	old.fake.SetGroupVariable("acme", gitlabfake.Variable{Key: "K", Value: val2, Masked: true, EnvironmentScope: "review/x"})
	for _, env := range []*env{noScopes, old} {
		s := env.store(t, tokOwner)
		tg := mustParse(t, "gitlab://groups/acme/variables/K?environment_scope=review/x")
		add("scoped put", func() error { return s.Put(t.Context(), tg, secret.New(val1)) })
		add("scoped preflight", func() error { return s.Preflight(t.Context(), tg, target.Proof{Current: &cur}) })
		add("scoped delete", func() error { return s.Delete(t.Context(), tg) })
	}

	s := e.store(t, tokMaint)
	tg := mustParse(t, "gitlab://acme/web/variables/K")
	add("unmaskable", func() error { return s.Put(t.Context(), tg, secret.New(unmaskable)) })
	for _, f := range []gitlabfake.Fault{{Status: 429, RetryAfter: "1"}, {Status: 502}, {Drop: true},
		{AfterApply: true, Body: `{"message":"` + val1 + `"}x`}, {AfterApply: true, Truncate: 30}, {Status: 404, Truncate: 5}} {
		add("fault", func() error {
			defer e.fake.InjectFault(f)()
			return s.Put(t.Context(), tg, secret.New(val1))
		})
	}
	for _, base := range []string{echo.URL, closedURL} {
		bs, err := New(Config{BaseURL: base, Token: secret.New(tokMaint), HTTPClient: echo.Client()})
		if err != nil {
			t.Fatal(err)
		}
		add(base+" put", func() error { return bs.Put(t.Context(), tg, secret.New(val1)) })
		add(base+" preflight", func() error { return bs.Preflight(t.Context(), tg, target.Proof{Current: &cur}) })
		add(base+" delete", func() error { return bs.Delete(t.Context(), tg) })
	}

	failures := 0
	for _, o := range ops {
		err := o.run()
		if err == nil {
			continue
		}
		failures++
		for _, str := range errorStrings(err) {
			for _, sec := range secrets {
				if strings.Contains(str, sec) {
					t.Errorf("%s: error text holds a secret (%d chars): %q", o.name, len(sec), strings.ReplaceAll(str, sec, "<SECRET>"))
				}
			}
		}
	}
	// tokMaint and tokGroupM (Maintainer on acme, inherited) succeed on
	// deploy (6 operations), tokOwner's read preflights succeed (2), and
	// so does the delete of an absent scoped variable (1).
	if failures < len(ops)-9 {
		t.Errorf("only %d of %d operations failed; the scan covers too little", failures, len(ops))
	}
}
