package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/astro-ci/astro-ci/internal/astrofake"
	"github.com/astro-ci/astro-ci/internal/report"
	"github.com/astro-ci/astro-ci/internal/target"
)

const schemaDir = "../../docs/schema"

// schemas compiles every docs/schema file (draft 2020-12, formats asserted).
var schemas = sync.OnceValues(func() (map[string]*jsonschema.Schema, error) {
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	files, err := filepath.Glob(filepath.Join(schemaDir, "*.schema.json"))
	if err != nil {
		return nil, err
	}
	ids := map[string]string{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			return nil, err
		}
		id := doc.(map[string]any)["$id"].(string)
		if err := c.AddResource(id, doc); err != nil {
			return nil, err
		}
		ids[strings.TrimSuffix(filepath.Base(f), ".schema.json")] = id
	}
	out := map[string]*jsonschema.Schema{}
	for name, id := range ids {
		s, err := c.Compile(id)
		if err != nil {
			return nil, err
		}
		out[name] = s
	}
	return out, nil
})

// checkSchema validates a command's stdout against its schema.
func checkSchema(t *testing.T, name string, r result) {
	t.Helper()
	all, err := schemas()
	if err != nil {
		t.Fatal(err)
	}
	s, ok := all[name]
	if !ok {
		t.Fatalf("no docs/schema/%s.schema.json", name)
	}
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(r.stdout))
	if err != nil {
		t.Fatalf("%s: stdout is not one JSON document: %v\n%v", name, err, r)
	}
	if err := s.Validate(doc); err != nil {
		t.Fatalf("%s: %v\n%v", name, err, r)
	}
}

