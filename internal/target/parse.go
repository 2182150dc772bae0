package target

import (
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"unicode"

	"github.com/astro-ci/astro-ci/internal/report/echo"
)

// Scheme of a target address.
type Scheme string

// Target schemes.
const (
	File   Scheme = "file"
	GitHub Scheme = "github"
	GitLab Scheme = "gitlab"
)

// Kind is where, within a forge, a secret lives.
type Kind string

// Target kinds.
const (
	KindFile       Kind = "file"
	KindRepoSecret Kind = "repository secret"
	KindEnvSecret  Kind = "environment secret"
	KindOrgSecret  Kind = "organization secret"
	KindDependabot Kind = "Dependabot secret"
	KindProjectVar Kind = "project variable"
	KindGroupVar   Kind = "group variable"
)

// Target is one parsed address. Only the fields of its Kind are set.
type Target struct {
	Scheme Scheme
	Kind   Kind
	// Name is the secret name or variable key (file: the path).
	Name string

	// file
	Path string

	// GitHub
	Owner, Repo   string
	Environment   string
	Org           string
	Visibility    string   // organization secrets: all, private, selected
	SelectedRepos []string // repository names, with Visibility selected

	// CreateEnvironment (environment secrets, ?create_environment=true):
	// create the environment when it is missing, and delete it together
	// with the secret, as for an environment made for one preview.
	CreateEnvironment bool

	// GitLab
	Project          string // full path ("group/sub/project") or numeric id
	Group            string // full path or numeric id
	EnvironmentScope string // "*" unless set
	Protected        bool
	Hidden           bool // masked and hidden; only possible when the variable is created
	Raw              bool
}

// String is the canonical address, for messages and reports. It holds no
// secret: targets name places, never values.
func (t Target) String() string {
	switch t.Kind {
	case KindFile:
		return "file://" + t.Path
	case KindRepoSecret:
		return fmt.Sprintf("github://%s/%s/secrets/%s", t.Owner, t.Repo, t.Name)
	case KindEnvSecret:
		s := fmt.Sprintf("github://%s/%s/environments/%s/secrets/%s", t.Owner, t.Repo, url.PathEscape(t.Environment), t.Name)
		if t.CreateEnvironment {
			s += "?create_environment=true"
		}
		return s
	case KindDependabot:
		return fmt.Sprintf("github://%s/%s/dependabot/secrets/%s", t.Owner, t.Repo, t.Name)
	case KindOrgSecret:
		s := fmt.Sprintf("github://orgs/%s/secrets/%s", t.Org, t.Name)
		if t.Visibility != "" && t.Visibility != "private" {
			s += "?visibility=" + t.Visibility
			if len(t.SelectedRepos) > 0 {
				s += "&repos=" + strings.Join(t.SelectedRepos, ",")
			}
		}
		return s
	case KindProjectVar, KindGroupVar:
		var s string
		if t.Kind == KindProjectVar {
			s = fmt.Sprintf("gitlab://%s/variables/%s", t.Project, t.Name)
		} else {
			s = fmt.Sprintf("gitlab://groups/%s/variables/%s", t.Group, t.Name)
		}
		var q []string
		if t.EnvironmentScope != "" && t.EnvironmentScope != "*" {
			q = append(q, "environment_scope="+url.QueryEscape(t.EnvironmentScope))
		}
		if t.Protected {
			q = append(q, "protected=true")
		}
		if t.Hidden {
			q = append(q, "hidden=true")
		}
		if t.Raw {
			q = append(q, "raw=true")
		}
		if len(q) > 0 {
			s += "?" + strings.Join(q, "&")
		}
		return s
	}
	return string(t.Scheme) + "://?"
}

// Defaults says what a bare NAME means: the secret or variable of that name
// in the repository or project the CI job runs for.
type Defaults struct {
	GitHubRepository string // GITHUB_REPOSITORY, "owner/repo"
	GitLabProject    string // CI_PROJECT_ID or CI_PROJECT_PATH
}

