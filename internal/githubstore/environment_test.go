package githubstore

import (
	"strings"
	"testing"

	"github.com/astro-ci/astro-ci/internal/githubfake"
	"github.com/astro-ci/astro-ci/internal/secret"
	"github.com/astro-ci/astro-ci/internal/target"
)

// patAdmin may also create and delete environments.
const patAdmin = "github_pat_11AAAAAAA0_administration"

const previewEnv = "github://o/r/environments/preview-feature-x/secrets/ASTRO_TOKEN?create_environment=true"

func addAdminToken(f *fixture) {
	f.fake.AddToken(patAdmin, githubfake.TokenPerms{Label: "admin", Perms: map[string]string{
		"secrets": "write", "environments": "read", "administration": "write",
	}})
}

func TestCreateEnvironment(t *testing.T) {
	t.Parallel()
	t.Run("preflight creates, put writes", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		addAdminToken(f)
		s := f.store(t, func(c *Config) { c.Token = secret.New(patAdmin) })
		tg := mustParse(t, previewEnv)
		if err := s.Preflight(t.Context(), tg, target.Proof{}); err != nil {
			t.Fatalf("Preflight: %v", err)
		}
		if !f.fake.HasEnvironment("o", "r", "preview-feature-x") {
			t.Fatal("preflight did not create the environment")
		}
		if names := f.fake.SecretNames("env:o/r/preview-feature-x"); len(names) != 0 {
			t.Errorf("preflight left secrets %q", names)
		}
		if err := s.Put(t.Context(), tg, secret.New(secretValue)); err != nil {
			t.Fatalf("Put: %v", err)
		}
		if v, _ := f.fake.EnvSecret("o", "r", "preview-feature-x", "ASTRO_TOKEN"); v != secretValue {
			t.Errorf("value %q, want the token", v)
		}
		// The environment is looked up and created once, then cached.
		if n := f.count("GET", "/repos/o/r/environments/preview-feature-x"); n != 1 {
			t.Errorf("%d GETs of the environment, want 1", n)
		}
		if n := f.count("PUT", "/repos/o/r/environments/preview-feature-x"); n != 1 {
			t.Errorf("%d PUTs of the environment, want 1", n)
		}
	})
	t.Run("put alone creates", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		addAdminToken(f)
		s := f.store(t, func(c *Config) { c.Token = secret.New(patAdmin) })
		tg := mustParse(t, "github://o/r/environments/preview%2Ffeature-y/secrets/ASTRO_TOKEN?create_environment=true")
		created, err := s.PutReport(t.Context(), tg, secret.New(secretValue))
		if err != nil || !created {
			t.Fatalf("PutReport = %v, %v; want created", created, err)
		}
		if v, _ := f.fake.EnvSecret("o", "r", "preview/feature-y", "ASTRO_TOKEN"); v != secretValue {
			t.Errorf("value %q, want the token", v)
		}
		if n := f.count("PUT", "/repos/o/r/environments/preview%2Ffeature-y"); n != 1 {
			t.Errorf("%d PUTs of the environment, want 1", n)
		}
	})
	t.Run("existing environment needs no administration", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		s := f.store(t, nil) // patAll: no Administration
		tg := mustParse(t, "github://o/r/environments/prod/secrets/ASTRO_TOKEN?create_environment=true")
		if err := s.Preflight(t.Context(), tg, target.Proof{}); err != nil {
			t.Fatalf("Preflight: %v", err)
		}
		if err := s.Put(t.Context(), tg, secret.New(secretValue)); err != nil {
			t.Fatalf("Put: %v", err)
		}
		if v, _ := f.fake.EnvSecret("o", "r", "prod", "ASTRO_TOKEN"); v != secretValue {
			t.Errorf("value %q, want the token", v)
		}
		if n := f.count("PUT", "/repos/o/r/environments/prod"); n != 0 {
			t.Errorf("%d PUTs of an existing environment, want 0", n)
		}
	})
}

