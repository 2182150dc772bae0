// Package tokenadmin updates, re-scopes, deletes and lists Astro API tokens:
// the token operations of Astronomer's documentation beyond create and
// rotate, done the careful way (full-set role replacement from a fresh read,
// no-ops that say so, deletes that check recent use).
package tokenadmin

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/astro-ci/astro-ci/internal/astro"
	"github.com/astro-ci/astro-ci/internal/rotation"
)

// Astro is what token administration needs; *astro.Client has it.
type Astro interface {
	GetToken(ctx context.Context, id string) (*astro.Token, error)
	ListTokens(ctx context.Context, opts astro.ListTokensOptions) ([]astro.Token, error)
	UpdateToken(ctx context.Context, id string, req astro.UpdateTokenRequest) (*astro.Token, error)
	DeleteToken(ctx context.Context, id string) error
	SetTokenRoles(ctx context.Context, id string, roles []astro.Role) (*astro.SubjectRoles, error)
}

var _ Astro = (*astro.Client)(nil)

// Change is one thing an operation changes (or would, in a dry run).
type Change struct {
	Field string `json:"field"`
	From  string `json:"from"`
	To    string `json:"to"`
}

// Outcome of update and workspace operations.
type Outcome struct {
	TokenID   string   `json:"tokenId"`
	TokenName string   `json:"tokenName"`
	Scope     string   `json:"scope"`
	Changes   []Change `json:"changes"`
	NoOp      bool     `json:"noOp"`
	DryRun    bool     `json:"dryRun,omitempty"`
	Note      string   `json:"note,omitempty"`
}

// OrgRoles, WorkspaceRoles are the roles of each scope (astro-api.md §3.4).
var (
	OrgRoles       = []string{"ORGANIZATION_OWNER", "ORGANIZATION_BILLING_ADMIN", "ORGANIZATION_MEMBER", "ORGANIZATION_OBSERVE_ADMIN", "ORGANIZATION_OBSERVE_MEMBER"}
	WorkspaceRoles = []string{"WORKSPACE_OWNER", "WORKSPACE_OPERATOR", "WORKSPACE_AUTHOR", "WORKSPACE_MEMBER", "WORKSPACE_ACCESSOR"}
)

// CheckRole refuses a role that cannot belong to scope.
func CheckRole(scope astro.Scope, role string) error {
	switch scope {
	case astro.ScopeOrganization:
		if !slices.Contains(OrgRoles, role) {
			return fmt.Errorf("%q is not an Organization role (one of %s)", role, strings.Join(OrgRoles, ", "))
		}
	case astro.ScopeWorkspace:
		if !slices.Contains(WorkspaceRoles, role) {
			return fmt.Errorf("%q is not a Workspace role (one of %s)", role, strings.Join(WorkspaceRoles, ", "))
		}
	case astro.ScopeDeployment:
		if role == "" || strings.HasPrefix(role, "WORKSPACE_") || strings.HasPrefix(role, "ORGANIZATION_") {
			return fmt.Errorf("%q is not a Deployment role (DEPLOYMENT_ADMIN or a custom Deployment role)", role)
		}
	default:
		return fmt.Errorf("unknown scope %q", scope)
	}
	return nil
}

// UpdateRequest says what to change; nil fields stay as they are.
type UpdateRequest struct {
	Name, Description, Role *string
	DryRun                  bool
}

// Update changes a token's name and description (one call sending both, the
// unchanged one as it is, keeping astro-ci's marker) and the role on its own
// scope (the roles endpoint replaces the whole set, so the set is read fresh
// and only that one entry changes).
func Update(ctx context.Context, a Astro, t *astro.Token, req UpdateRequest) (*Outcome, error) {
	out := &Outcome{TokenID: t.ID, TokenName: t.Name, Scope: string(t.Scope), DryRun: req.DryRun}
	name, desc := t.Name, t.Description
	userDesc := rotation.StripMarker(t.Description)
	if req.Name != nil && *req.Name != t.Name {
		if l := len(*req.Name); l == 0 || l > 256 {
			return out, fmt.Errorf("--name must be 1 to 256 characters")
		}
		out.Changes = append(out.Changes, Change{"name", t.Name, *req.Name})
		name = *req.Name
	}
	if req.Description != nil && *req.Description != userDesc {
		out.Changes = append(out.Changes, Change{"description", userDesc, *req.Description})
		desc = *req.Description
		if m, ok := rotation.ParseMarker(t.Description); ok {
			desc = rotation.WithMarker(desc, m)
		}
		if len(desc) > 500 {
			return out, fmt.Errorf("--description is longer than Astro's 500 characters")
		}
	}
	var newRoles []astro.Role
	if req.Role != nil {
		if err := CheckRole(t.Scope, *req.Role); err != nil {
			return out, err
		}
		fresh, err := a.GetToken(ctx, t.ID)
		if err != nil {
			return out, fmt.Errorf("reading the roles of token %s: %w", t.ID, err)
		}
		own, ok := fresh.OwnRole()
		if !ok {
			return out, fmt.Errorf("token %s has no role on its own %s scope in Astro's answer", t.ID, strings.ToLower(string(t.Scope)))
		}
		if own.Role != *req.Role {
			out.Changes = append(out.Changes, Change{"role", own.Role, *req.Role})
			newRoles = replaceRole(fresh.Roles, own.EntityType, own.EntityID, &astro.Role{EntityType: own.EntityType, EntityID: own.EntityID, Role: *req.Role})
		}
	}
	if len(out.Changes) == 0 {
		out.NoOp = true
		return out, nil
	}
	if req.DryRun {
		return out, nil
	}
	if name != t.Name || desc != t.Description {
		if _, err := a.UpdateToken(ctx, t.ID, astro.UpdateTokenRequest{Name: name, Description: desc}); err != nil {
			return out, fmt.Errorf("updating token %s: %w", t.ID, err)
		}
	}
	if newRoles != nil {
		if _, err := a.SetTokenRoles(ctx, t.ID, newRoles); err != nil {
			return out, fmt.Errorf("changing the role of token %s: %w", t.ID, err)
		}
	}
	return out, nil
}