// The names' patterns. Lengths are checked apart from the pattern: a
// bounded repetition such as {1,255} compiles into a program of hundreds
// of instructions, 350 kB allocated at every start of astro-ci.
var (
	// GitHub documents no length limit for secret names; 255 bounds what
	// astro-ci echoes and sends (GitLab keys have the same limit).
	githubNameRE = bounded{regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`), 255}
	gitlabKeyRE  = bounded{regexp.MustCompile(`^[A-Za-z0-9_]+$`), 255}
	ghOwnerRE    = bounded{regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9-]*$`), 39}
	ghRepoRE     = bounded{regexp.MustCompile(`^[A-Za-z0-9._-]+$`), 100}
	// A GitLab group's or project's path (one segment) is at most 255
	// characters (its path attribute's limit).
	glSegmentRE = bounded{regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]*$`), 255}
)

// bounded is a pattern and a maximum length in bytes.
type bounded struct {
	re  *regexp.Regexp
	max int
}

func (b bounded) MatchString(s string) bool {
	return len(s) <= b.max && b.re.MatchString(s)
}

// Parse reads one target address. Every name is validated for its forge here,
// before anything is changed anywhere.
func Parse(raw string, d Defaults) (Target, error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return Target{}, fmt.Errorf("empty target")
	}
	if i := strings.IndexFunc(s, unicode.IsControl); i >= 0 {
		// A line break or escape in a name would let an address forge log
		// lines (or GitHub workflow commands) wherever it is echoed.
		return Target{}, fmt.Errorf("target %.80q… holds a control character (at byte %d): addresses are printed in logs, so astro-ci refuses them", s, i)
	}
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return parseBare(s, d)
	}
	switch Scheme(scheme) {
	case File:
		return parseFile(rest)
	case GitHub:
		return parseGitHub(s, rest)
	case GitLab:
		return parseGitLab(s, rest)
	}
	return Target{}, fmt.Errorf("target %s: unknown scheme %s (use file://, github:// or gitlab://)", echo.Quote(raw), echo.Quote(scheme))
}

// ParseAll parses every address and joins the errors.
func ParseAll(raws []string, d Defaults) ([]Target, error) {
	var out []Target
	var errs []error
	seen := map[string]bool{}
	for _, r := range raws {
		if strings.TrimSpace(r) == "" {
			continue
		}
		t, err := Parse(r, d)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if seen[t.key()] {
			errs = append(errs, fmt.Errorf("target %s is given twice", t))
			continue
		}
		seen[t.key()] = true
		out = append(out, t)
	}
	return out, errors.Join(errs...)
}

// key identifies the place a target writes, for duplicate detection.
func (t Target) key() string {
	k := string(t.Kind) + "|" + strings.ToLower(t.Owner+"/"+t.Repo+"/"+t.Org) + "|" + t.Environment + "|" + t.Project + t.Group + "|" + t.EnvironmentScope + "|" + t.Path
	if t.Scheme == GitHub {
		return k + "|" + strings.ToUpper(t.Name) // GitHub secret names are case-insensitive
	}
	return k + "|" + t.Name
}

func parseBare(name string, d Defaults) (Target, error) {
	switch {
	case d.GitHubRepository != "":
		return parseGitHub("github://"+d.GitHubRepository+"/secrets/"+name, d.GitHubRepository+"/secrets/"+name)
	case d.GitLabProject != "":
		return parseGitLab("gitlab://"+d.GitLabProject+"/variables/"+name, d.GitLabProject+"/variables/"+name)
	}
	return Target{}, fmt.Errorf("target %s has no scheme and this is not a GitHub Actions or GitLab CI job (no GITHUB_REPOSITORY or CI_PROJECT_ID): write it as file://PATH, github://OWNER/REPO/secrets/NAME or gitlab://GROUP/PROJECT/variables/NAME", echo.Quote(name))
}

func parseFile(rest string) (Target, error) {
	if rest == "" {
		return Target{}, fmt.Errorf("target file:// needs a path, e.g. file:///run/secrets/astro-token")
	}
	p := filepath.Clean(rest)
	if p != strings.TrimSpace(p) {
		return Target{}, fmt.Errorf("target file://%.200q: the path ends in white space; astro-ci refuses it (an address is written and read back without it)", p)
	}
	return Target{Scheme: File, Kind: KindFile, Path: p, Name: p}, nil
}

func parseQuery(raw, q string, allowed ...string) (url.Values, error) {
	v, err := url.ParseQuery(q)
	if err != nil {
		return nil, fmt.Errorf("target %s: bad query: %v", echo.Quote(raw), err)
	}
	for k := range v {
		ok := false
		for _, a := range allowed {
			ok = ok || k == a
		}
		if !ok {
			return nil, fmt.Errorf("target %s: unknown option %s (allowed: %s)", echo.Quote(raw), echo.Quote(k), strings.Join(allowed, ", "))
		}
	}
	return v, nil
}

func validGitHubName(raw, name string) error {
	switch {
	case !githubNameRE.MatchString(name):
		return fmt.Errorf("target %s: secret name %s may contain only letters, digits and _ (at most 255) and must not start with a digit", echo.Quote(raw), echo.Quote(name))
	case strings.HasPrefix(strings.ToUpper(name), "GITHUB_"):
		return fmt.Errorf("target %s: secret names must not start with GITHUB_", echo.Quote(raw))
	}
	return nil
}

func validOwnerRepo(raw, owner, repo string) error {
	if !ghOwnerRE.MatchString(owner) {
		return fmt.Errorf("target %s: %s is not a GitHub user or organization name", echo.Quote(raw), echo.Quote(owner))
	}
	if !ghRepoRE.MatchString(repo) || repo == "." || repo == ".." {
		return fmt.Errorf("target %s: %s is not a GitHub repository name", echo.Quote(raw), echo.Quote(repo))
	}
	return nil
}

func parseGitHub(raw, rest string) (Target, error) {
	pathPart, query, _ := strings.Cut(rest, "?")
	segs := strings.Split(pathPart, "/")
	for _, s := range segs {
		if s == "" {
			return Target{}, fmt.Errorf("target %s has an empty path segment", echo.Quote(raw))
		}
	}
	allowedNone := func() error {
		if query != "" {
			return fmt.Errorf("target %s: options are only for organization secrets (visibility=, repos=) and environment secrets (create_environment=)", echo.Quote(raw))
		}
		return nil
	}
	switch {
	case len(segs) == 4 && segs[0] == "orgs" && segs[2] == "secrets":
		t := Target{Scheme: GitHub, Kind: KindOrgSecret, Org: segs[1], Name: segs[3], Visibility: "private"}
		if !ghOwnerRE.MatchString(t.Org) {
			return Target{}, fmt.Errorf("target %s: %s is not a GitHub organization name", echo.Quote(raw), echo.Quote(t.Org))
		}
		q, err := parseQuery(raw, query, "visibility", "repos")
		if err != nil {
			return Target{}, err
		}
		if v := q.Get("visibility"); v != "" {
			t.Visibility = v
		}
		if r := q.Get("repos"); r != "" {
			for _, name := range strings.Split(r, ",") {
				name = strings.TrimSpace(name)
				if name == "" {
					continue
				}
				if !ghRepoRE.MatchString(name) {
					return Target{}, fmt.Errorf("target %s: %s is not a repository name", echo.Quote(raw), echo.Quote(name))
				}
				t.SelectedRepos = append(t.SelectedRepos, name)
			}
			if q.Get("visibility") == "" {
				t.Visibility = "selected"
			}
		}
		switch t.Visibility {
		case "all", "private":
			if len(t.SelectedRepos) > 0 {
				return Target{}, fmt.Errorf("target %s: repos= needs visibility=selected", echo.Quote(raw))
			}
		case "selected":
			if len(t.SelectedRepos) == 0 {
				return Target{}, fmt.Errorf("target %s: visibility=selected needs repos=a,b", echo.Quote(raw))
			}
		default:
			return Target{}, fmt.Errorf("target %s: visibility must be all, private or selected", echo.Quote(raw))
		}
		return t, validGitHubName(raw, t.Name)
	case len(segs) == 4 && segs[2] == "secrets":
		t := Target{Scheme: GitHub, Kind: KindRepoSecret, Owner: segs[0], Repo: segs[1], Name: segs[3]}
		return t, firstErr(allowedNone(), validOwnerRepo(raw, t.Owner, t.Repo), validGitHubName(raw, t.Name))
	case len(segs) == 5 && segs[2] == "dependabot" && segs[3] == "secrets":
		t := Target{Scheme: GitHub, Kind: KindDependabot, Owner: segs[0], Repo: segs[1], Name: segs[4]}
		return t, firstErr(allowedNone(), validOwnerRepo(raw, t.Owner, t.Repo), validGitHubName(raw, t.Name))
	case len(segs) == 6 && segs[2] == "environments" && segs[4] == "secrets":
		env, err := url.PathUnescape(segs[3])
		if err != nil || env == "" || len(env) > 255 || strings.ContainsAny(env, ",;\x00\n\r") {
			return Target{}, fmt.Errorf("target %s: %s is not a valid environment name", echo.Quote(raw), echo.Quote(segs[3]))
		}
		t := Target{Scheme: GitHub, Kind: KindEnvSecret, Owner: segs[0], Repo: segs[1], Environment: env, Name: segs[5]}
		q, err := parseQuery(raw, query, "create_environment")
		if err != nil {
			return Target{}, err
		}
		if _, set := q["create_environment"]; set {
			b, err := strconv.ParseBool(q.Get("create_environment"))
			if err != nil {
				return Target{}, fmt.Errorf("target %s: create_environment must be true or false", echo.Quote(raw))
			}
			t.CreateEnvironment = b
		}
		return t, firstErr(validOwnerRepo(raw, t.Owner, t.Repo), validGitHubName(raw, t.Name))
	}
	return Target{}, fmt.Errorf("target %s: not a GitHub secret address; use github://OWNER/REPO/secrets/NAME, github://OWNER/REPO/environments/ENV/secrets/NAME, github://orgs/ORG/secrets/NAME or github://OWNER/REPO/dependabot/secrets/NAME", echo.Quote(raw))
}

func parseGitLab(raw, rest string) (Target, error) {
	pathPart, query, _ := strings.Cut(rest, "?")
	before, key, ok := strings.Cut(pathPart, "/variables/")
	if !ok || key == "" || before == "" || strings.Contains(key, "/") {
		return Target{}, fmt.Errorf("target %s: not a GitLab variable address; use gitlab://GROUP/PROJECT/variables/KEY or gitlab://groups/GROUP/variables/KEY", echo.Quote(raw))
	}
	if !gitlabKeyRE.MatchString(key) {
		return Target{}, fmt.Errorf("target %s: variable key %s may contain only letters, digits and _ (1-255 characters)", echo.Quote(raw), echo.Quote(key))
	}
	t := Target{Scheme: GitLab, Name: key, EnvironmentScope: "*"}
	if g, isGroup := strings.CutPrefix(before, "groups/"); isGroup {
		t.Kind, t.Group = KindGroupVar, g
	} else {
		t.Kind, t.Project = KindProjectVar, before
	}
	ns := t.Project + t.Group
	if _, err := strconv.ParseUint(ns, 10, 64); err != nil {
		for _, seg := range strings.Split(ns, "/") {
			if !glSegmentRE.MatchString(seg) || strings.HasSuffix(seg, ".") || strings.Contains(seg, "..") {
				return Target{}, fmt.Errorf("target %s: %s is not a GitLab group or project path", echo.Quote(raw), echo.Quote(ns))
			}
		}
		if t.Kind == KindProjectVar && !strings.Contains(ns, "/") {
			return Target{}, fmt.Errorf("target %s: a project is GROUP/PROJECT or its numeric id; for a group variable write gitlab://groups/%s/variables/%s", echo.Quote(raw), ns, key)
		}
	}
	q, err := parseQuery(raw, query, "environment_scope", "protected", "hidden", "raw")
	if err != nil {
		return Target{}, err
	}
	if es := q.Get("environment_scope"); es != "" {
		if len(es) > 255 || strings.ContainsAny(es, "\x00\n\r") {
			return Target{}, fmt.Errorf("target %s: bad environment_scope", echo.Quote(raw))
		}
		t.EnvironmentScope = es
	}
	for name, dst := range map[string]*bool{"protected": &t.Protected, "hidden": &t.Hidden, "raw": &t.Raw} {
		if v := q.Get(name); v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return Target{}, fmt.Errorf("target %s: %s must be true or false", echo.Quote(raw), name)
			}
			*dst = b
		}
	}
	return t, nil
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}
