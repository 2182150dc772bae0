package cli

import (
	"io"
	"strings"
	"testing"

	"filippo.io/age"
	"filippo.io/age/armor"

	"github.com/astro-ci/astro-ci/internal/githubfake"
)

// A permanent GitHub failure after an in-place rotate: the value survives
// only in the recovery blob, which decrypts to what Astro holds, and the
// error says how to finish.
func TestInPlaceGitHubFailureRecoveryBlob(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	gh := h.github()
	gh.AddRepo("acme", "web", true)
	h.admin()
	id, _ := h.mint(tokenSpecWS("deploy-bot"), false)
	ident, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	// The canary of preflight passes; the real secret's write is refused for good.
	gh.InjectFault(githubfake.Fault{Method: "PUT", PathPrefix: "/repos/acme/web/actions/secrets/ASTRO_API_TOKEN", Status: 403})
	out, r := h.rotateJSON("--token-id", id, "--strategy", "rotate", "--recovery-recipient", ident.Recipient().String(),
		"--target", "github://acme/app/secrets/ASTRO_API_TOKEN", "--target", "github://acme/web/secrets/ASTRO_API_TOKEN")
	if r.code != 1 || out.Recovery == "" {
		t.Fatal(r)
	}
	for _, want := range []string{"stale", "github://acme/web/secrets/ASTRO_API_TOKEN", "astro-ci target put --target 'github://acme/web/secrets/ASTRO_API_TOKEN'"} {
		if !strings.Contains(r.stdout+r.stderr, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	dec, err := age.Decrypt(armor.NewReader(strings.NewReader(out.Recovery)), ident)
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := io.ReadAll(dec)
	h.addValue(string(plain))
	written, _ := gh.RepoSecret("acme", "app", "ASTRO_API_TOKEN")
	if !h.fake.Authenticates(string(plain)) || written != string(plain) {
		t.Fatal("the blob must hold the value Astro holds and the written target has")
	}
	if _, ok := gh.RepoSecret("acme", "web", "ASTRO_API_TOKEN"); ok {
		t.Fatal("the refused target was written")
	}
}

func TestPreviewTokenInForgeTargets(t *testing.T) {
	t.Parallel()
	h := newPreviewHarness(t)
	gh := h.github()
	gh.AddRepo("acme", "airflow-dags", true)
	gh.AddToken(ghPAT+"admin", githubfake.TokenPerms{Label: "admin", Perms: map[string]string{"secrets": "write", "environments": "read", "administration": "write"}})
	h.env["ASTRO_CI_GITHUB_TOKEN"] = ghPAT + "admin"
	gl := h.gitlab()
	targets := []string{
		"--token-target", "github://acme/airflow-dags/environments/preview-{slug}/secrets/ASTRO_API_TOKEN?create_environment=true",
		"--token-target", "gitlab://acme/data/airflow-dags/variables/ASTRO_API_TOKEN?environment_scope=review/{slug}",
	}
	res, r := h.runPreview(append([]string{"preview", "create", "--base-deployment", richBase, "--branch", "feature/x"}, targets...)...)
	if r.code != 0 || res.Slug != "feature-x" {
		t.Fatal(r)
	}
	env := "preview-feature-x"
	ghv, ok := gh.EnvSecret("acme", "airflow-dags", env, "ASTRO_API_TOKEN")
	glv, ok2 := gl.ProjectVariable("acme/data/airflow-dags", "ASTRO_API_TOKEN", "review/feature-x")
	h.addValue(ghv)
	if !ok || !ok2 || ghv != glv.Value || !h.fake.Authenticates(ghv) || !glv.Masked {
		t.Fatal("the preview token is not in both targets")
	}
	if id, _ := h.fake.TokenIDForValue(ghv); id != res.Token.ID {
		t.Fatal("targets hold another token")
	}
	res, r = h.runPreview(append([]string{"preview", "delete", "--base-deployment", richBase, "--branch", "feature/x"}, targets...)...)
	if r.code != 0 || res.Action != "deleted" || h.fake.Authenticates(ghv) {
		t.Fatal(r)
	}
	if _, ok := gh.EnvSecret("acme", "airflow-dags", env, "ASTRO_API_TOKEN"); ok || gh.HasEnvironment("acme", "airflow-dags", env) {
		t.Fatal("environment secret or environment left")
	}
	if _, ok := gl.ProjectVariable("acme/data/airflow-dags", "ASTRO_API_TOKEN", "review/feature-x"); ok {
		t.Fatal("scoped variable left")
	}
}

// Round trips: the operations make the fewest sequential Astro calls the
// design allows; a regression that adds calls fails here.
func TestAstroRoundTrips(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		want []string
	}{
		// Pairs run concurrently: the claims tell the scope to list; the new
		// value is proven while the lineage is listed again.
		{"overlap self-rotation", nil, []string{"GetApiToken+ListApiTokens", "CreateApiToken", "GetApiToken+ListApiTokens", "UpdateApiToken", "DeleteApiToken"}},
		{"in-place self-rotation", []string{"--strategy", "rotate"}, []string{"GetApiToken", "RotateApiToken", "GetApiToken"}},
		{"not due", []string{"--if-expires-within", "1d"}, []string{"GetApiToken+ListApiTokens"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			h.admin()
			r := h.run("", append([]string{"token", "rotate", "--target", h.target("tok")}, tt.args...)...)
			if r.code != 0 {
				t.Fatal(r)
			}
			var got []string
			for _, q := range h.fake.Requests() {
				got = append(got, q.Route)
			}
			// Concurrent calls ("a+b") arrive in either order.
			var norm []string
			for _, w := range tt.want {
				a, b, pair := strings.Cut(w, "+")
				if pair && len(got) >= 2 && (got[0] == a && got[1] == b || got[0] == b && got[1] == a) {
					norm, got = append(norm, w), got[2:]
					continue
				}
				if len(got) == 0 {
					break
				}
				norm, got = append(norm, got[0]), got[1:]
			}
			got = append(norm, got...)
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Fatalf("calls %v, want %v", got, tt.want)
			}
		})
	}
}
