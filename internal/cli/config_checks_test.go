package cli

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/astro-ci/astro-ci/internal/astrofake"
)

// An ASTRO_CI_* variable astro-ci does not read is a typo that would
// otherwise fall back to the default silently: it is named, with the name
// probably meant.
func TestUnknownEnvIsWarnedWithTheNearestName(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.admin()
	h.env["ASTRO_CI_IF_EXPIRES_WITIN"] = "3d"
	h.env["ASTRO_CI_GITHUB_TOKN"] = "ghp_notarealtoken"
	h.env["ASTRO_CI_TARGETS"] = h.target("tok") // known: an extra name of --target
	h.env["ASTRO_CI_GITLAB_API_URL"] = "https://gitlab.example.com/api/v4"
	h.env["ASTRO_CI_EXPIRATION"] = "30" // known: the alias of --expiry-days
	r := h.run("", "token", "check")
	if r.code != 0 {
		t.Fatal(r)
	}
	for _, want := range []string{
		"ASTRO_CI_IF_EXPIRES_WITIN is not a setting of astro-ci and is ignored; did you mean ASTRO_CI_IF_EXPIRES_WITHIN?",
		"ASTRO_CI_GITHUB_TOKN is not a setting of astro-ci and is ignored; did you mean ASTRO_CI_GITHUB_TOKEN?",
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	for _, known := range []string{"ASTRO_CI_TARGETS", "ASTRO_CI_GITLAB_API_URL", "ASTRO_CI_EXPIRATION"} {
		if strings.Contains(r.stderr, known+" is not") {
			t.Errorf("%s is known:\n%s", known, r.stderr)
		}
	}
}

// A flag that the chosen strategy or command ignores is refused before
// anything happens, naming where it was set.
func TestIgnoredFlagsAreUsageErrors(t *testing.T) {
	t.Parallel()
	const recipient = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"
	tests := map[string]struct {
		env  map[string]string
		args []string
		want string
	}{
		"recovery recipient with overlap": {args: []string{"token", "rotate", "--recovery-recipient", recipient, "--target", "file:///tmp/x"}, want: "--recovery-recipient is for --strategy rotate"},
		"recovery recipient from env":     {env: map[string]string{"ASTRO_CI_RECOVERY_RECIPIENT": recipient}, args: []string{"token", "rotate", "--target", "file:///tmp/x"}, want: "ASTRO_CI_RECOVERY_RECIPIENT is for --strategy rotate"},
		"grace with rotate":               {args: []string{"token", "rotate", "--strategy", "rotate", "--grace", "1h", "--target", "file:///tmp/x"}, want: "--grace needs --strategy overlap"},
		"unused-for with force":           {args: []string{"token", "delete", "--token-id", "x", "--force", "--unused-for", "1d"}, want: "--unused-for has no effect with --force"},
		"timeout without wait":            {args: []string{"preview", "create", "--base-deployment", "b", "--branch", "x", "--timeout", "30m"}, want: "--timeout only applies with --wait"},
		"poll interval without wait":      {env: map[string]string{"ASTRO_CI_POLL_INTERVAL": "5s"}, args: []string{"preview", "create", "--base-deployment", "b", "--branch", "x"}, want: "ASTRO_CI_POLL_INTERVAL only applies with --wait"},
		"token role without target":       {args: []string{"preview", "create", "--base-deployment", "b", "--branch", "x", "--token-role", "DEPLOYMENT_ADMIN_X"}, want: "--token-role applies to the preview's token"},
		"token expiry without target":     {args: []string{"run", "--kind", "branch-created", "--base-deployment", "b", "--branch", "x", "--token-expiry-days", "7"}, want: "--token-expiry-days applies to the preview's token"},
		"wait with dry run":               {args: []string{"preview", "create", "--base-deployment", "b", "--branch", "x", "--wait", "--dry-run"}, want: "--wait has nothing to wait for with --dry-run"},
		"deadline shorter than timeout":   {args: []string{"preview", "create", "--base-deployment", "b", "--branch", "x", "--wait", "--timeout", "30m", "--deadline", "10m"}, want: "--deadline 10m is shorter than --timeout 30m"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			h, r := runAdmin(t, tt.env, tt.args...)
			if r.code != 2 || !strings.Contains(r.stderr, tt.want) {
				t.Fatalf("want exit 2 and %q: %v", tt.want, r)
			}
			if n := len(h.fake.Requests()); n != 0 {
				t.Fatalf("%d requests sent", n)
			}
		})
	}
}

