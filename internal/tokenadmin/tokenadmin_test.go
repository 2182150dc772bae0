package tokenadmin

import (
	"reflect"
	"testing"
	"time"

	"github.com/astro-ci/astro-ci/internal/astro"
)

func TestReplaceRole(t *testing.T) {
	t.Parallel()
	org := astro.Role{EntityType: "ORGANIZATION", EntityID: "o", Role: "ORGANIZATION_MEMBER"}
	ws := astro.Role{EntityType: "WORKSPACE", EntityID: "w", Role: "WORKSPACE_MEMBER"}
	op := astro.Role{EntityType: "WORKSPACE", EntityID: "w", Role: "WORKSPACE_OPERATOR"}
	roles := []astro.Role{org, ws}
	if got := replaceRole(roles, "WORKSPACE", "w", &op); !reflect.DeepEqual(got, []astro.Role{org, op}) {
		t.Fatalf("replace: %v", got)
	}
	if got := replaceRole(roles, "WORKSPACE", "w", nil); !reflect.DeepEqual(got, []astro.Role{org}) {
		t.Fatalf("remove: %v", got)
	}
	other := astro.Role{EntityType: "WORKSPACE", EntityID: "x", Role: "WORKSPACE_AUTHOR"}
	if got := replaceRole(roles, "WORKSPACE", "x", &other); !reflect.DeepEqual(got, []astro.Role{org, ws, other}) {
		t.Fatalf("add: %v", got)
	}
	if !reflect.DeepEqual(roles, []astro.Role{org, ws}) {
		t.Fatal("input changed")
	}
}

func TestCheckRole(t *testing.T) {
	t.Parallel()
	ok := map[astro.Scope]string{astro.ScopeOrganization: "ORGANIZATION_OWNER", astro.ScopeWorkspace: "WORKSPACE_ACCESSOR", astro.ScopeDeployment: "MY_CUSTOM_ROLE"}
	for sc, r := range ok {
		if err := CheckRole(sc, r); err != nil {
			t.Errorf("%s %s: %v", sc, r, err)
		}
	}
	bad := map[astro.Scope]string{astro.ScopeOrganization: "WORKSPACE_OWNER", astro.ScopeWorkspace: "DEPLOYMENT_ADMIN", astro.ScopeDeployment: "WORKSPACE_OWNER", "TEAM": "X"}
	for sc, r := range bad {
		if err := CheckRole(sc, r); err == nil {
			t.Errorf("%s %s accepted", sc, r)
		}
	}
}

func TestRecentlyUsed(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	at := now.Add(-6 * 24 * time.Hour)
	if !RecentlyUsed(&astro.Token{LastUsedAt: &at}, 7*24*time.Hour, now) || RecentlyUsed(&astro.Token{LastUsedAt: &at}, 5*24*time.Hour, now) || RecentlyUsed(&astro.Token{}, time.Hour, now) {
		t.Fatal("RecentlyUsed")
	}
}