// TestJSONOutputsMatchSchemas runs every command, succeeding and failing,
// with --format json and validates what it printed against its schema.
func TestJSONOutputsMatchSchemas(t *testing.T) {
	t.Parallel()
	type scenario struct {
		name   string
		schema string
		code   int
		setup  func(h *harness) []string
	}
	rotateArgs := func(h *harness) []string { return []string{"token", "rotate", "--target", h.target("tok")} }
	scenarios := []scenario{
		{"version", "version", 0, func(*harness) []string { return []string{"version"} }},
		{"check self", "token-check", 0, func(h *harness) []string { return []string{"token", "check"} }},
		{"check all failing", "token-check", 1, func(h *harness) []string {
			h.mint(astrofake.TokenSpec{Name: "dep", Scope: "DEPLOYMENT", EntityID: depID, Role: "DEPLOYMENT_ADMIN", ExpiryDays: 21}, false)
			h.mint(astrofake.TokenSpec{Name: "forever", Scope: "WORKSPACE", EntityID: wsID, Role: "WORKSPACE_MEMBER"}, false)
			return []string{"token", "check", "--all"}
		}},
		{"check expired self", "token-check", 1, func(h *harness) []string {
			h.mint(astrofake.TokenSpec{Name: "old", Scope: "ORGANIZATION", Role: "ORGANIZATION_OWNER", ExpiryDays: 10, CreatedAt: h.clock.Now().AddDate(0, 0, -11)}, true)
			return []string{"token", "check"}
		}},
		{"check usage", "token-check", 2, func(h *harness) []string { return []string{"token", "check", "--all", "--token-id", "x"} }},
		{"list", "token-list", 0, func(h *harness) []string {
			h.mint(astrofake.TokenSpec{Name: "org-in-ws", Scope: "ORGANIZATION", Role: "ORGANIZATION_MEMBER", ExtraRoles: []astrofake.Role{{EntityType: "WORKSPACE", EntityID: wsID, Role: "WORKSPACE_AUTHOR"}}}, false)
			return []string{"token", "list"}
		}},
		{"create", "token-create", 0, func(h *harness) []string {
			return []string{"token", "create", "-n", "bot", "--scope", "WORKSPACE", "--entity-id", wsID, "-r", "WORKSPACE_MEMBER", "--expiration", "30", "--target", h.target("a")}
		}},
		{"create dry run", "token-create", 0, func(h *harness) []string {
			return []string{"token", "create", "-n", "bot", "--scope", "ORGANIZATION", "-r", "ORGANIZATION_MEMBER", "--target", h.target("a"), "--dry-run"}
		}},
		{"create exists, skipped", "token-create", 0, func(h *harness) []string {
			h.mint(astrofake.TokenSpec{Name: "bot", Scope: "WORKSPACE", EntityID: wsID, Role: "WORKSPACE_MEMBER", ExpiryDays: 30}, false)
			return []string{"token", "create", "-n", "bot", "--scope", "WORKSPACE", "--entity-id", wsID, "-r", "WORKSPACE_MEMBER", "--target", h.target("a"), "--skip-existing"}
		}},
		{"create exists, refused", "token-create", 1, func(h *harness) []string {
			h.mint(astrofake.TokenSpec{Name: "bot", Scope: "WORKSPACE", EntityID: wsID, Role: "WORKSPACE_MEMBER", ExpiryDays: 30}, false)
			return []string{"token", "create", "-n", "bot", "--scope", "WORKSPACE", "--entity-id", wsID, "-r", "WORKSPACE_MEMBER", "--target", h.target("a")}
		}},
		{"create preflight fails", "token-create", 1, func(h *harness) []string {
			return []string{"token", "create", "-n", "bot", "--scope", "ORGANIZATION", "-r", "ORGANIZATION_MEMBER", "--target", "file://" + filepath.Join(h.dir, "missing", "x")}
		}},
		{"rotate", "token-rotate", 0, rotateArgs},
		{"rotate dry run", "token-rotate", 0, func(h *harness) []string { return append(rotateArgs(h), "--dry-run") }},
		{"rotate not due", "token-rotate", 0, func(h *harness) []string { return append(rotateArgs(h), "--if-expires-within", "1d") }},
		{"rotate grace", "token-rotate", 0, func(h *harness) []string { return append(rotateArgs(h), "--grace", "1h") }},
		{"rotate target fails", "token-rotate", 1, func(h *harness) []string {
			h.stores[target.File] = &failingStore{fail: map[string]bool{"b": true}}
			return append(rotateArgs(h), "--target", h.target("b"))
		}},
		{"rotate deadline", "token-rotate", 1, func(h *harness) []string {
			h.fake.InjectFault(astrofake.Fault{Route: "CreateApiToken", Latency: time.Hour})
			return append(rotateArgs(h), "--deadline", "300ms")
		}},
		{"rotate usage", "token-rotate", 2, func(h *harness) []string { return []string{"token", "rotate", "--grace", "nand"} }},
		{"update", "token-update", 0, func(h *harness) []string {
			id, _ := h.mint(tokenSpecWS("bot"), false)
			return []string{"token", "update", "--token-id", id, "--new-name", "bot2", "--role", "WORKSPACE_OPERATOR"}
		}},
		{"update no-op", "token-update", 0, func(h *harness) []string {
			return []string{"token", "update", "--token-name", "ci admin", "--new-name", "ci admin"}
		}},
		{"update ambiguous", "token-update", 2, func(h *harness) []string { return []string{"token", "update", "--name", "x"} }},
		{"workspace add", "token-workspace-add", 0, func(h *harness) []string {
			id, _ := h.mint(astrofake.TokenSpec{Name: "org-bot", Scope: "ORGANIZATION", Role: "ORGANIZATION_MEMBER"}, false)
			return []string{"token", "workspace", "add", "--token-id", id, "--workspace-id", wsID, "-r", "WORKSPACE_MEMBER"}
		}},
		{"workspace update", "token-workspace-update", 0, func(h *harness) []string {
			id, _ := h.mint(astrofake.TokenSpec{Name: "org-bot", Scope: "ORGANIZATION", Role: "ORGANIZATION_MEMBER", ExtraRoles: []astrofake.Role{{EntityType: "WORKSPACE", EntityID: wsID, Role: "WORKSPACE_MEMBER"}}}, false)
			return []string{"token", "workspace", "update", "--token-id", id, "--workspace-id", wsID, "-r", "WORKSPACE_OPERATOR", "--dry-run"}
		}},
		{"workspace update refused", "token-workspace-update", 1, func(h *harness) []string {
			h.mint(astrofake.TokenSpec{Name: "org-bot", Scope: "ORGANIZATION", Role: "ORGANIZATION_MEMBER"}, false)
			return []string{"token", "workspace", "update", "--org-token-name", "org-bot", "--workspace-id", wsID, "-r", "WORKSPACE_OPERATOR"}
		}},
		{"workspace remove", "token-workspace-remove", 0, func(h *harness) []string {
			id, _ := h.mint(astrofake.TokenSpec{Name: "org-bot", Scope: "ORGANIZATION", Role: "ORGANIZATION_MEMBER"}, false)
			return []string{"token", "workspace", "remove", "--token-id", id, "--workspace-id", wsID}
		}},
		{"delete", "token-delete", 0, func(h *harness) []string {
			id, v := h.mint(tokenSpecWS("old"), false)
			_ = os.WriteFile(filepath.Join(h.dir, "old"), []byte(v), 0o600)
			return []string{"token", "delete", "--token-id", id, "--target", h.target("old")}
		}},
		{"delete gone", "token-delete", 0, func(h *harness) []string {
			return []string{"token", "delete", "--token-id", "clgone000000000000000000", "--dry-run"}
		}},
		{"delete refused", "token-delete", 1, func(h *harness) []string {
			id, _ := h.mint(astrofake.TokenSpec{Name: "busy", Scope: "ORGANIZATION", Role: "ORGANIZATION_MEMBER", LastUsedAt: h.clock.Now().Add(-time.Hour)}, false)
			return []string{"token", "delete", "--token-id", id}
		}},
		{"preview create", "preview-create", 0, func(h *harness) []string {
			return []string{"preview", "create", "--base-deployment", richBase, "--branch", "feature/x", "--token-target", h.target("{slug}.token"), "--wait"}
		}},
		{"preview create dry run", "preview-create", 0, func(h *harness) []string {
			return []string{"preview", "create", "--base-deployment", "analytics", "--branch", "feature/x", "--dry-run"}
		}},
		{"preview create no base", "preview-create", 1, func(h *harness) []string {
			return []string{"preview", "create", "--base-deployment", "nope", "--branch", "feature/x"}
		}},
		{"preview delete absent", "preview-delete", 0, func(h *harness) []string {
			return []string{"preview", "delete", "--base-deployment", richBase, "--branch", "feature/x"}
		}},
		{"preview delete", "preview-delete", 0, func(h *harness) []string {
			if r := h.run("", "preview", "create", "--base-deployment", richBase, "--branch", "feature/y"); r.code != 0 {
				h.t.Fatal(r)
			}
			return []string{"preview", "delete", "--base-deployment", richBase, "--branch", "feature/y"}
		}},
		{"run nothing", "run", 0, func(h *harness) []string {
			h.githubEvent("push", "push-update.json")
			return []string{"run", "--base-deployment", richBase}
		}},
		{"run preview", "run", 0, func(h *harness) []string {
			h.githubEvent("create", "create-branch.json")
			return []string{"run", "--base-deployment", richBase}
		}},
		{"run schedule", "run", 0, func(h *harness) []string {
			h.env["GITLAB_CI"], h.env["CI_PIPELINE_SOURCE"], h.env["CI_COMMIT_BRANCH"], h.env["CI_PROJECT_ID"] = "true", "schedule", "main", "7"
			return []string{"run", "--target", h.target("tok")}
		}},
		{"run usage", "run", 2, func(h *harness) []string { return []string{"run", "--on-update", "sometimes"} }},
		{"deploy", "deploy", 0, func(h *harness) []string {
			dags := filepath.Join(h.dir, "dags")
			_ = os.MkdirAll(dags, 0o755)
			_ = os.WriteFile(filepath.Join(dags, "x.py"), []byte("x = 1\n"), 0o644)
			return []string{"deploy", "--deployment", "analytics", "--dags-path", dags, "--wait"}
		}},
		{"deploy empty folder", "deploy", 1, func(h *harness) []string {
			return []string{"deploy", "--deployment", richBase, "--dags-path", h.dir}
		}},
		{"deploy usage", "deploy", 2, func(h *harness) []string { return []string{"deploy", "--dags-path", "x"} }},
		{"preview prune dry run", "preview-prune", 0, func(h *harness) []string {
			h.github()
			h.env["GITHUB_REPOSITORY"] = "acme/app"
			if r := h.run("", "preview", "create", "--base-deployment", richBase, "--branch", "feature/gone"); r.code != 0 {
				h.t.Fatal(r)
			}
			h.clock.Advance(time.Hour)
			return []string{"preview", "prune", "--base-deployment", richBase, "--dry-run"}
		}},
		{"preview prune no repository", "preview-prune", 2, func(h *harness) []string {
			return []string{"preview", "prune", "--base-deployment", richBase}
		}},
		{"target put", "target-put", 0, func(h *harness) []string {
			return []string{"target", "put", "--target", h.target("put")}
		}},
		{"target put no value", "target-put", 2, func(h *harness) []string { return []string{"target", "put", "--target", h.target("x")} }},
	}
	covered := map[string]bool{}
	for _, sc := range scenarios {
		covered[sc.schema] = true
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			h := newPreviewHarness(t) // ASTRO_API_TOKEN: an Organization owner
			args := sc.setup(h)
			stdin := ""
			if sc.schema == "target-put" && sc.code == 0 {
				// File targets take only what looks like an Astro token.
				v := "eyJhbGciOiJIUzI1NiJ9.eyJwZXJtaXNzaW9ucyI6WyJvcmdhbml6YXRpb25JZDpvIl19.c2lnbmF0dXJl"
				stdin = v + "\n"
				h.addValue(v)
			}
			r := h.run(stdin, append(args, "--format", "json")...)
			if r.code != sc.code {
				t.Fatalf("want exit %d: %v", sc.code, r)
			}
			checkSchema(t, sc.schema, r)
		})
	}
	// Every command that does something has a schema and a scenario.
	var out bytes.Buffer
	root := newRoot(&builder{r: &runner{rep: report.New(report.Options{Stdout: &out, Stderr: &out})}})
	for _, c := range allCommands(root) {
		if c.Runnable() && !c.HasSubCommands() && c.Name() != "help" {
			name := strings.ReplaceAll(strings.TrimPrefix(c.CommandPath(), "astro-ci "), " ", "-")
			if !covered[name] {
				t.Errorf("%s: no scenario validates its output against docs/schema/%s.schema.json", c.CommandPath(), name)
			}
		}
	}
}

