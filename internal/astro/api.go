package astro

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
)

type tokensPage struct {
	Tokens     []Token `json:"tokens"`
	Limit      int     `json:"limit"`
	Offset     int     `json:"offset"`
	TotalCount int     `json:"totalCount"`
}

// ListTokens returns every token matching opts, following pagination to the end.
func (c *Client) ListTokens(ctx context.Context, opts ListTokensOptions) ([]Token, error) {
	q := url.Values{}
	if opts.WorkspaceID != "" {
		q.Set("workspaceId", opts.WorkspaceID)
	}
	if opts.DeploymentID != "" {
		q.Set("deploymentId", opts.DeploymentID)
	}
	if opts.IncludeOnlyOrganizationTokens {
		q.Set("includeOnlyOrganizationTokens", "true")
	}
	var all []Token
	err := c.paginate(ctx, c.orgPath("/tokens"), q, func(decode func(any) error) (int, int, error) {
		var page tokensPage
		if err := decode(&page); err != nil {
			return 0, 0, err
		}
		all = append(all, page.Tokens...)
		return len(page.Tokens), page.TotalCount, nil
	})
	return all, err
}

// paginate walks offset/limit pages until totalCount is reached or a page
// comes back empty (which guards against a server whose count is off).
func (c *Client) paginate(ctx context.Context, path string, q url.Values, page func(decode func(any) error) (n, total int, err error)) error {
	offset := 0
	for {
		pq := url.Values{}
		for k, v := range q {
			pq[k] = v
		}
		pq.Set("offset", strconv.Itoa(offset))
		pq.Set("limit", strconv.Itoa(c.cfg.PageSize))
		n, total, err := page(func(out any) error {
			return c.do(ctx, http.MethodGet, path, pq, nil, out, safe)
		})
		if err != nil {
			return err
		}
		offset += n
		if n == 0 || offset >= total {
			return nil
		}
	}
}

// GetToken reads one token (never its value).
func (c *Client) GetToken(ctx context.Context, id string) (*Token, error) {
	var t Token
	if err := c.do(ctx, http.MethodGet, c.orgPath("/tokens/%s", id), nil, nil, &t, safe); err != nil {
		return nil, err
	}
	return &t, nil
}

// CreateToken creates a token; the response carries its value. It is not
// retried once the request may have reached Astro: an *UncertainError asks
// the caller to reconcile.
func (c *Client) CreateToken(ctx context.Context, req CreateTokenRequest) (*Token, error) {
	var t Token
	if err := c.do(ctx, http.MethodPost, c.orgPath("/tokens"), nil, req, &t, once); err != nil {
		return nil, err
	}
	return &t, nil
}

// UpdateToken replaces a token's name and description.
func (c *Client) UpdateToken(ctx context.Context, id string, req UpdateTokenRequest) (*Token, error) {
	var t Token
	if err := c.do(ctx, http.MethodPost, c.orgPath("/tokens/%s", id), nil, req, &t, safe); err != nil {
		return nil, err
	}
	return &t, nil
}

// RotateToken replaces a token's value in place; the old value stops working
// at once. Like CreateToken it may return an *UncertainError.
func (c *Client) RotateToken(ctx context.Context, id string) (*Token, error) {
	var t Token
	if err := c.do(ctx, http.MethodPost, c.orgPath("/tokens/%s/rotate", id), nil, nil, &t, once); err != nil {
		return nil, err
	}
	return &t, nil
}

// DeleteToken deletes a token. Astro answers 404 to a second delete; callers
// that want "already gone is fine" check IsNotFound.
func (c *Client) DeleteToken(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, c.orgPath("/tokens/%s", id), nil, nil, nil, safe)
}

// SetTokenRoles replaces the token's whole role set (Astro has no add or
// remove of a single role): callers read the current set, change it, send it all.
func (c *Client) SetTokenRoles(ctx context.Context, id string, roles []Role) (*SubjectRoles, error) {
	if len(roles) == 0 {
		return nil, fmt.Errorf("a token keeps at least one role (its own scope's): refusing to send an empty role set for token %s", id)
	}
	var out SubjectRoles
	body := struct {
		Roles []Role `json:"roles"`
	}{roles}
	if err := c.do(ctx, http.MethodPost, c.orgPath("/tokens/%s/roles", id), nil, body, &out, safe); err != nil {
		return nil, err
	}
	return &out, nil
}

type deploymentsPage struct {
	Deployments []Deployment `json:"deployments"`
	Limit       int          `json:"limit"`
	Offset      int          `json:"offset"`
	TotalCount  int          `json:"totalCount"`
}

// ListDeployments returns every Deployment matching opts.
func (c *Client) ListDeployments(ctx context.Context, opts ListDeploymentsOptions) ([]Deployment, error) {
	q := url.Values{}
	for _, v := range opts.WorkspaceIDs {
		q.Add("workspaceIds", v)
	}
	for _, v := range opts.Names {
		q.Add("names", v)
	}
	for _, v := range opts.DeploymentIDs {
		q.Add("deploymentIds", v)
	}
	var all []Deployment
	err := c.paginate(ctx, c.orgPath("/deployments"), q, func(decode func(any) error) (int, int, error) {
		var page deploymentsPage
		if err := decode(&page); err != nil {
			return 0, 0, err
		}
		all = append(all, page.Deployments...)
		return len(page.Deployments), page.TotalCount, nil
	})
	return all, err
}

// GetDeployment reads one Deployment.
func (c *Client) GetDeployment(ctx context.Context, id string) (*Deployment, error) {
	var d Deployment
	if err := c.do(ctx, http.MethodGet, c.orgPath("/deployments/%s", id), nil, nil, &d, safe); err != nil {
		return nil, err
	}
	return &d, nil
}

// CreateDeployment creates a Deployment (status CREATING). Not retried once
// it may have reached Astro: the preview engine reconciles by the marker in
// the description.
func (c *Client) CreateDeployment(ctx context.Context, req DeploymentRequest) (*Deployment, error) {
	var d Deployment
	if err := c.do(ctx, http.MethodPost, c.orgPath("/deployments"), nil, req, &d, once); err != nil {
		return nil, err
	}
	return &d, nil
}

// UpdateDeployment replaces a Deployment's configuration.
func (c *Client) UpdateDeployment(ctx context.Context, id string, req DeploymentRequest) (*Deployment, error) {
	if req.EnvironmentVariables == nil {
		// Required on update: an empty list is how "no variables" is said.
		req.EnvironmentVariables = []EnvironmentVariableRequest{}
	}
	var d Deployment
	if err := c.do(ctx, http.MethodPost, c.orgPath("/deployments/%s", id), nil, req, &d, safe); err != nil {
		return nil, err
	}
	return &d, nil
}

// DeleteDeployment deletes a Deployment; a second delete is a 404.
func (c *Client) DeleteDeployment(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, c.orgPath("/deployments/%s", id), nil, nil, nil, safe)
}