// What the shipped GitLab preview component sets for every job (its
// defaults, --wait off) is not "asking" for anything and passes.
func TestDefaultsFromTheEnvironmentAreNotIgnoredFlags(t *testing.T) {
	t.Parallel()
	h := newPreviewHarness(t)
	for k, v := range map[string]string{"ASTRO_CI_WAIT": "false", "ASTRO_CI_TIMEOUT": "20m", "ASTRO_CI_TOKEN_ROLE": "DEPLOYMENT_ADMIN",
		"ASTRO_CI_TOKEN_EXPIRY_DAYS": "30", "ASTRO_CI_NAME_PREFIX": "preview-", "ASTRO_CI_GRACE": "0", "ASTRO_CI_RECOVERY_RECIPIENT": ""} {
		h.env[k] = v
	}
	if _, r := h.runPreview("preview", "create", "--base-deployment", richBase, "--branch", "feature/x", "--dry-run"); r.code != 0 {
		t.Fatal(r)
	}
}

// token check --all names the token its hint is about: the old hint,
// "rotate it now (astro-ci token rotate)", rotated ASTRO_API_TOKEN instead.
func TestCheckAllHintNamesTheToken(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.admin()
	id, _ := h.mint(astrofake.TokenSpec{Name: "dep-token", Scope: "DEPLOYMENT", EntityID: depID, Role: "DEPLOYMENT_ADMIN", ExpiryDays: 21}, false)
	r := h.run("", "token", "check", "--all")
	if r.code != 1 || !strings.Contains(r.stderr, "rotate it now (astro-ci token rotate --token-id "+id+")") {
		t.Fatal(r)
	}
	// The token in ASTRO_API_TOKEN itself: the plain command, saying so.
	h2 := newHarness(t)
	h2.mint(astrofake.TokenSpec{Name: "ci admin", Scope: "ORGANIZATION", Role: "ORGANIZATION_OWNER", ExpiryDays: 21}, true)
	r = h2.run("", "token", "check")
	if r.code != 1 || !strings.Contains(r.stderr, "rotate it now (astro-ci token rotate (it is the token in ASTRO_API_TOKEN))") {
		t.Fatal(r)
	}
}

// Dry-run plans read as English: "would update", not "would updated".
func TestDryRunGrammar(t *testing.T) {
	t.Parallel()
	h := adminHarness(t)
	id, _ := h.mint(astrofake.TokenSpec{Name: "org-bot", Scope: "ORGANIZATION", Role: "ORGANIZATION_MEMBER", ExpiryDays: 30,
		ExtraRoles: []astrofake.Role{{EntityType: "WORKSPACE", EntityID: ws2, Role: "WORKSPACE_MEMBER"}}}, false)
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"token", "update", "--token-id", id, "--description", "y", "--dry-run"}, "dry run: would update token " + id + " (org-bot):"},
		{[]string{"token", "workspace", "add", "--token-id", id, "--workspace-id", wsID, "--role", "WORKSPACE_MEMBER", "--dry-run"}, "dry run: would grant token " + id + " (org-bot) WORKSPACE_MEMBER in Workspace " + wsID + ":"},
		{[]string{"token", "workspace", "remove", "--token-id", id, "--workspace-id", ws2, "--dry-run"}, "dry run: would remove token " + id + " (org-bot) from Workspace " + ws2 + ":"},
		{[]string{"token", "create", "--name", "x", "--scope", "ORGANIZATION", "--role", "ORGANIZATION_MEMBER", "--target", h.target("c"), "--dry-run"}, "astro-ci would:\n  - create ORGANIZATION token"},
	} {
		r := h.run("", tt.args...)
		if r.code != 0 || !strings.Contains(r.stdout, tt.want) {
			t.Errorf("%v: want %q: %v", tt.args, tt.want, r)
		}
		for _, bad := range []string{"would updated", "would granted", "would removed", "would\n"} {
			if strings.Contains(r.stdout, bad) {
				t.Errorf("%v: %q: %v", tt.args, bad, r)
			}
		}
	}
}