func TestCreateEnvironmentWithoutPermission(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	s := f.store(t, nil) // patAll: Secrets and Environments, no Administration
	tg := mustParse(t, previewEnv)
	check := func(op string, err error) {
		t.Helper()
		te := asTargetError(t, err)
		if te.Op != op || te.Status != 403 || te.Retryable || te.Target != tg.String() {
			t.Errorf("%s: error %+v, want status 403, not retryable", op, te)
		}
		for _, want := range []string{
			`creating environment "preview-feature-x" (?create_environment=true)`,
			"fine-grained permission Administration: write on o/r",
			"classic PAT: repo scope",
			"GitHub accepts: administration=write",
			"create the environment by hand (Settings → Environments)",
			"workflow job with `environment: preview-feature-x`",
		} {
			if !strings.Contains(te.Hint, want) {
				t.Errorf("%s: hint %q lacks %q", op, te.Hint, want)
			}
		}
	}
	check("preflight", s.Preflight(t.Context(), tg, target.Proof{}))
	check("write", s.Put(t.Context(), tg, secret.New(secretValue)))
	if f.fake.HasEnvironment("o", "r", "preview-feature-x") {
		t.Error("the environment was created without the permission")
	}
	if f.count("PUT", "/secrets/ASTRO_TOKEN") != 0 {
		t.Error("a secret was written without its environment")
	}
}

func TestDeleteRemovesEnvironment(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	addAdminToken(f)
	s := f.store(t, func(c *Config) { c.Token = secret.New(patAdmin) })
	tg := mustParse(t, previewEnv)
	if err := s.Put(t.Context(), tg, secret.New("first")); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if err := s.Delete(t.Context(), tg); err != nil {
			t.Fatalf("Delete %d: %v", i, err)
		}
		if f.fake.HasEnvironment("o", "r", "preview-feature-x") {
			t.Fatalf("Delete %d left the environment", i)
		}
	}
	if _, ok := f.fake.EnvSecret("o", "r", "preview-feature-x", "ASTRO_TOKEN"); ok {
		t.Error("the secret survived")
	}
	if n := f.count("DELETE", "/repos/o/r/environments/preview-feature-x/secrets/ASTRO_TOKEN"); n != 2 {
		t.Errorf("%d secret DELETEs, want 2 (secret first, every time)", n)
	}
	if n := f.count("DELETE", "/repos/o/r/environments/preview-feature-x"); n != 2 {
		t.Errorf("%d environment DELETEs, want 2", n)
	}

	// The same Store writes the preview again: the environment is created
	// anew, with a new key pair, despite the earlier caches.
	if err := s.Put(t.Context(), tg, secret.New(secretValue)); err != nil {
		t.Fatalf("Put after Delete: %v", err)
	}
	if v, _ := f.fake.EnvSecret("o", "r", "preview-feature-x", "ASTRO_TOKEN"); v != secretValue {
		t.Errorf("value %q after re-creation", v)
	}
	if f.fake.DecryptFailures() != 0 {
		t.Error("a value was sealed for a deleted environment's key")
	}

	t.Run("without the option the environment stays", func(t *testing.T) {
		plain := mustParse(t, "github://o/r/environments/prod/secrets/X")
		if err := s.Put(t.Context(), plain, secret.New("v")); err != nil {
			t.Fatal(err)
		}
		if err := s.Delete(t.Context(), plain); err != nil {
			t.Fatal(err)
		}
		if !f.fake.HasEnvironment("o", "r", "prod") {
			t.Error("Delete without create_environment removed the environment")
		}
	})
}

func TestDeleteEnvironmentWithoutPermission(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	addAdminToken(f)
	tg := mustParse(t, previewEnv)
	if err := f.store(t, func(c *Config) { c.Token = secret.New(patAdmin) }).Put(t.Context(), tg, secret.New(secretValue)); err != nil {
		t.Fatal(err)
	}
	te := asTargetError(t, f.store(t, nil).Delete(t.Context(), tg))
	if te.Op != "delete" || te.Status != 403 || te.Retryable {
		t.Errorf("error %+v, want delete 403", te)
	}
	for _, want := range []string{
		"the environment belongs to the preview and is deleted with its secret",
		"Administration: write on o/r",
		"administration=write",
		"drop ?create_environment=true",
		"the secret itself was deleted",
	} {
		if !strings.Contains(te.Hint, want) {
			t.Errorf("hint %q lacks %q", te.Hint, want)
		}
	}
	if _, ok := f.fake.EnvSecret("o", "r", "preview-feature-x", "ASTRO_TOKEN"); ok {
		t.Error("the secret was not deleted")
	}
	if !f.fake.HasEnvironment("o", "r", "preview-feature-x") {
		t.Error("the environment is gone despite the 403")
	}
}

