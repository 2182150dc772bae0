package gitlabstore

import (
	"context"
	"strings"

	gitlab "gitlab.com/gitlab-org/api/client-go"

	"github.com/astro-ci/astro-ci/internal/target"
)

// client-go calls, project or group. Each returns what the transport saw.

// remoteVar is what the store needs of a variable GitLab returned. value
// is "" for a hidden variable; it is only ever compared, never printed.
type remoteVar struct {
	hidden bool
	scope  string
	value  string
	desc   string
}

func fromProject(v *gitlab.ProjectVariable) remoteVar {
	return remoteVar{hidden: v.Hidden, scope: v.EnvironmentScope, value: v.Value, desc: v.Description}
}

func fromGroup(v *gitlab.GroupVariable) remoteVar {
	return remoteVar{hidden: v.Hidden, scope: v.EnvironmentScope, value: v.Value, desc: v.Description}
}

// get GETs t's variable with filter[environment_scope]=scope.
func (s *Store) get(ctx context.Context, t target.Target, scope string) (remoteVar, *exchange, error) {
	ctx, x := withExchange(ctx)
	filter := &gitlab.VariableFilter{EnvironmentScope: scope}
	if t.Kind == target.KindGroupVar {
		v, _, err := s.c.GroupVariables.GetVariable(t.Group, t.Name, &gitlab.GetGroupVariableOptions{Filter: filter}, gitlab.WithContext(ctx))
		if err != nil {
			return remoteVar{}, x, err
		}
		return fromGroup(v), x, nil
	}
	v, _, err := s.c.ProjectVariables.GetVariable(t.Project, t.Name, &gitlab.GetProjectVariableOptions{Filter: filter}, gitlab.WithContext(ctx))
	if err != nil {
		return remoteVar{}, x, err
	}
	return fromProject(v), x, nil
}

// update PUTs value to the variable in t's scope. With flags it also sends
// masked=true and protected/raw=true when t asks for them. It never sends
// false for protected or raw: GitLab keeps omitted fields
// (declared_params(include_missing: false)), and a target that does not
// say protected=true should not unprotect a variable someone protected on
// purpose (glab's update does exactly that by sending its flag defaults).
// It never sends variable_type, description or environment_scope either:
// the last would move the variable to another scope. Without flags only
// the value goes (preflight write-back).
func (s *Store) update(ctx context.Context, t target.Target, value string, flags bool) (remoteVar, *exchange, error) {
	ctx, x := withExchange(ctx)
	filter := &gitlab.VariableFilter{EnvironmentScope: t.EnvironmentScope}
	var masked, protected, raw *bool
	if flags {
		masked = gitlab.Ptr(true)
		if t.Protected {
			protected = gitlab.Ptr(true)
		}
		if t.Raw {
			raw = gitlab.Ptr(true)
		}
	}
	if t.Kind == target.KindGroupVar {
		v, _, err := s.c.GroupVariables.UpdateVariable(t.Group, t.Name, &gitlab.UpdateGroupVariableOptions{
			Value: gitlab.Ptr(value), Filter: filter, Masked: masked, Protected: protected, Raw: raw,
		}, gitlab.WithContext(ctx))
		if err != nil {
			return remoteVar{}, x, err
		}
		return fromGroup(v), x, nil
	}
	v, _, err := s.c.ProjectVariables.UpdateVariable(t.Project, t.Name, &gitlab.UpdateProjectVariableOptions{
		Value: gitlab.Ptr(value), Filter: filter, Masked: masked, Protected: protected, Raw: raw,
	}, gitlab.WithContext(ctx))
	if err != nil {
		return remoteVar{}, x, err
	}
	return fromProject(v), x, nil
}

