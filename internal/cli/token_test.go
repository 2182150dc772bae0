package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"filippo.io/age"
	"filippo.io/age/armor"

	"github.com/astro-ci/astro-ci/internal/astrofake"
	"github.com/astro-ci/astro-ci/internal/rotation"
	"github.com/astro-ci/astro-ci/internal/secret"
	"github.com/astro-ci/astro-ci/internal/target"
)

func TestVersionAndUsage(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	if r := h.run("", "version"); r.code != 0 || !strings.HasPrefix(r.stdout, "astro-ci ") {
		t.Fatal(r)
	}
	if r := h.run("", "version", "--format", "json"); r.code != 0 || !json.Valid([]byte(r.stdout)) {
		t.Fatal(r)
	}
	if r := h.run(""); r.code != 0 || !strings.Contains(r.stdout, "token") || !strings.Contains(r.stdout, "preview") {
		t.Fatal(r)
	}
	if r := h.run("", "token", "--help"); r.code != 0 || !strings.Contains(r.stdout, "rotate") {
		t.Fatal(r)
	}
	for _, args := range [][]string{{"nope"}, {"token", "frob"}, {"token", "check", "--bogus"}, {"token", "check", "--format", "yaml"}, {"token", "check", "extra"}} {
		if r := h.run("", args...); r.code != 2 {
			t.Errorf("%v: %v", args, r)
		}
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		expiryDays int
		created    int // days ago
		args       []string
		wantCode   int
		wantOut    []string
		wantErr    []string
	}{
		{name: "fresh", expiryDays: 90, created: 1, wantCode: 0, wantOut: []string{"ci admin", "ok"}},
		{name: "warn", expiryDays: 30, created: 20, wantCode: 0, wantOut: []string{"warn"}, wantErr: []string{"warning:", "within --warn-within 14d"}},
		{name: "fail", expiryDays: 30, created: 28, wantCode: 1, wantOut: []string{"fail"}, wantErr: []string{"error:", "rotate it now"}},
		{name: "custom thresholds", expiryDays: 30, created: 20, args: []string{"--warn-within", "5d", "--fail-within", "12d"}, wantCode: 1, wantOut: []string{"fail"}},
		{name: "never expires", expiryDays: 0, created: 400, wantCode: 0, wantOut: []string{"never", "ok"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			h.mint(astrofake.TokenSpec{Name: "ci admin", Scope: "ORGANIZATION", Role: "ORGANIZATION_OWNER", ExpiryDays: tt.expiryDays, CreatedAt: h.clock.Now().AddDate(0, 0, -tt.created)}, true)
			r := h.run("", append([]string{"token", "check"}, tt.args...)...)
			if r.code != tt.wantCode {
				t.Fatal(r)
			}
			for _, w := range tt.wantOut {
				if !strings.Contains(r.stdout, w) {
					t.Errorf("stdout lacks %q: %v", w, r)
				}
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr lacks %q: %v", w, r)
				}
			}
		})
	}
}

func TestCheckExpiredTokenMakesNoRequest(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.mint(astrofake.TokenSpec{Name: "old", Scope: "ORGANIZATION", Role: "ORGANIZATION_OWNER", ExpiryDays: 10, CreatedAt: h.clock.Now().AddDate(0, 0, -11)}, true)
	r := h.run("", "token", "check")
	if r.code != 1 || !strings.Contains(r.stdout, "expired") || !strings.Contains(r.stderr, "expired at") {
		t.Fatal(r)
	}
	// Other commands refuse it as a configuration error, naming token and time.
	r = h.run("", "token", "rotate", "--target", h.target("x"))
	if r.code != 2 || !strings.Contains(r.stderr, "expired at 2026-11-25T12:00:00Z") {
		t.Fatal(r)
	}
	if n := len(h.fake.Requests()); n != 0 {
		t.Fatalf("%d requests sent with an expired token", n)
	}
}

func TestCheckRefusesBadCredentials(t *testing.T) {
	t.Parallel()
	tests := map[string]map[string]string{
		"unset":           {},
		"not a jwt":       {"ASTRO_API_TOKEN": "astro_not_a_jwt_value"},
		"user token":      {"ASTRO_API_TOKEN": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyIn0.c2ln"},
		"deprecated only": {"ASTRONOMER_KEY_ID": "abc", "ASTRONOMER_KEY_SECRET": "def-secret-value"},
	}
	for name, env := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			for k, v := range env {
				h.env[k] = v
			}
			r := h.run("", "token", "check")
			if r.code != 2 || len(h.fake.Requests()) != 0 {
				t.Fatal(r)
			}
			if strings.Contains(r.stderr, "def-secret-value") || strings.Contains(r.stderr, "astro_not_a_jwt_value") {
				t.Fatalf("credential echoed: %v", r)
			}
		})
	}
}

