package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/astro-ci/astro-ci/internal/astrofake"
)

const ws2 = "clws20000000000000000test"

func adminHarness(t *testing.T) *harness {
	h := newHarness(t)
	h.fake.AddWorkspace(orgID, ws2, "marketing")
	h.admin()
	return h
}

func roleSet(h *harness, id string) []string {
	tok, _ := h.fake.Token(id)
	var out []string
	for _, r := range tok.Roles {
		out = append(out, r.EntityType+":"+r.EntityID+":"+r.Role)
	}
	slices.Sort(out)
	return out
}

func TestTokenUpdate(t *testing.T) {
	t.Parallel()
	h := adminHarness(t)
	id, _ := h.mint(astrofake.TokenSpec{Name: "deploy-bot", Description: "ships DAGs", Scope: "WORKSPACE", EntityID: wsID, Role: "WORKSPACE_MEMBER", ExpiryDays: 30,
		ExtraRoles: []astrofake.Role{{EntityType: "DEPLOYMENT", EntityID: depID, Role: "DEPLOYMENT_ADMIN"}}}, false)

	if r := h.run("", "token", "update", "--token-id", id, "--new-name", "deployer"); r.code != 0 {
		t.Fatal(r)
	}
	tok, _ := h.fake.Token(id)
	if tok.Name != "deployer" || tok.Description != "ships DAGs" {
		t.Fatalf("name change must keep the description: %+v", tok)
	}
	if r := h.run("", "token", "update", "--token-name", "deployer", "--description", "ships DAGs to prod"); r.code != 0 {
		t.Fatal(r)
	}
	if tok, _ = h.fake.Token(id); tok.Name != "deployer" || tok.Description != "ships DAGs to prod" {
		t.Fatalf("%+v", tok)
	}
	before := roleSet(h, id)
	if r := h.run("", "token", "update", "--token-id", id, "--role", "WORKSPACE_OPERATOR"); r.code != 0 || !strings.Contains(r.stdout, `role: "WORKSPACE_MEMBER" -> "WORKSPACE_OPERATOR"`) {
		t.Fatal(r)
	}
	after := roleSet(h, id)
	if len(after) != 2 || !slices.Contains(after, "DEPLOYMENT:"+depID+":DEPLOYMENT_ADMIN") || !slices.Contains(after, "WORKSPACE:"+wsID+":WORKSPACE_OPERATOR") {
		t.Fatalf("role change must keep the other roles: %v -> %v", before, after)
	}
	// No-op, expiry, wrong-scope role.
	if r := h.run("", "token", "update", "--token-id", id, "--role", "WORKSPACE_OPERATOR"); r.code != 0 || !strings.Contains(r.stdout, "no change") {
		t.Fatal(r)
	}
	if r := h.run("", "token", "update", "--token-id", id, "--expiry-days", "90"); r.code != 2 || !strings.Contains(r.stderr, "cannot change a token's expiry") {
		t.Fatal(r)
	}
	if r := h.run("", "token", "update", "--token-id", id, "--role", "ORGANIZATION_OWNER"); r.code != 1 || !strings.Contains(r.stderr, "not a Workspace role") {
		t.Fatal(r)
	}
	if r := h.run("", "token", "update", "--token-id", id); r.code != 2 {
		t.Fatal(r)
	}
}

func TestTokenUpdateKeepsMarker(t *testing.T) {
	t.Parallel()
	h := adminHarness(t)
	out, r := h.rotateJSON("--target", h.target("tok"))
	if r.code != 0 {
		t.Fatal(r)
	}
	h.env["ASTRO_API_TOKEN"] = h.file("tok")
	if r := h.run("", "token", "update", "--token-id", out.New.ID, "--description", "the CI token"); r.code != 0 {
		t.Fatal(r)
	}
	tok, _ := h.fake.Token(out.New.ID)
	if !strings.HasPrefix(tok.Description, "the CI token [astro-ci lineage=") {
		t.Fatalf("marker lost: %q", tok.Description)
	}
}