// create POSTs a new masked env_var variable key in t's scope.
func (s *Store) create(ctx context.Context, t target.Target, key, value string, hidden bool, description string) (remoteVar, *exchange, error) {
	ctx, x := withExchange(ctx)
	var mh *bool
	if hidden {
		mh = gitlab.Ptr(true)
	}
	if t.Kind == target.KindGroupVar {
		v, _, err := s.c.GroupVariables.CreateVariable(t.Group, &gitlab.CreateGroupVariableOptions{
			Key: gitlab.Ptr(key), Value: gitlab.Ptr(value), Description: gitlab.Ptr(description),
			EnvironmentScope: gitlab.Ptr(t.EnvironmentScope), Masked: gitlab.Ptr(true), MaskedAndHidden: mh,
			Protected: gitlab.Ptr(t.Protected), Raw: gitlab.Ptr(t.Raw), VariableType: gitlab.Ptr(gitlab.EnvVariableType),
		}, gitlab.WithContext(ctx))
		if err != nil {
			return remoteVar{}, x, err
		}
		return fromGroup(v), x, nil
	}
	v, _, err := s.c.ProjectVariables.CreateVariable(t.Project, &gitlab.CreateProjectVariableOptions{
		Key: gitlab.Ptr(key), Value: gitlab.Ptr(value), Description: gitlab.Ptr(description),
		EnvironmentScope: gitlab.Ptr(t.EnvironmentScope), Masked: gitlab.Ptr(true), MaskedAndHidden: mh,
		Protected: gitlab.Ptr(t.Protected), Raw: gitlab.Ptr(t.Raw), VariableType: gitlab.Ptr(gitlab.EnvVariableType),
	}, gitlab.WithContext(ctx))
	if err != nil {
		return remoteVar{}, x, err
	}
	return fromProject(v), x, nil
}

// remove DELETEs variable key of t's project or group, in scope, or with
// no filter when scope is "" (for canaries, whose keys are unique).
func (s *Store) remove(ctx context.Context, t target.Target, key, scope string) (*exchange, error) {
	ctx, x := withExchange(ctx)
	var filter *gitlab.VariableFilter
	if scope != "" {
		filter = &gitlab.VariableFilter{EnvironmentScope: scope}
	}
	var err error
	if t.Kind == target.KindGroupVar {
		_, err = s.c.GroupVariables.RemoveVariable(t.Group, key, &gitlab.RemoveGroupVariableOptions{Filter: filter}, gitlab.WithContext(ctx))
	} else {
		_, err = s.c.ProjectVariables.RemoveVariable(t.Project, key, &gitlab.RemoveProjectVariableOptions{Filter: filter}, gitlab.WithContext(ctx))
	}
	return x, err
}

// listGroup GETs one page (100 a page) of t's group variables.
func (s *Store) listGroup(ctx context.Context, t target.Target, page int64) ([]*gitlab.GroupVariable, int64, *exchange, error) {
	ctx, x := withExchange(ctx)
	vs, resp, err := s.c.GroupVariables.ListVariables(t.Group, &gitlab.ListGroupVariablesOptions{
		ListOptions: gitlab.ListOptions{PerPage: 100, Page: page},
	}, gitlab.WithContext(ctx))
	if err != nil {
		return nil, 0, x, err
	}
	return vs, resp.NextPage, x, nil
}

// canaryKeys lists the preflight canaries left in t's project or group
// (by this or any earlier run): keys with target.CanaryPrefix and the canary's
// description. At most a few pages: a scope full of variables is not
// searched to its end for leftovers.
func (s *Store) canaryKeys(ctx context.Context, t target.Target) ([]string, error) {
	var keys []string
	add := func(key, description string) {
		if isCanary(key, description) {
			keys = append(keys, key)
		}
	}
	for page := int64(1); page != 0 && page <= 5; {
		var err error
		if t.Kind == target.KindGroupVar {
			var vs []*gitlab.GroupVariable
			vs, page, _, err = s.listGroup(ctx, t, page)
			for _, v := range vs {
				add(v.Key, v.Description)
			}
		} else {
			var (
				vs   []*gitlab.ProjectVariable
				resp *gitlab.Response
			)
			vs, resp, err = s.c.ProjectVariables.ListVariables(t.Project, &gitlab.ListProjectVariablesOptions{
				ListOptions: gitlab.ListOptions{PerPage: 100, Page: page},
			}, gitlab.WithContext(ctx))
			for _, v := range vs {
				add(v.Key, v.Description)
			}
			if resp != nil {
				page = resp.NextPage
			}
		}
		if err != nil {
			return keys, err
		}
	}
	return keys, nil
}

func isCanary(key, description string) bool {
	return strings.HasPrefix(key, target.CanaryPrefix) && description == canaryDescription
}

// tokenSelf GETs /personal_access_tokens/self: the calling token's scopes.
func (s *Store) tokenSelf(ctx context.Context) ([]string, *exchange, error) {
	ctx, x := withExchange(ctx)
	pat, _, err := s.c.PersonalAccessTokens.GetSinglePersonalAccessToken(gitlab.WithContext(ctx))
	if err != nil {
		return nil, x, err
	}
	return pat.Scopes, x, nil
}