func TestCheckDeprecatedKeysIgnoredWithNotice(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.admin()
	h.env["ASTRONOMER_KEY_ID"] = "legacy-id"
	h.env["ASTRONOMER_KEY_SECRET"] = "legacy-secret-value"
	r := h.run("", "token", "check")
	if r.code != 0 || !strings.Contains(r.stderr, "ASTRONOMER_KEY_ID/ASTRONOMER_KEY_SECRET (deprecated) are ignored") {
		t.Fatal(r)
	}
}

func TestCheckAllAndWorkspace(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.admin()
	h.mint(astrofake.TokenSpec{Name: "ws-token", Scope: "WORKSPACE", EntityID: wsID, Role: "WORKSPACE_OPERATOR", ExpiryDays: 90}, false)
	h.mint(astrofake.TokenSpec{Name: "dep-token", Scope: "DEPLOYMENT", EntityID: depID, Role: "DEPLOYMENT_ADMIN", ExpiryDays: 21}, false)
	r := h.run("", "token", "check", "--all", "--format", "json")
	var out struct {
		Tokens []tokenRow `json:"tokens"`
		OK     bool       `json:"ok"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatal(err, r)
	}
	if r.code != 1 || len(out.Tokens) != 3 || out.OK {
		t.Fatalf("dep-token expires in 1 day, so exit 1: %v", r)
	}
	r = h.run("", "token", "check", "--all", "--workspace-id", wsID, "--format", "json")
	out.Tokens = nil
	_ = json.Unmarshal([]byte(r.stdout), &out)
	for _, row := range out.Tokens {
		if row.Name == "ci admin" {
			t.Fatalf("--workspace-id must filter: %v", r)
		}
	}
	if r := h.run("", "token", "check", "--workspace-id", wsID); r.code != 2 {
		t.Fatal(r)
	}
}

// TestCheckAllOutputs: token check --all gives the worst status and the
// counts as step outputs (what the action's status, checked-count,
// expiring-count and expired-count outputs pass on).
func TestCheckAllOutputs(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.admin() // 10 days left: warn within 14d
	h.mint(astrofake.TokenSpec{Name: "fresh", Scope: "WORKSPACE", EntityID: wsID, Role: "WORKSPACE_OPERATOR", ExpiryDays: 90}, false)
	h.mint(astrofake.TokenSpec{Name: "due", Scope: "DEPLOYMENT", EntityID: depID, Role: "DEPLOYMENT_ADMIN", ExpiryDays: 21}, false) // 1 day left
	h.mint(astrofake.TokenSpec{Name: "gone", Scope: "DEPLOYMENT", EntityID: depID, Role: "DEPLOYMENT_ADMIN", ExpiryDays: 10, CreatedAt: h.clock.Now().AddDate(0, 0, -11)}, false)
	out := filepath.Join(h.dir, "out")
	h.env["GITHUB_ACTIONS"], h.env["GITHUB_OUTPUT"] = "true", out
	if r := h.run("", "token", "check", "--all", "--warn-within", "14d", "--fail-within", "3d"); r.code != 1 {
		t.Fatal(r)
	}
	got := githubOutputs(t, out)
	want := map[string]string{"status": "expired", "checked-count": "4", "expiring-count": "2", "expired-count": "1"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("output %s = %q, want %q (all: %v)", k, got[k], v, got)
		}
	}
}

func TestGitHubActionsOutputs(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.admin()
	out, sum := filepath.Join(h.dir, "out"), filepath.Join(h.dir, "summary")
	h.env["GITHUB_ACTIONS"] = "true"
	h.env["GITHUB_OUTPUT"] = out
	h.env["GITHUB_STEP_SUMMARY"] = sum
	r := h.run("", "token", "rotate", "--target", h.target("tok"))
	if r.code != 0 {
		t.Fatal(r)
	}
	newValue := h.file("tok")
	// The mask comes before anything else mentions the new token.
	i := strings.Index(r.stderr, "::add-mask::"+newValue)
	if i < 0 || strings.Contains(r.stderr[:i], "created token") {
		t.Fatalf("value not masked first: %v", r)
	}
	b, _ := os.ReadFile(out)
	for _, w := range []string{"token-id<<", "expires-at<<", "rotated<<", "true"} {
		if !strings.Contains(string(b), w) {
			t.Errorf("GITHUB_OUTPUT lacks %q:\n%s", w, b)
		}
	}
	s, _ := os.ReadFile(sum)
	if !strings.Contains(string(s), "| Target | Result |") {
		t.Errorf("summary:\n%s", s)
	}
	// No --grace: the old token went at once, and both the log and the
	// summary say what that means (issue 9 defect 11).
	if !strings.Contains(string(s), "No `--grace`") || !strings.Contains(r.stderr, "::warning::no --grace") {
		t.Errorf("no grace warning:\n%s\n%s", s, r.stderr)
	}
	// Without the file commands' paths nothing panics.
	delete(h.env, "GITHUB_OUTPUT")
	delete(h.env, "GITHUB_STEP_SUMMARY")
	h.env["ASTRO_API_TOKEN"] = newValue
	if r := h.run("", "token", "check", "--warn-within", "40d"); r.code != 0 || !strings.Contains(r.stderr, "::warning::") {
		t.Fatal(r)
	}
}

func TestGitLabPrintsNoMask(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.admin()
	h.env["GITLAB_CI"] = "true"
	r := h.run("", "token", "rotate", "--target", h.target("tok"))
	if r.code != 0 || strings.Contains(r.stdout+r.stderr, "::") {
		t.Fatal(r)
	}
}

func TestCreate(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.admin()
	r := h.run("", "token", "create", "--name", "deploy-bot", "--scope", "workspace", "--entity-id", wsID, "--role", "WORKSPACE_OPERATOR",
		"--expiry-days", "30", "--description", "deploys", "--target", h.target("a"), "--target", h.target("b"), "--format", "json")
	if r.code != 0 {
		t.Fatal(r)
	}
	var out rotation.CreateOutcome
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || out.Token == nil {
		t.Fatal(err, r)
	}
	tok, ok := h.fake.Token(out.Token.ID)
	if !ok || tok.Scope != "WORKSPACE" || tok.EntityID != wsID || tok.ExpiryDays != 30 || !strings.HasPrefix(tok.Description, "deploys [astro-ci gen=0 state=current") {
		t.Fatalf("%+v", tok)
	}
	a, b := h.file("a"), h.file("b")
	if a != b || !h.fake.Authenticates(a) {
		t.Fatal("targets do not hold a working value")
	}
	if id, _ := h.fake.TokenIDForValue(a); id != out.Token.ID {
		t.Fatal("targets hold another token")
	}
}

func TestCreateRefusesBeforeAnyRequest(t *testing.T) {
	t.Parallel()
	tests := map[string][]string{
		"no target":           {"--name", "n", "--scope", "ORGANIZATION", "--role", "ORGANIZATION_MEMBER"},
		"bad scope":           {"--name", "n", "--scope", "TEAM", "--role", "X", "--target", "file:///tmp/x"},
		"role of other scope": {"--name", "n", "--scope", "WORKSPACE", "--entity-id", wsID, "--role", "ORGANIZATION_OWNER", "--target", "file:///tmp/x"},
		"no entity":           {"--name", "n", "--scope", "DEPLOYMENT", "--role", "DEPLOYMENT_ADMIN", "--target", "file:///tmp/x"},
		"expiry too long":     {"--name", "n", "--scope", "ORGANIZATION", "--role", "ORGANIZATION_MEMBER", "--expiry-days", "4000", "--target", "file:///tmp/x"},
		"bad target":          {"--name", "n", "--scope", "ORGANIZATION", "--role", "ORGANIZATION_MEMBER", "--target", "github://o/r/secrets/GITHUB_X"},
	}
	for name, args := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			h.admin()
			if r := h.run("", append([]string{"token", "create"}, args...)...); r.code != 2 || len(h.fake.Requests()) != 0 {
				t.Fatalf("%v\nrequests %d", r, len(h.fake.Requests()))
			}
		})
	}
}

func TestCreatePreflightFailureCreatesNothing(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.admin()
	before := len(h.fake.Tokens())
	r := h.run("", "token", "create", "--name", "n", "--scope", "ORGANIZATION", "--role", "ORGANIZATION_MEMBER", "--target", "file://"+filepath.Join(h.dir, "missing", "tok"))
	if r.code != 1 || !strings.Contains(r.stderr, "preflight failed, nothing was changed") || len(h.fake.Tokens()) != before {
		t.Fatal(r)
	}
}

// rotateJSON runs token rotate with JSON output and decodes it.
func (h *harness) rotateJSON(args ...string) (rotation.Outcome, result) {
	h.t.Helper()
	r := h.run("", append(append([]string{"token", "rotate"}, args...), "--format", "json")...)
	var out rotation.Outcome
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		h.t.Fatalf("%v: %v", err, r)
	}
	return out, r
}

func TestRotateOverlapSelf(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	oldID, oldValue := h.admin()
	out, r := h.rotateJSON("--target", h.target("tok"))
	if r.code != 0 || !out.Rotated || !out.Self || out.New == nil || out.New.ID == oldID {
		t.Fatal(r)
	}
	v := h.file("tok")
	if !h.fake.Authenticates(v) || h.fake.Authenticates(oldValue) {
		t.Fatal("the new value must work and the old token be gone")
	}
	if old, _ := h.fake.Token(oldID); !old.Deleted {
		t.Fatal("old token not deleted")
	}
	nt, _ := h.fake.Token(out.New.ID)
	if nt.Name != "ci admin" || nt.Scope != "ORGANIZATION" || nt.ExpiryDays != 30 || len(nt.Roles) != 1 || nt.Roles[0].Role != "ORGANIZATION_OWNER" {
		t.Fatalf("new token does not copy the old one: %+v", nt)
	}
	m, ok := rotation.ParseMarker(nt.Description)
	if !ok || m.State != rotation.Current || m.Lineage != oldID || m.Gen != 1 {
		t.Fatalf("marker: %q", nt.Description)
	}
}

func TestRotateCopiesExtraRoles(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.admin()
	id, _ := h.mint(astrofake.TokenSpec{Name: "multi", Scope: "ORGANIZATION", Role: "ORGANIZATION_MEMBER", ExpiryDays: 30,
		ExtraRoles: []astrofake.Role{{EntityType: "WORKSPACE", EntityID: wsID, Role: "WORKSPACE_OPERATOR"}}}, false)
	out, r := h.rotateJSON("--token-id", id, "--target", h.target("tok"))
	if r.code != 0 {
		t.Fatal(r)
	}
	nt, _ := h.fake.Token(out.New.ID)
	if len(nt.Roles) != 2 {
		t.Fatalf("roles not copied: %+v", nt.Roles)
	}
}

func TestRotateGraceDeletesOnALaterRun(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	oldID, oldValue := h.admin()
	out, r := h.rotateJSON("--grace", "2d", "--target", h.target("tok"))
	if r.code != 0 || len(out.Kept) != 1 || out.Kept[0].ID != oldID {
		t.Fatal(r)
	}
	if !h.fake.Authenticates(oldValue) {
		t.Fatal("old value must stay valid during the grace period")
	}
	h.env["ASTRO_API_TOKEN"] = h.file("tok")
	// A scheduled run a day later: not due, grace not over, nothing deleted.
	h.clock.Advance(24 * time.Hour)
	out, r = h.rotateJSON("--if-expires-within", "3d", "--target", h.target("tok"))
	if r.code != 0 || out.Due || len(out.Deleted) != 0 || !h.fake.Authenticates(oldValue) {
		t.Fatal(r)
	}
	// Two days later the grace is over: the next run deletes the old token.
	h.clock.Advance(48 * time.Hour)
	out, r = h.rotateJSON("--if-expires-within", "3d", "--target", h.target("tok"))
	if r.code != 0 || len(out.Deleted) != 1 || out.Deleted[0] != oldID || h.fake.Authenticates(oldValue) {
		t.Fatal(r)
	}
}

func TestRotateInPlace(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.admin()
	id, oldValue := h.mint(astrofake.TokenSpec{Name: "deploy-bot", Scope: "WORKSPACE", EntityID: wsID, Role: "WORKSPACE_OPERATOR", ExpiryDays: 30}, false)
	out, r := h.rotateJSON("--token-name", "deploy-bot", "--strategy", "rotate", "--target", h.target("tok"))
	if r.code != 0 || out.New == nil || out.New.ID != id {
		t.Fatal(r)
	}
	v := h.file("tok")
	if !h.fake.Authenticates(v) || h.fake.Authenticates(oldValue) {
		t.Fatal("in-place: new value works, old does not")
	}
	if tok, _ := h.fake.Token(id); tok.LastRotatedAt.IsZero() {
		t.Fatal("not rotated")
	}
}

func TestRotateSelfInPlace(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	id, _ := h.admin()
	out, r := h.rotateJSON("--strategy", "rotate", "--target", h.target("tok"))
	if r.code != 0 || !out.Self || out.New.ID != id || !h.fake.Authenticates(h.file("tok")) {
		t.Fatal(r)
	}
}

func TestRotateFollowsLineageByIDAndName(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.admin()
	origin, _ := h.mint(astrofake.TokenSpec{Name: "deploy-bot", Scope: "WORKSPACE", EntityID: wsID, Role: "WORKSPACE_OPERATOR", ExpiryDays: 30}, false)
	first, r := h.rotateJSON("--token-id", origin, "--target", h.target("tok"))
	if r.code != 0 || first.New == nil {
		t.Fatal(r)
	}
	// The origin is gone; its id still names the credential.
	second, r := h.rotateJSON("--token-id", origin, "--target", h.target("tok"))
	if r.code != 0 || second.New == nil || second.Token.ID != first.New.ID || !strings.Contains(r.stderr, "replaced by an earlier rotation") {
		t.Fatal(r)
	}
	third, r := h.rotateJSON("--token-name", "deploy-bot", "--target", h.target("tok"))
	if r.code != 0 || third.Token.ID != second.New.ID {
		t.Fatal(r)
	}
	live := 0
	for _, tok := range h.fake.Tokens() {
		if tok.Name == "deploy-bot" {
			live++
		}
	}
	if live != 1 || !h.fake.Authenticates(h.file("tok")) {
		t.Fatalf("%d live deploy-bot tokens", live)
	}
	// An unrelated token with the same name makes the name ambiguous.
	h.mint(astrofake.TokenSpec{Name: "deploy-bot", Scope: "WORKSPACE", EntityID: wsID, Role: "WORKSPACE_MEMBER"}, false)
	if r := h.run("", "token", "rotate", "--token-name", "deploy-bot", "--target", h.target("tok")); r.code != 1 || !strings.Contains(r.stderr, "unrelated tokens are named") {
		t.Fatal(r)
	}
}

func TestDryRunChangesNothing(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.admin()
	h.mint(astrofake.TokenSpec{Name: "deploy-bot", Scope: "WORKSPACE", EntityID: wsID, Role: "WORKSPACE_OPERATOR", ExpiryDays: 30}, false)
	// Use the token once so lastUsedAt is fresh, then compare.
	if r := h.run("", "token", "check"); r.code != 0 {
		t.Fatal(r)
	}
	before := h.fake.Snapshot()
	for _, args := range [][]string{
		{"token", "rotate", "--dry-run", "--target", h.target("a")},
		{"token", "rotate", "--dry-run", "--strategy", "rotate", "--token-name", "deploy-bot", "--target", h.target("b")},
		{"token", "rotate", "--dry-run", "--grace", "1d", "--token-name", "deploy-bot"},
		{"token", "create", "--dry-run", "--name", "x", "--scope", "ORGANIZATION", "--role", "ORGANIZATION_MEMBER", "--target", h.target("c")},
	} {
		r := h.run("", args...)
		if r.code != 0 || !strings.Contains(r.stdout, "would") {
			t.Fatalf("%v: %v", args, r)
		}
	}
	if after := h.fake.Snapshot(); !bytes.Equal(before, after) {
		t.Fatalf("dry run changed Astro:\n%s\n%s", before, after)
	}
	if entries, _ := os.ReadDir(h.dir); len(entries) != 0 {
		t.Fatalf("dry run wrote files: %v", entries)
	}
	for _, m := range h.fake.Requests() {
		if m.Method != "GET" {
			t.Fatalf("dry run sent %s %s", m.Method, m.Path)
		}
	}
}

func TestRotateHonoursRetryAfter(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.admin()
	h.fake.InjectFault(astrofake.Fault{Route: "ListApiTokens", Status: 429, RetryAfter: "3", Times: 1})
	h.fake.InjectFault(astrofake.Fault{Route: "DeleteApiToken", Status: 503, Times: 2})
	if r := h.run("", "token", "rotate", "--target", h.target("tok")); r.code != 0 {
		t.Fatal(r)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.waits) != 3 || h.waits[0] != 3*time.Second {
		t.Fatalf("waits %v", h.waits)
	}
}

func TestLostCreateIsReconciled(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	oldID, _ := h.admin()
	// Astro creates the token, then the connection drops: its value is lost.
	h.fake.InjectFault(astrofake.Fault{Route: "CreateApiToken", AfterApply: true, Drop: true, Times: 1})
	out, r := h.rotateJSON("--target", h.target("tok"))
	if r.code != 0 || !strings.Contains(r.stderr, "deleted token") {
		t.Fatal(r)
	}
	toks := h.fake.Tokens()
	if len(toks) != 1 || toks[0].ID != out.New.ID || toks[0].ID == oldID {
		t.Fatalf("want exactly the new token, got %+v", toks)
	}
	if !h.fake.Authenticates(h.file("tok")) {
		t.Fatal("target value does not work")
	}
}

func TestLostRotateIsReconciled(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.admin()
	id, _ := h.mint(astrofake.TokenSpec{Name: "deploy-bot", Scope: "WORKSPACE", EntityID: wsID, Role: "WORKSPACE_OPERATOR", ExpiryDays: 30}, false)
	h.fake.InjectFault(astrofake.Fault{Route: "RotateApiToken", AfterApply: true, Status: 502, Times: 1})
	out, r := h.rotateJSON("--token-id", id, "--strategy", "rotate", "--target", h.target("tok"))
	if r.code != 0 || out.New.ID != id || !strings.Contains(r.stderr, "lost rotate took effect") || !h.fake.Authenticates(h.file("tok")) {
		t.Fatal(r)
	}
	// Not applied: sent again.
	h.fake.InjectFault(astrofake.Fault{Route: "RotateApiToken", Status: 503, Times: 1})
	if r := h.run("", "token", "rotate", "--token-id", id, "--strategy", "rotate", "--target", h.target("tok")); r.code != 0 || !strings.Contains(r.stderr, "did not take effect") || !h.fake.Authenticates(h.file("tok")) {
		t.Fatal(r)
	}
}

func TestLostSelfRotateIsExplained(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.admin()
	h.fake.InjectFault(astrofake.Fault{Route: "RotateApiToken", AfterApply: true, Drop: true, Times: 1})
	r := h.run("", "token", "rotate", "--strategy", "rotate", "--target", h.target("tok"))
	if r.code != 1 || !strings.Contains(r.stderr, "create a new token") {
		t.Fatal(r)
	}
}

// failingStore wraps the file store and fails writes to chosen paths.
type failingStore struct {
	target.FileStore
	mu   sync.Mutex
	fail map[string]bool
}

func (f *failingStore) Put(ctx context.Context, t target.Target, v secret.Value) error {
	f.mu.Lock()
	bad := f.fail[filepath.Base(t.Path)]
	f.mu.Unlock()
	if bad {
		return &target.Error{Op: "write", Target: t.String(), Status: 403, Err: errors.New("permission denied"), Hint: "simulated"}
	}
	return f.FileStore.Put(ctx, t, v)
}

func TestOverlapWriteFailureKeepsOldValueValid(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, oldValue := h.admin()
	fs := &failingStore{fail: map[string]bool{"b": true}}
	h.stores[target.File] = fs
	if err := os.WriteFile(filepath.Join(h.dir, "b"), []byte(oldValue), 0o600); err != nil {
		t.Fatal(err)
	}
	r := h.run("", "token", "rotate", "--target", h.target("a"), "--target", h.target("b"))
	if r.code != 1 || !strings.Contains(r.stderr, "still holds the old value") || !strings.Contains(r.stderr, "astro-ci token rotate") {
		t.Fatal(r)
	}
	if !h.fake.Authenticates(h.file("a")) || !h.fake.Authenticates(h.file("b")) {
		t.Fatal("invariant broken: a target holds a dead value")
	}
	// The fix, then a rerun with the value the job would now read: converges.
	fs.mu.Lock()
	fs.fail = nil
	fs.mu.Unlock()
	h.env["ASTRO_API_TOKEN"] = h.file("b")
	if r := h.run("", "token", "rotate", "--target", h.target("a"), "--target", h.target("b")); r.code != 0 {
		t.Fatal(r)
	}
	if a, b := h.file("a"), h.file("b"); a != b || !h.fake.Authenticates(a) || len(h.fake.Tokens()) != 1 {
		t.Fatalf("not converged: %d tokens\n%v", len(h.fake.Tokens()), r)
	}
}

func TestInPlaceWriteFailureRecovery(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.admin()
	id, _ := h.mint(astrofake.TokenSpec{Name: "deploy-bot", Scope: "WORKSPACE", EntityID: wsID, Role: "WORKSPACE_OPERATOR", ExpiryDays: 30}, false)
	ident, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	fs := &failingStore{fail: map[string]bool{"b": true}}
	h.stores[target.File] = fs
	out, r := h.rotateJSON("--token-id", id, "--strategy", "rotate", "--recovery-recipient", ident.Recipient().String(), "--target", h.target("a"), "--target", h.target("b"))
	if r.code != 1 || out.Recovery == "" || !strings.Contains(r.stderr, "astro-ci target put --target '"+h.target("b")+"'") {
		t.Fatal(r)
	}
	if !strings.Contains(r.stderr, "-----BEGIN AGE ENCRYPTED FILE-----") {
		t.Fatal("the recovery blob must be in the log")
	}
	dec, err := age.Decrypt(armor.NewReader(strings.NewReader(out.Recovery)), ident)
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := io.ReadAll(dec)
	h.addValue(string(plain))
	if !h.fake.Authenticates(string(plain)) || h.file("a") != string(plain) {
		t.Fatal("the recovery blob must hold the value Astro has")
	}
	// The operator finishes the job.
	fs.mu.Lock()
	fs.fail = nil
	fs.mu.Unlock()
	if r := h.run(string(plain)+"\n", "target", "put", "--target", h.target("b")); r.code != 0 || h.file("b") != string(plain) {
		t.Fatal(r)
	}
}

// TestCrashAtEveryStepLeavesWorkingValues kills the Astro side of a
// self-rotation at each API call in turn — a permanent error, a dropped
// connection, an applied request whose answer is lost — and checks the
// invariant (the target always holds a value Astro accepts) and that a clean
// rerun converges to one live token.
func TestCrashAtEveryStepLeavesWorkingValues(t *testing.T) {
	t.Parallel()
	routes := []string{"GetApiToken", "ListApiTokens", "CreateApiToken", "UpdateApiToken", "DeleteApiToken"}
	faults := map[string]astrofake.Fault{
		"500":           {Status: 500},
		"drop":          {Drop: true},
		"applied, lost": {AfterApply: true, Drop: true, Times: 1},
	}
	for _, route := range routes {
		for fname, f := range faults {
			t.Run(route+"/"+fname, func(t *testing.T) {
				t.Parallel()
				h := newHarness(t)
				_, v0 := h.admin()
				if err := os.WriteFile(filepath.Join(h.dir, "tok"), []byte(v0), 0o600); err != nil {
					t.Fatal(err)
				}
				f.Route = route
				h.fake.InjectFault(f)
				h.run("", "token", "rotate", "--target", h.target("tok"))
				if v := h.file("tok"); !h.fake.Authenticates(v) {
					t.Fatal("the target holds a value Astro refuses")
				}
				h.fake.ClearFaults()
				h.clock.Advance(time.Hour) // past the in-flight window of a dead run
				h.env["ASTRO_API_TOKEN"] = h.file("tok")
				if r := h.run("", "token", "rotate", "--target", h.target("tok")); r.code != 0 {
					t.Fatal(r)
				}
				v := h.file("tok")
				if !h.fake.Authenticates(v) {
					t.Fatal("after rerun the target value does not work")
				}
				if toks := h.fake.Tokens(); len(toks) != 1 {
					t.Fatalf("not converged, %d tokens: %+v", len(toks), toks)
				}
			})
		}
	}
}

// TestRunWaitsForARunInFlight: a pending generation created a minute ago
// belongs to a run that may still write targets. This run waits for it (its
// waits move the fakes' clock) until that run's bound has passed, then
// rotates and removes it: no error, one token left.
func TestRunWaitsForARunInFlight(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.advanceOnSleep = true
	oldID, _ := h.admin()
	h.mint(astrofake.TokenSpec{Name: "ci admin", Scope: "ORGANIZATION", Role: "ORGANIZATION_OWNER", ExpiryDays: 30, CreatedAt: h.clock.Now().Add(-time.Minute),
		Description: rotation.WithMarker("", rotation.Marker{Lineage: oldID, Gen: 1, State: rotation.Pending, Run: "other", TTL: 5 * time.Minute})}, false)
	r := h.run("", "token", "rotate", "--target", h.target("tok"))
	if r.code != 0 || !strings.Contains(r.stderr, "waiting for it") {
		t.Fatal(r)
	}
	if toks := h.fake.Tokens(); len(toks) != 1 || !h.fake.Authenticates(h.file("tok")) {
		t.Fatalf("%d tokens left, target live %v", len(toks), h.fake.Authenticates(h.file("tok")))
	}
}

// TestRunWaitsAWhileForAYoungRunThatOutlastsItsDeadline: a pending
// generation a minute old whose run may write for two more hours is most
// likely a live run: this run waits a few minutes for it to finish, then
// says when to rerun, and creates nothing.
func TestRunWaitsAWhileForAYoungRunThatOutlastsItsDeadline(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	oldID, _ := h.admin()
	h.mint(astrofake.TokenSpec{Name: "ci admin", Scope: "ORGANIZATION", Role: "ORGANIZATION_OWNER", ExpiryDays: 30, CreatedAt: h.clock.Now().Add(-time.Minute),
		Description: rotation.WithMarker("", rotation.Marker{Lineage: oldID, Gen: 1, State: rotation.Pending, Run: "other", TTL: 2 * time.Hour})}, false)
	before := len(h.fake.Tokens())
	r := h.run("", "token", "rotate", "--target", h.target("tok"))
	if r.code != 1 || !strings.Contains(r.stderr, "waiting for it") || !strings.Contains(r.stderr, "rerun after") {
		t.Fatal(r)
	}
	var waited time.Duration
	h.mu.Lock()
	for _, w := range h.waits {
		waited += w
	}
	h.mu.Unlock()
	if waited < 3*time.Minute || waited > 5*time.Minute || len(h.fake.Tokens()) != before {
		t.Fatalf("waited %v; %d tokens, was %d", waited, len(h.fake.Tokens()), before)
	}
}

// TestRunRefusedWhileADeadRunMayStillWrite: a pending generation created
// long ago whose run may write until after this run's deadline is most
// likely dead; this run says when to rerun and creates nothing.
func TestRunRefusedWhileADeadRunMayStillWrite(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	oldID, _ := h.admin()
	h.mint(astrofake.TokenSpec{Name: "ci admin", Scope: "ORGANIZATION", Role: "ORGANIZATION_OWNER", ExpiryDays: 30, CreatedAt: h.clock.Now().Add(-10 * time.Minute),
		Description: rotation.WithMarker("", rotation.Marker{Lineage: oldID, Gen: 1, State: rotation.Pending, Run: "other", TTL: 2 * time.Hour})}, false)
	before := len(h.fake.Tokens())
	r := h.run("", "token", "rotate", "--target", h.target("tok"))
	if r.code != 1 || !strings.Contains(r.stderr, "another run is rotating this token") || !strings.Contains(r.stderr, "rerun after") {
		t.Fatal(r)
	}
	if len(h.fake.Tokens()) != before {
		t.Fatal("a token was created")
	}
}

func TestTargetPutNeedsValue(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	if r := h.run("", "target", "put", "--target", h.target("x")); r.code != 2 {
		t.Fatal(r)
	}
	if r := h.run("some-value-123\n", "target", "put"); r.code != 2 {
		t.Fatal(r)
	}
}

func TestFlagsFromEnvironment(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.admin()
	h.env["ASTRO_CI_TARGETS"] = h.target("a") + "\n# a comment\n" + h.target("b") + "\n"
	h.env["ASTRO_CI_STRATEGY"] = "rotate"
	h.env["ASTRO_CI_FORMAT"] = "json"
	out, r := h.rotateJSON()
	if r.code != 0 || out.Strategy != rotation.InPlace || len(out.Targets) != 2 {
		t.Fatal(r)
	}
	// The command line wins.
	h.env["ASTRO_API_TOKEN"] = h.file("a")
	out, r = h.rotateJSON("--strategy", "overlap")
	if r.code != 0 || out.Strategy != rotation.Overlap {
		t.Fatal(r)
	}
	h.env["ASTRO_CI_GRACE"] = "soon"
	if r := h.run("", "token", "rotate"); r.code != 2 || !strings.Contains(r.stderr, "ASTRO_CI_GRACE") {
		t.Fatal(r)
	}
}

// A job that read ASTRO_API_TOKEN before the last rotation updated it runs
// with the superseded (still valid, in grace) token: it must judge by the
// current generation and not rotate again.
func TestSupersededSelfDoesNotRotateAgain(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, oldValue := h.mint(astrofake.TokenSpec{Name: "ci admin", Scope: "ORGANIZATION", Role: "ORGANIZATION_OWNER", ExpiryDays: 30, CreatedAt: h.clock.Now().AddDate(0, 0, -25)}, true)
	first, r := h.rotateJSON("--grace", "2d", "--if-expires-within", "14d", "--target", h.target("tok"))
	if r.code != 0 || !first.Rotated {
		t.Fatal(r)
	}
	h.env["ASTRO_API_TOKEN"] = oldValue // the stale job
	out, r := h.rotateJSON("--grace", "2d", "--if-expires-within", "14d", "--target", h.target("tok"))
	if r.code != 0 || out.Due || out.Rotated || out.Token.ID != first.New.ID {
		t.Fatal(r)
	}
	if n := len(h.fake.Tokens()); n != 2 {
		t.Fatalf("%d tokens: the stale job rotated again", n)
	}
}

// --debug traces every exchange, never a header or a body: the harness's
// leak scan fails this test if a value gets through.
func TestDebugTraceShowsNoValues(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.admin()
	h.env["ASTRO_CI_DEBUG"] = "true"
	r := h.run("", "token", "rotate", "--strategy", "rotate", "--target", h.target("tok"))
	if r.code != 0 || !strings.Contains(r.stderr, "debug: POST /organizations/"+orgID+"/tokens/") {
		t.Fatal(r)
	}
	h.file("tok")
}
