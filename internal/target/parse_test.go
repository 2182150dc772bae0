package target

import (
	"reflect"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	t.Parallel()
	gh := Defaults{GitHubRepository: "acme/app"}
	gl := Defaults{GitLabProject: "4242"}
	tests := []struct {
		raw  string
		d    Defaults
		want Target
		str  string
	}{
		{raw: "file:///run/secrets/astro", want: Target{Scheme: File, Kind: KindFile, Path: "/run/secrets/astro", Name: "/run/secrets/astro"}},
		{raw: "file://rel/tok", want: Target{Scheme: File, Kind: KindFile, Path: "rel/tok", Name: "rel/tok"}},
		{raw: "github://acme/app/secrets/ASTRO_API_TOKEN", want: Target{Scheme: GitHub, Kind: KindRepoSecret, Owner: "acme", Repo: "app", Name: "ASTRO_API_TOKEN"}},
		{raw: "github://acme/app/environments/preview%2Ffeature-x/secrets/TOK", want: Target{Scheme: GitHub, Kind: KindEnvSecret, Owner: "acme", Repo: "app", Environment: "preview/feature-x", Name: "TOK"}},
		{raw: "github://acme/app/environments/production/secrets/TOK", want: Target{Scheme: GitHub, Kind: KindEnvSecret, Owner: "acme", Repo: "app", Environment: "production", Name: "TOK"}},
		{raw: "github://acme/app/environments/preview-feature-x/secrets/TOK?create_environment=true", want: Target{Scheme: GitHub, Kind: KindEnvSecret, Owner: "acme", Repo: "app", Environment: "preview-feature-x", Name: "TOK", CreateEnvironment: true}},
		{raw: "github://acme/app/environments/preview%2Ffeature-x/secrets/TOK?create_environment=1", str: "github://acme/app/environments/preview%2Ffeature-x/secrets/TOK?create_environment=true", want: Target{Scheme: GitHub, Kind: KindEnvSecret, Owner: "acme", Repo: "app", Environment: "preview/feature-x", Name: "TOK", CreateEnvironment: true}},
		{raw: "github://acme/app/environments/production/secrets/TOK?create_environment=false", str: "github://acme/app/environments/production/secrets/TOK", want: Target{Scheme: GitHub, Kind: KindEnvSecret, Owner: "acme", Repo: "app", Environment: "production", Name: "TOK"}},
		{raw: "github://orgs/acme/secrets/TOK", want: Target{Scheme: GitHub, Kind: KindOrgSecret, Org: "acme", Name: "TOK", Visibility: "private"}},
		{raw: "github://orgs/acme/secrets/TOK?visibility=all", want: Target{Scheme: GitHub, Kind: KindOrgSecret, Org: "acme", Name: "TOK", Visibility: "all"}},
		{raw: "github://orgs/acme/secrets/TOK?visibility=selected&repos=a,b", want: Target{Scheme: GitHub, Kind: KindOrgSecret, Org: "acme", Name: "TOK", Visibility: "selected", SelectedRepos: []string{"a", "b"}}},
		{raw: "github://orgs/acme/secrets/TOK?repos=a", str: "github://orgs/acme/secrets/TOK?visibility=selected&repos=a", want: Target{Scheme: GitHub, Kind: KindOrgSecret, Org: "acme", Name: "TOK", Visibility: "selected", SelectedRepos: []string{"a"}}},
		{raw: "github://acme/app/dependabot/secrets/TOK", want: Target{Scheme: GitHub, Kind: KindDependabot, Owner: "acme", Repo: "app", Name: "TOK"}},
		{raw: "gitlab://grp/sub/proj/variables/ASTRO_API_TOKEN?environment_scope=production&protected=true&hidden=true",
			want: Target{Scheme: GitLab, Kind: KindProjectVar, Project: "grp/sub/proj", Name: "ASTRO_API_TOKEN", EnvironmentScope: "production", Protected: true, Hidden: true}},
		{raw: "gitlab://grp/proj/variables/K?environment_scope=review%2Ffeature-x&raw=true",
			want: Target{Scheme: GitLab, Kind: KindProjectVar, Project: "grp/proj", Name: "K", EnvironmentScope: "review/feature-x", Raw: true}},
		{raw: "gitlab://groups/grp/sub/variables/K", want: Target{Scheme: GitLab, Kind: KindGroupVar, Group: "grp/sub", Name: "K", EnvironmentScope: "*"}},
		{raw: "gitlab://123/variables/K", want: Target{Scheme: GitLab, Kind: KindProjectVar, Project: "123", Name: "K", EnvironmentScope: "*"}},
		{raw: "ASTRO_API_TOKEN", d: gh, str: "github://acme/app/secrets/ASTRO_API_TOKEN", want: Target{Scheme: GitHub, Kind: KindRepoSecret, Owner: "acme", Repo: "app", Name: "ASTRO_API_TOKEN"}},
		{raw: "ASTRO_API_TOKEN", d: gl, str: "gitlab://4242/variables/ASTRO_API_TOKEN", want: Target{Scheme: GitLab, Kind: KindProjectVar, Project: "4242", Name: "ASTRO_API_TOKEN", EnvironmentScope: "*"}},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			t.Parallel()
			got, err := Parse(tt.raw, tt.d)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v\nwant %+v", got, tt.want)
			}
			str := tt.str
			if str == "" {
				str = tt.raw
			}
			if got.String() != str {
				t.Fatalf("String() = %q, want %q", got.String(), str)
			}
			again, err := Parse(got.String(), Defaults{})
			if err != nil || !reflect.DeepEqual(again, got) {
				t.Fatalf("String() does not parse back: %v %+v", err, again)
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"":                                                      "empty",
		"NAME":                                                  "no scheme",
		"s3://bucket/x":                                         "unknown scheme",
		"file://":                                               "needs a path",
		"github://acme/app/secrets/GITHUB_TOKEN":                "must not start with GITHUB_",
		"github://acme/app/secrets/1TOKEN":                      "must not start with a digit",
		"github://acme/app/secrets/TOK-EN":                      "only letters",
		"github://acme/app/secrets/TOK;rm -rf":                  "only letters",
		"github://acme/app/secrets/":                            "empty path segment",
		"github://acme/app/variables/TOK":                       "not a GitHub secret address",
		"github://-acme/app/secrets/TOK":                        "not a GitHub user",
		"github://acme/a$b/secrets/TOK":                         "not a GitHub repository",
		"github://acme/../secrets/TOK":                          "not a GitHub repository",
		"github://acme/app/secrets/TOK?visibility=all":          "only for organization",
		"github://orgs/acme/secrets/TOK?visibility=public":      "visibility must be",
		"github://orgs/acme/secrets/TOK?visibility=selected":    "needs repos",
		"github://orgs/acme/secrets/TOK?visibility=all&repos=a": "needs visibility=selected",
		"github://orgs/acme/secrets/TOK?color=red":              "unknown option",
		"github://acme/app/environments/a%0Ab/secrets/TOK":      "not a valid environment",
		"gitlab://grp/proj/variables/BAD-KEY":                   "may contain only",
		"gitlab://grp/proj/variables/":                          "not a GitLab variable address",
		"gitlab://proj/variables/K":                             "a project is GROUP/PROJECT",
		"gitlab://grp/../proj/variables/K":                      "not a GitLab group or project path",
		"gitlab://grp/proj/variables/K?protected=maybe":         "protected must be",
		"gitlab://grp/proj/variables/K?masked=false":            "unknown option",
	}
	for raw, want := range tests {
		t.Run(raw, func(t *testing.T) {
			t.Parallel()
			_, err := Parse(raw, Defaults{})
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("err = %v, want %q", err, want)
			}
		})
	}
}