func TestMissingEnvironmentWithoutOption(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	addAdminToken(f)
	// Even a token that could create it does not without the option.
	s := f.store(t, func(c *Config) { c.Token = secret.New(patAdmin) })
	tg := mustParse(t, "github://o/r/environments/preview-feature-x/secrets/ASTRO_TOKEN")
	for _, tc := range []struct {
		op   string
		err  error
		hint []string
	}{
		{"preflight", s.Preflight(t.Context(), tg, target.Proof{}), []string{
			`environment "preview-feature-x" does not exist in o/r`,
			"create the environment first (Settings → Environments) or use a repository secret",
			"add ?create_environment=true to the target",
		}},
		{"write", s.Put(t.Context(), tg, secret.New(secretValue)), []string{
			`o/r or its environment "preview-feature-x" not found`,
			"an environment must exist first: Settings → Environments",
			"add ?create_environment=true to the target",
		}},
	} {
		te := asTargetError(t, tc.err)
		if te.Op != tc.op || te.Status != 404 || te.Retryable {
			t.Errorf("%s: error %+v, want 404", tc.op, te)
		}
		for _, want := range tc.hint {
			if !strings.Contains(te.Hint, want) {
				t.Errorf("%s: hint %q lacks %q", tc.op, te.Hint, want)
			}
		}
	}
	if f.fake.HasEnvironment("o", "r", "preview-feature-x") {
		t.Error("the environment was created without create_environment=true")
	}
	if n := f.count("PUT", "/repos/o/r/environments/preview-feature-x"); n != 0 {
		t.Errorf("%d environment PUTs without the option", n)
	}
}

func TestCreateEnvironmentAsApp(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.fake.AddApp("4242", &appKey().PublicKey)
	inst := f.fake.AddInstallation("4242", "o", map[string]string{"secrets": "write", "environments": "read", "administration": "write"}, nil)
	s := f.store(t, func(c *Config) {
		c.Token, c.AppID, c.AppPrivateKey = secret.Value{}, "4242", secret.New(pemPKCS1(appKey()))
	})
	if err := s.Put(t.Context(), mustParse(t, previewEnv), secret.New(secretValue)); err != nil {
		t.Fatalf("Put: %v", err)
	}
	if v, _ := f.fake.EnvSecret("o", "r", "preview-feature-x", "ASTRO_TOKEN"); v != secretValue {
		t.Errorf("value %q, want the token", v)
	}
	// A revoked installation token, met first at the environment lookup,
	// is retryable and replaced on the next attempt.
	f.fake.RevokeInstallationTokens(inst)
	other := mustParse(t, "github://o/r/environments/preview-other/secrets/ASTRO_TOKEN?create_environment=true")
	te := asTargetError(t, s.Put(t.Context(), other, secret.New(secretValue)))
	if te.Status != 401 || !te.Retryable {
		t.Fatalf("error %+v, want a retryable 401", te)
	}
	if err := s.Put(t.Context(), other, secret.New(secretValue)); err != nil {
		t.Fatalf("Put with a new installation token: %v", err)
	}
	if !f.fake.HasEnvironment("o", "r", "preview-other") {
		t.Error("environment not created")
	}

	t.Run("hint names the app permission", func(t *testing.T) {
		f.fake.AddInstallation("4242", "acme", map[string]string{"secrets": "write", "environments": "read"}, nil)
		te := asTargetError(t, s.Put(t.Context(), mustParse(t, "github://acme/web/environments/pr-1/secrets/T?create_environment=true"), secret.New(secretValue)))
		if te.Status != 403 || !strings.Contains(te.Hint, "the GitHub App's repository permission Administration: write on acme/web") {
			t.Errorf("error %+v", te)
		}
	})
}
