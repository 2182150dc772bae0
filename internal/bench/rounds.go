package bench

import (
	"strings"

	"github.com/astro-ci/astro-ci/internal/fakegate"
)

// Round is the requests that go together: each is in flight with the
// others, and each waits for something of the round before. A scenario's
// rounds are its dependency structure; their number is its chain.
type Round []fakegate.Matcher

// String lists the round's requests, "astro GET …/tokens/{id} ∥ …".
func (r Round) String() string {
	var s []string
	for _, m := range r {
		s = append(s, m.String())
	}
	return strings.Join(s, " ∥ ")
}

const org = `/v1/organizations/[^/]+`

// Astro's operations.
var (
	getToken     = fakegate.Match(LabelAstro, "GET", org+`/tokens/[^/]+`)
	listTokens   = fakegate.Match(LabelAstro, "GET", org+`/tokens`)
	createToken  = fakegate.Match(LabelAstro, "POST", org+`/tokens`)
	updateToken  = fakegate.Match(LabelAstro, "POST", org+`/tokens/[^/]+`)
	deleteToken  = fakegate.Match(LabelAstro, "DELETE", org+`/tokens/[^/]+`)
	rotateToken  = fakegate.Match(LabelAstro, "POST", org+`/tokens/[^/]+/rotate`)
	getDep       = fakegate.Match(LabelAstro, "GET", org+`/deployments/[^/]+`)
	listDeps     = fakegate.Match(LabelAstro, "GET", org+`/deployments`)
	createDep    = fakegate.Match(LabelAstro, "POST", org+`/deployments`)
	deleteDep    = fakegate.Match(LabelAstro, "DELETE", org+`/deployments/[^/]+`)
	glTokenScope = fakegate.Match(LabelGitLab, "GET", `/api/v4/personal_access_tokens/self`)
)

func gh(method, path string) fakegate.Matcher { return fakegate.Match(LabelGitHub, method, path) }
func gl(method, path string) fakegate.Matcher { return fakegate.Match(LabelGitLab, method, path) }

// A GitHub secret's requests: its scope's API path, e.g. /repos/acme/app.
type ghSecret struct{ repo, scope string }

func (s ghSecret) key() fakegate.Matcher    { return gh("GET", s.scope+`/secrets/public-key`) }
func (s ghSecret) read() fakegate.Matcher   { return gh("GET", s.scope+`/secrets/ASTRO_API_TOKEN`) }
func (s ghSecret) put() fakegate.Matcher    { return gh("PUT", s.scope+`/secrets/ASTRO_API_TOKEN`) }
func (s ghSecret) delete() fakegate.Matcher { return gh("DELETE", s.scope+`/secrets/ASTRO_API_TOKEN`) }
func (s ghSecret) repoGet() fakegate.Matcher {
	return gh("GET", s.repo)
}

var (
	appSecret = ghSecret{"/repos/acme/app", "/repos/acme/app/actions"}
	webSecret = ghSecret{"/repos/acme/web", "/repos/acme/web/actions"}
	envSecret = ghSecret{"/repos/acme/app", "/repos/acme/app/environments/production"}
	prvSecret = ghSecret{"/repos/acme/app", "/repos/acme/app/environments/" + PreviewEnv}
	envGet    = gh("GET", "/repos/acme/app/environments/production")
	prvEnvGet = gh("GET", "/repos/acme/app/environments/"+PreviewEnv)
	canary    = `/repos/acme/app/environments/` + PreviewEnv + `/secrets/ASTRO_CI_PREFLIGHT_[0-9A-F]+`
)

const (
	projectVarPath = `/api/v4/projects/acme/data/airflow-dags/variables`
	groupVarPath   = `/api/v4/groups/acme/data/variables`
)

var (
	projectGet  = gl("GET", projectVarPath+`/ASTRO_API_TOKEN`)
	projectPut  = gl("PUT", projectVarPath+`/ASTRO_API_TOKEN`)
	projectPost = gl("POST", projectVarPath)
	groupGet    = gl("GET", groupVarPath+`/ASTRO_API_TOKEN`)
	groupPut    = gl("PUT", groupVarPath+`/ASTRO_API_TOKEN`)
	groupPost   = gl("POST", groupVarPath)
)

func join(rs ...Round) Round {
	var out Round
	for _, r := range rs {
		out = append(out, r...)
	}
	return out
}