// A usage error caught before any command is known (an unknown command, bad
// configuration) is an error-only document, valid under every schema.
func TestErrorOnlyDocumentsMatchEverySchema(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	all, err := schemas()
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"token", "frob"}, {"nope"}, {"token", "check", "--bogus"}} {
		r := h.run("", append(args, "--format", "json")...)
		if r.code != 2 {
			t.Fatal(r)
		}
		names := make([]string, 0, len(all))
		for n := range all {
			if n != "common" {
				names = append(names, n)
			}
		}
		slices.Sort(names)
		for _, n := range names {
			checkSchema(t, n, r)
		}
	}
	h.env["ASTRO_CI_DEBUG"] = "sometimes"
	r := h.run("", "version", "--format", "json")
	if r.code != 2 || !strings.Contains(r.stdout, `ASTRO_CI_DEBUG: \"sometimes\" is not a valid bool`) {
		t.Fatal(r)
	}
	checkSchema(t, "version", r)
	// Help still works.
	if r := h.run("", "token", "--help"); r.code != 0 || !strings.Contains(r.stdout, "rotate") {
		t.Fatal(r)
	}
}

// The schemas are strict enough to catch drift: an empty status, a role as
// a string, an unknown field, a wrong version or a document with neither a
// result nor an error is refused.
func TestSchemasRefuseDrift(t *testing.T) {
	t.Parallel()
	all, err := schemas()
	if err != nil {
		t.Fatal(err)
	}
	row := `{"id":"t","name":"n","scope":"ORGANIZATION","expiresAt":null,"daysLeft":null,"lastUsedAt":null,"managed":false,"status":%s}`
	for name, doc := range map[string]string{
		"token-check":  `{"schemaVersion":1,"ok":true,"tokens":[` + strings.Replace(row, "%s", `""`, 1) + `]}`,
		"token-list":   `{"schemaVersion":1,"tokens":[{"id":"t","name":"n","scope":"ORGANIZATION","roles":["ORGANIZATION_OWNER organization:o"],"expiresAt":null,"daysLeft":null,"expired":false,"lastUsedAt":null,"managed":false}]}`,
		"version":      `{"schemaVersion":1,"version":"v1","commit":"c","go":"go","os":"linux","arch":"amd64","extra":1}`,
		"target-put":   `{"schemaVersion":2,"targets":[]}`,
		"token-rotate": `{"schemaVersion":1}`,
		"run":          `{"schemaVersion":1,"error":{"message":"m","kind":"oops","exitCode":1}}`,
	} {
		v, err := jsonschema.UnmarshalJSON(strings.NewReader(doc))
		if err != nil {
			t.Fatal(err)
		}
		if all[name].Validate(v) == nil {
			t.Errorf("%s accepted %s", name, doc)
		}
	}
}