// create_environment is an option of environment secrets only.
func TestParseCreateEnvironmentRejects(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"github://acme/app/secrets/TOK?create_environment=true":                 "options are only for organization secrets",
		"github://acme/app/dependabot/secrets/TOK?create_environment=true":      "options are only for organization secrets",
		"github://orgs/acme/secrets/TOK?create_environment=true":                "unknown option",
		"github://acme/app/environments/e/secrets/TOK?create_environment=maybe": "create_environment must be true or false",
		"github://acme/app/environments/e/secrets/TOK?create_environment":       "create_environment must be true or false",
		"github://acme/app/environments/e/secrets/TOK?visibility=all":           "unknown option",
	}
	for raw, want := range tests {
		t.Run(raw, func(t *testing.T) {
			t.Parallel()
			_, err := Parse(raw, Defaults{})
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("err = %v, want %q", err, want)
			}
		})
	}
}

func TestParseAllJoinsErrorsAndDuplicates(t *testing.T) {
	t.Parallel()
	_, err := ParseAll([]string{"github://acme/app/secrets/TOK", "github://acme/app/secrets/tok", "bad://x", "  "}, Defaults{})
	if err == nil || !strings.Contains(err.Error(), "given twice") || !strings.Contains(err.Error(), "unknown scheme") {
		t.Fatalf("err = %v", err)
	}
	ts, err := ParseAll([]string{"gitlab://g/p/variables/K", "gitlab://g/p/variables/K?environment_scope=review"}, Defaults{})
	if err != nil || len(ts) != 2 {
		t.Fatalf("same key in two scopes are two targets: %v", err)
	}
}

// The names' lengths are checked apart from their patterns (a bounded
// repetition costs start-up time): the limits are where they were.
func TestNameLengthLimits(t *testing.T) {
	t.Parallel()
	x := strings.Repeat
	for _, tc := range []struct {
		raw string
		ok  bool
	}{
		{"github://" + x("a", 39) + "/app/secrets/T", true},
		{"github://" + x("a", 40) + "/app/secrets/T", false},
		{"github://acme/" + x("r", 100) + "/secrets/T", true},
		{"github://acme/" + x("r", 101) + "/secrets/T", false},
		{"github://orgs/" + x("o", 39) + "/secrets/T", true},
		{"github://orgs/" + x("o", 40) + "/secrets/T", false},
		{"github://orgs/acme/secrets/T?repos=" + x("r", 100), true},
		{"github://orgs/acme/secrets/T?repos=" + x("r", 101), false},
		{"gitlab://grp/proj/variables/" + x("K", 255), true},
		{"gitlab://grp/proj/variables/" + x("K", 256), false},
		{"github://-acme/app/secrets/T", false},
		{"gitlab://grp/proj/variables/", false},
	} {
		_, err := Parse(tc.raw, Defaults{})
		if (err == nil) != tc.ok {
			t.Errorf("%.60s… (%d bytes): err %v, want ok %v", tc.raw, len(tc.raw), err, tc.ok)
		}
	}
}