// Echoed input is bounded: a 5 MB ref in an event payload, or a 5 MB flag or
// environment value, gives an error line under 1 KB.
func TestHugeInputGivesShortErrors(t *testing.T) {
	t.Parallel()
	huge := strings.Repeat("a", 5<<20)
	dir := t.TempDir()
	event := filepath.Join(dir, "event.json")
	if err := os.WriteFile(event, []byte(`{"ref":"refs/heads/`+huge+`","ref_type":"branch"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, tt := range map[string]struct {
		env  map[string]string
		args []string
	}{
		"event ref":    {map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_EVENT_NAME": "create", "GITHUB_EVENT_PATH": event}, []string{"run", "--base-deployment", "b"}},
		"branch flag":  {nil, []string{"preview", "create", "--base-deployment", "b", "--branch", huge}},
		"target flag":  {nil, []string{"token", "rotate", "--target", "file:///" + huge}},
		"target env":   {map[string]string{"ASTRO_CI_TARGETS": "github://" + huge}, []string{"token", "rotate"}},
		"duration env": {map[string]string{"ASTRO_CI_GRACE": huge + "d"}, []string{"token", "rotate"}},
		"format flag":  {nil, []string{"token", "check", "--format", huge}},
		"strategy":     {nil, []string{"token", "rotate", "--strategy", huge}},
		"unknown env":  {map[string]string{"ASTRO_CI_" + strings.ToUpper(huge[:1<<16]): "x"}, []string{"version"}},
		"bool env":     {map[string]string{"ASTRO_CI_DEBUG": huge}, []string{"version"}},
		"kind":         {nil, []string{"run", "--kind", huge}},
		"secret env":   {nil, []string{"preview", "create", "--base-deployment", "b", "--branch", "x", "--secret-env", huge}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, r := runAdmin(t, tt.env, tt.args...)
			if r.code == 0 && name != "unknown env" {
				t.Fatal("accepted")
			}
			if r.stderr == "" {
				t.Fatal("nothing said")
			}
			for _, l := range strings.Split(r.stderr, "\n") {
				if len(l) > 1024 {
					t.Fatalf("exit %d, a %d-byte line: %.300s", r.code, len(l), l)
				}
			}
		})
	}
}

// runAdmin runs astro-ci once in a fresh harness with an Organization owner
// in ASTRO_API_TOKEN and env added.
func runAdmin(t *testing.T, env map[string]string, args ...string) (*harness, result) {
	t.Helper()
	h := newHarness(t)
	h.admin()
	for k, v := range env {
		h.env[k] = v
	}
	return h, h.run("", args...)
}

// Every ASTRO_CI_* name the shipped action, components, scripts and
// examples set is one astro-ci reads: none of them draws the
// unknown-variable warning.
func TestShippedConfigurationUsesKnownNames(t *testing.T) {
	t.Parallel()
	known := knownEnv(testRoot())
	re := regexp.MustCompile(`ASTRO_CI_[A-Z0-9_]*[A-Z0-9]`)
	notSettings := map[string]bool{
		"ASTRO_CI_RUNNER_TESTS":     true, // the test suite's own switch
		"ASTRO_CI_IF_EXPIRES_WITIN": true, // README's example of a typo
	}
	var files []string
	for _, pattern := range []string{"../../action.yml", "../../scripts/action/*", "../../gitlab/templates/*", "../../gitlab/*.md", "../../docs/examples/*/*", "../../README.md"} {
		m, _ := filepath.Glob(pattern)
		files = append(files, m...)
	}
	if len(files) < 5 {
		t.Fatalf("found only %v", files)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue // a directory
		}
		for _, name := range re.FindAllString(string(b), -1) {
			if strings.HasPrefix(name, "ASTRO_CI_PREFLIGHT") || notSettings[name] {
				continue // a secret's name, not a variable astro-ci reads
			}
			if _, ok := slices.BinarySearch(known, name); !ok {
				t.Errorf("%s: %s is not a name astro-ci reads", f, name)
			}
		}
	}
}