func TestTokenWorkspace(t *testing.T) {
	t.Parallel()
	h := adminHarness(t)
	id, _ := h.mint(astrofake.TokenSpec{Name: "org-bot", Scope: "ORGANIZATION", Role: "ORGANIZATION_MEMBER", ExpiryDays: 30}, false)
	orgRole := "ORGANIZATION:" + orgID + ":ORGANIZATION_MEMBER"
	steps := []struct {
		args []string
		want []string
		out  string
	}{
		{[]string{"add", "--workspace-id", wsID, "--role", "WORKSPACE_AUTHOR"}, []string{orgRole, "WORKSPACE:" + wsID + ":WORKSPACE_AUTHOR"}, "granted"},
		{[]string{"add", "--workspace-id", ws2, "--role", "WORKSPACE_MEMBER"}, []string{orgRole, "WORKSPACE:" + wsID + ":WORKSPACE_AUTHOR", "WORKSPACE:" + ws2 + ":WORKSPACE_MEMBER"}, "granted"},
		{[]string{"add", "--workspace-id", wsID, "--role", "WORKSPACE_OPERATOR"}, []string{orgRole, "WORKSPACE:" + wsID + ":WORKSPACE_OPERATOR", "WORKSPACE:" + ws2 + ":WORKSPACE_MEMBER"}, `"WORKSPACE_AUTHOR" -> "WORKSPACE_OPERATOR"`},
		{[]string{"add", "--workspace-id", wsID, "--role", "WORKSPACE_OPERATOR"}, []string{orgRole, "WORKSPACE:" + wsID + ":WORKSPACE_OPERATOR", "WORKSPACE:" + ws2 + ":WORKSPACE_MEMBER"}, "no change"},
		{[]string{"update", "--workspace-id", wsID, "--role", "WORKSPACE_ACCESSOR"}, []string{orgRole, "WORKSPACE:" + wsID + ":WORKSPACE_ACCESSOR", "WORKSPACE:" + ws2 + ":WORKSPACE_MEMBER"}, `"WORKSPACE_OPERATOR" -> "WORKSPACE_ACCESSOR"`},
		{[]string{"update", "--workspace-id", wsID, "-r", "WORKSPACE_OPERATOR"}, []string{orgRole, "WORKSPACE:" + wsID + ":WORKSPACE_OPERATOR", "WORKSPACE:" + ws2 + ":WORKSPACE_MEMBER"}, "changed the role of token"},
		{[]string{"remove", "--workspace-id", wsID}, []string{orgRole, "WORKSPACE:" + ws2 + ":WORKSPACE_MEMBER"}, "removed"},
		{[]string{"remove", "--workspace-id", wsID}, []string{orgRole, "WORKSPACE:" + ws2 + ":WORKSPACE_MEMBER"}, "no change"},
	}
	for _, s := range steps {
		h.fake.ResetRequests()
		r := h.run("", append([]string{"token", "workspace", s.args[0], "--token-id", id}, s.args[1:]...)...)
		if r.code != 0 || !strings.Contains(r.stdout, s.out) {
			t.Fatalf("%v: %v", s.args, r)
		}
		if got := roleSet(h, id); !slices.Equal(got, s.want) {
			t.Fatalf("%v: roles %v, want %v", s.args, got, s.want)
		}
		if s.out == "no change" {
			for _, q := range h.fake.Requests() {
				if q.Method != "GET" {
					t.Fatalf("a no-op sent %s %s", q.Method, q.Path)
				}
			}
		}
	}
	// update does not add: the token has no role in wsID any more.
	h.fake.ResetRequests()
	if r := h.run("", "token", "workspace", "update", "--org-token-name", "org-bot", "--workspace-id", wsID, "--role", "WORKSPACE_MEMBER"); r.code != 1 ||
		!strings.Contains(r.stderr, "has no role on Workspace "+wsID+", so there is none to change: to add it, run astro-ci token workspace add") {
		t.Fatal(r)
	}
	for _, q := range h.fake.Requests() {
		if q.Method != "GET" {
			t.Fatalf("a refused update sent %s %s", q.Method, q.Path)
		}
	}
	ws, _ := h.mint(astrofake.TokenSpec{Name: "ws-bot", Scope: "WORKSPACE", EntityID: wsID, Role: "WORKSPACE_MEMBER"}, false)
	if r := h.run("", "token", "workspace", "add", "--token-id", ws, "--workspace-id", ws2, "--role", "WORKSPACE_MEMBER"); r.code != 1 || !strings.Contains(r.stderr, "only Organization tokens") {
		t.Fatal(r)
	}
	for _, args := range [][]string{
		{"token", "workspace"}, {"token", "workspace", "add", "--token-id", id, "--workspace-id", wsID},
		{"token", "workspace", "add", "--token-id", id, "--workspace-id", wsID, "--role", "DEPLOYMENT_ADMIN"},
		{"token", "workspace", "remove", "--token-id", id},
		{"token", "workspace", "update", "--token-id", id, "--workspace-id", wsID},
		{"token", "workspace", "remove", "--token-id", id, "--workspace-id", wsID, "--role", "WORKSPACE_MEMBER"},
	} {
		if r := h.run("", args...); r.code != 2 {
			t.Errorf("%v: %v", args, r)
		}
	}
}