// replaceRole returns roles with the entry for (entityType, entityID)
// replaced by r, or removed when r is nil, or r appended when absent.
func replaceRole(roles []astro.Role, entityType, entityID string, r *astro.Role) []astro.Role {
	out := make([]astro.Role, 0, len(roles)+1)
	found := false
	for _, x := range roles {
		if x.EntityType == entityType && x.EntityID == entityID {
			found = true
			if r != nil {
				out = append(out, *r)
			}
			continue
		}
		out = append(out, x)
	}
	if !found && r != nil {
		out = append(out, *r)
	}
	return out
}

// WorkspaceRole grants (role != "") or takes away (role == "") an
// Organization token's role on a Workspace. The token's Organization role
// and every other entry stay; a change that changes nothing says so.
func WorkspaceRole(ctx context.Context, a Astro, t *astro.Token, workspaceID, role string, dryRun bool) (*Outcome, error) {
	return workspaceRole(ctx, a, t, workspaceID, role, dryRun, false)
}

// UpdateWorkspaceRole changes the role an Organization token already has on
// a Workspace (astro workspace token organization-token update). A token
// without a role there is refused with the command that adds it, so a typo
// in the Workspace id cannot grant access to another Workspace.
func UpdateWorkspaceRole(ctx context.Context, a Astro, t *astro.Token, workspaceID, role string, dryRun bool) (*Outcome, error) {
	if role == "" {
		return &Outcome{TokenID: t.ID, TokenName: t.Name, Scope: string(t.Scope), DryRun: dryRun}, errors.New("no role to change to")
	}
	return workspaceRole(ctx, a, t, workspaceID, role, dryRun, true)
}

func workspaceRole(ctx context.Context, a Astro, t *astro.Token, workspaceID, role string, dryRun, mustHave bool) (*Outcome, error) {
	out := &Outcome{TokenID: t.ID, TokenName: t.Name, Scope: string(t.Scope), DryRun: dryRun}
	if t.Scope != astro.ScopeOrganization {
		return out, fmt.Errorf("token %s is a %s token: only Organization tokens are added to Workspaces (a Workspace token belongs to its own Workspace; to change its role use astro-ci token update --role)", t.ID, strings.ToLower(string(t.Scope)))
	}
	if role != "" {
		if err := CheckRole(astro.ScopeWorkspace, role); err != nil {
			return out, err
		}
	}
	fresh, err := a.GetToken(ctx, t.ID)
	if err != nil {
		return out, fmt.Errorf("reading the roles of token %s: %w", t.ID, err)
	}
	var current string
	for _, r := range fresh.Roles {
		if r.EntityType == astro.EntityWorkspace && r.EntityID == workspaceID {
			current = r.Role
		}
	}
	switch {
	case mustHave && current == "":
		return out, fmt.Errorf("token %s has no role on Workspace %s, so there is none to change: to add it, run astro-ci token workspace add --token-id %s --workspace-id %s --role %s", t.ID, workspaceID, t.ID, workspaceID, role)
	case role == "" && current == "":
		out.NoOp, out.Note = true, fmt.Sprintf("token %s has no role on Workspace %s: nothing to remove", t.ID, workspaceID)
		return out, nil
	case role != "" && current == role:
		out.NoOp, out.Note = true, fmt.Sprintf("token %s already has %s on Workspace %s: nothing to change", t.ID, role, workspaceID)
		return out, nil
	}
	out.Changes = []Change{{"workspace " + workspaceID, dash(current), dash(role)}}
	var repl *astro.Role
	if role != "" {
		repl = &astro.Role{EntityType: astro.EntityWorkspace, EntityID: workspaceID, Role: role}
	}
	roles := replaceRole(fresh.Roles, astro.EntityWorkspace, workspaceID, repl)
	if !slices.ContainsFunc(roles, func(r astro.Role) bool { return r.EntityType == astro.EntityOrganization }) {
		return out, errors.New("refusing a role set without the token's Organization role")
	}
	if dryRun {
		return out, nil
	}
	if _, err := a.SetTokenRoles(ctx, t.ID, roles); err != nil {
		return out, fmt.Errorf("setting the roles of token %s: %w", t.ID, err)
	}
	return out, nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// RecentlyUsed reports whether t was used within d before now.
func RecentlyUsed(t *astro.Token, d time.Duration, now time.Time) bool {
	return t.LastUsedAt != nil && now.Sub(*t.LastUsedAt) < d
}
