package cli

import (
	"strings"
	"testing"

	"github.com/astro-ci/astro-ci/internal/astrofake"
)

// TestTokensWithoutAnAPITokenIDClaim is issue 10 item 2: astro-cli needs
// only the permissions claim, so a token without apiTokenId still checks,
// lists, rotates by --token-id and makes previews; rotating "itself" asks
// for --token-id (exit 2).
func TestTokensWithoutAnAPITokenIDClaim(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.fake.SetOmitTokenIDClaim(true)
	id, _ := h.mint(astrofake.TokenSpec{Name: "ci admin", Scope: "ORGANIZATION", Role: "ORGANIZATION_OWNER", ExpiryDays: 30}, true)
	if r := h.run("", "token", "check"); r.code != 0 || !strings.Contains(r.stdout, "own claims") {
		t.Fatalf("token check: %v", r)
	}
	if r := h.run("", "token", "list"); r.code != 0 || !strings.Contains(r.stdout, id) {
		t.Fatalf("token list: %v", r)
	}
	r := h.run("", "token", "rotate", "--target", h.target("tok"))
	if r.code != 2 || !strings.Contains(r.stderr, "--token-id") {
		t.Fatalf("self-rotation without an id: %v", r)
	}
	if r := h.run("", "token", "rotate", "--token-id", id, "--strategy", "rotate", "--target", h.target("tok")); r.code != 0 {
		t.Fatalf("in place by --token-id: %v", r)
	}
	h.env["ASTRO_API_TOKEN"] = h.file("tok")
	if r := h.run("", "token", "rotate", "--token-id", id, "--target", h.target("tok")); r.code != 0 {
		t.Fatalf("overlap by --token-id: %v", r)
	}
	if !h.fake.Authenticates(h.file("tok")) {
		t.Fatal("the target holds a dead value")
	}
}

// TestCheckWithoutAnAPITokenIDClaimNamesTheVariable: a due token whose
// claims name no id is named by the variable that holds it, its rotate
// hint asks for --token-id with a way to find it, and its JSON row meets
// the schema (an empty id, scope ?).
func TestCheckWithoutAnAPITokenIDClaimNamesTheVariable(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.fake.SetOmitTokenIDClaim(true)
	h.mint(astrofake.TokenSpec{Name: "ci admin", Scope: "ORGANIZATION", Role: "ORGANIZATION_OWNER", ExpiryDays: 2, CreatedAt: h.clock.Now()}, true)
	r := h.run("", "token", "check", "--fail-within", "3d")
	if r.code != 1 {
		t.Fatalf("a token due within --fail-within: %v", r)
	}
	for _, want := range []string{"token in ASTRO_API_TOKEN expires", "--token-id ID, with its id from astro-ci token list", "note: in ASTRO_API_TOKEN: from the token's own claims"} {
		if !strings.Contains(r.stdout+r.stderr, want) {
			t.Errorf("output lacks %q:\n%v", want, r)
		}
	}
	if strings.Contains(r.stdout+r.stderr, "--token-id )") || strings.Contains(r.stdout+r.stderr, "note: :") {
		t.Errorf("an empty id in the output:\n%v", r)
	}
	checkSchema(t, "token-check", h.run("", "token", "check", "--format", "json"))
}

// TestSecondCredentialReconcilesALostSelfRotate is issue 9 defect 5: with an
// admin token in ASTRO_CI_API_TOKEN (the credential), rotating
// ASTRO_API_TOKEN's token in place by --token-id reconciles a lost answer
// (rotates again and writes) instead of losing the value.
func TestSecondCredentialReconcilesALostSelfRotate(t *testing.T) {
	t.Parallel()
	for _, f := range []astrofake.Fault{{Body: "<html>"}, {AfterApply: true, Drop: true}} {
		h := newHarness(t)
		ciID, ci := h.mint(astrofake.TokenSpec{Name: "ci", Scope: "ORGANIZATION", Role: "ORGANIZATION_OWNER", ExpiryDays: 30}, true)
		_, admin := h.mint(astrofake.TokenSpec{Name: "astro-ci-bot", Scope: "ORGANIZATION", Role: "ORGANIZATION_OWNER"}, false)
		h.env["ASTRO_CI_API_TOKEN"] = admin
		f.Route, f.Times = "RotateApiToken", 1
		h.fake.InjectFault(f)
		out, r := h.rotateJSON("--token-id", ciID, "--strategy", "rotate", "--target", h.target("tok"))
		if r.code != 0 {
			t.Fatalf("%+v: %v", f, r)
		}
		if out.Token.ID != ciID {
			t.Fatalf("rotated %+v, want ASTRO_API_TOKEN's %s", out.Token, ciID)
		}
		if v := h.file("tok"); !h.fake.Authenticates(v) || v == ci {
			t.Fatal("the target does not hold the new value")
		}
	}
}

// TestCreateTwiceIsRefusedOrSkipped is issue 9 defect 6 through the CLI: a
// second create of a name is refused with the command that rotates it, or
// does nothing with --skip-existing; there is one token either way.
func TestCreateTwiceIsRefusedOrSkipped(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.admin()
	args := []string{"token", "create", "-n", "deploy-bot", "--scope", "WORKSPACE", "--entity-id", wsID, "-r", "WORKSPACE_OPERATOR", "--target", h.target("d")}
	if r := h.run("", args...); r.code != 0 {
		t.Fatal(r)
	}
	r := h.run("", args...)
	if r.code != 1 || !strings.Contains(r.stderr, "already exists") || !strings.Contains(r.stderr, "astro-ci token rotate --token-id") {
		t.Fatal(r)
	}
	if r := h.run("", append(args, "--skip-existing")...); r.code != 0 || !strings.Contains(r.stdout, "left as it is") {
		t.Fatal(r)
	}
	n := 0
	for _, tok := range h.fake.Tokens() {
		if tok.Name == "deploy-bot" {
			n++
		}
	}
	if n != 1 || !h.fake.Authenticates(h.file("d")) {
		t.Fatalf("%d tokens named deploy-bot", n)
	}
}

// TestGitHubBudgetsAreSettings: --github-concurrency and
// --github-points-per-minute (and their env names) are bounded settings.
func TestGitHubBudgetsAreSettings(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.admin()
	for _, args := range [][]string{
		{"--github-concurrency", "0"}, {"--github-concurrency", "101"}, {"--github-points-per-minute", "29"},
	} {
		if r := h.run("", append([]string{"token", "check"}, args...)...); r.code != 2 || !strings.Contains(r.stderr, args[0]) {
			t.Fatalf("%v: %v", args, r)
		}
	}
	h.env["ASTRO_CI_GITHUB_POINTS_PER_MINUTE"] = "10"
	if r := h.run("", "token", "check"); r.code != 2 || !strings.Contains(r.stderr, "ASTRO_CI_GITHUB_POINTS_PER_MINUTE") {
		t.Fatal(r)
	}
	h.env["ASTRO_CI_GITHUB_POINTS_PER_MINUTE"] = "450"
	if r := h.run("", "token", "check", "--github-concurrency", "20"); r.code != 0 {
		t.Fatal(r)
	}
}