func TestTokenDelete(t *testing.T) {
	t.Parallel()
	h := adminHarness(t)
	now := h.clock.Now()
	used, usedValue := h.mint(astrofake.TokenSpec{Name: "busy", Scope: "ORGANIZATION", Role: "ORGANIZATION_MEMBER", LastUsedAt: now.Add(-2 * time.Hour),
		ExtraRoles: []astrofake.Role{{EntityType: "WORKSPACE", EntityID: wsID, Role: "WORKSPACE_MEMBER"}}}, false)
	idle, idleValue := h.mint(astrofake.TokenSpec{Name: "idle", Scope: "WORKSPACE", EntityID: wsID, Role: "WORKSPACE_MEMBER", LastUsedAt: now.AddDate(0, 0, -30)}, false)
	secretFile := filepath.Join(h.dir, "idle-token")
	if err := os.WriteFile(secretFile, []byte(idleValue), 0o600); err != nil {
		t.Fatal(err)
	}

	r := h.run("", "token", "delete", "--token-id", used)
	if r.code != 1 || !strings.Contains(r.stderr, "within --unused-for 7d") || !h.fake.Authenticates(usedValue) {
		t.Fatal(r)
	}
	r = h.run("", "token", "delete", "--token-id", used, "--force")
	if r.code != 0 || h.fake.Authenticates(usedValue) || !strings.Contains(r.stderr, "token workspace remove") {
		t.Fatal(r)
	}
	r = h.run("", "token", "delete", "--token-name", "idle", "--target", "file://"+secretFile)
	if r.code != 0 || h.fake.Authenticates(idleValue) {
		t.Fatal(r)
	}
	if _, err := os.Stat(secretFile); !os.IsNotExist(err) {
		t.Fatal("target not removed")
	}
	// Idempotent: gone is success, targets still cleaned.
	r = h.run("", "token", "delete", "--token-id", idle, "--target", "file://"+secretFile)
	if r.code != 0 || !strings.Contains(r.stdout, "already gone") {
		t.Fatal(r)
	}
	if r := h.run("", "token", "delete", "--token-name", "idle"); r.code != 1 {
		t.Fatal(r) // by name, a gone token cannot be found
	}
}

func TestTokenList(t *testing.T) {
	t.Parallel()
	h := adminHarness(t)
	h.mint(astrofake.TokenSpec{Name: "ws-bot", Scope: "WORKSPACE", EntityID: wsID, Role: "WORKSPACE_MEMBER", ExpiryDays: 10}, false)
	h.mint(astrofake.TokenSpec{Name: "ws2-bot", Scope: "WORKSPACE", EntityID: ws2, Role: "WORKSPACE_MEMBER"}, false)
	h.mint(astrofake.TokenSpec{Name: "org-in-ws", Scope: "ORGANIZATION", Role: "ORGANIZATION_MEMBER", ExtraRoles: []astrofake.Role{{EntityType: "WORKSPACE", EntityID: wsID, Role: "WORKSPACE_AUTHOR"}}}, false)
	if _, r := h.rotateJSON("--target", h.target("tok")); r.code != 0 {
		t.Fatal(r)
	}
	h.env["ASTRO_API_TOKEN"] = h.file("tok")
	names := func(args ...string) []string {
		r := h.run("", append([]string{"token", "list", "--format", "json"}, args...)...)
		var out struct {
			Tokens []listRow `json:"tokens"`
		}
		if r.code != 0 || json.Unmarshal([]byte(r.stdout), &out) != nil {
			t.Fatal(r)
		}
		var n []string
		for _, row := range out.Tokens {
			name := row.Name
			if row.Managed {
				name += "*"
			}
			n = append(n, name)
		}
		slices.Sort(n)
		return n
	}
	if got := names(); !slices.Equal(got, []string{"ci admin*", "org-in-ws", "ws-bot", "ws2-bot"}) {
		t.Fatalf("all: %v", got)
	}
	if got := names("--workspace-id", wsID); !slices.Equal(got, []string{"org-in-ws", "ws-bot"}) {
		t.Fatalf("workspace: %v", got)
	}
	if got := names("--organization"); !slices.Equal(got, []string{"ci admin*", "org-in-ws"}) {
		t.Fatalf("organization: %v", got)
	}
	r := h.run("", "token", "list")
	if r.code != 0 || !strings.Contains(r.stdout, "WORKSPACE_AUTHOR workspace:"+wsID) || !strings.Contains(r.stdout, "astro-ci") {
		t.Fatal(r)
	}
}

func TestAdminDryRunsChangeNothing(t *testing.T) {
	t.Parallel()
	h := adminHarness(t)
	id, _ := h.mint(astrofake.TokenSpec{Name: "org-bot", Scope: "ORGANIZATION", Role: "ORGANIZATION_MEMBER", ExpiryDays: 30}, false)
	if r := h.run("", "token", "check"); r.code != 0 {
		t.Fatal(r)
	}
	before := h.fake.Snapshot()
	for _, args := range [][]string{
		{"token", "update", "--token-id", id, "--new-name", "x", "--description", "y", "--role", "ORGANIZATION_OWNER", "--dry-run"},
		{"token", "workspace", "add", "--token-id", id, "--workspace-id", wsID, "--role", "WORKSPACE_MEMBER", "--dry-run"},
		{"token", "delete", "--token-id", id, "--force", "--dry-run", "--target", h.target("x")},
	} {
		if r := h.run("", args...); r.code != 0 || !strings.Contains(r.stdout, "would") {
			t.Fatalf("%v: %v", args, r)
		}
	}
	if !bytes.Equal(before, h.fake.Snapshot()) {
		t.Fatal("a dry run changed Astro")
	}
}
