// Package docs checks that the documentation shows what the tests run.
package docs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The README's quick-start snippets are the files the act and
// gitlab-ci-local tests execute, character for character.
func TestREADMEShowsTheTestedQuickStarts(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{
		"docs/examples/github/quickstart-rotate.yml",
		"docs/examples/github/quickstart-preview.yml",
		"docs/examples/gitlab/quickstart-rotate.gitlab-ci.yml",
		"docs/examples/gitlab/quickstart-preview.gitlab-ci.yml",
	} {
		b, err := os.ReadFile(filepath.Join("..", "..", f))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(readme), "```yaml\n"+string(b)+"```") {
			t.Errorf("README.md does not show %s verbatim", f)
		}
	}
}

// Every command the README documents exists in the binary's usage.
func TestREADMECommandsExist(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, cmd := range []string{"token check", "token create", "token rotate", "token update", "token workspace", "token delete", "token list", "preview create", "preview delete", "preview prune", "deploy", "run", "target put", "version"} {
		if !strings.Contains(string(readme), "astro-ci "+cmd) {
			t.Errorf("README.md does not document astro-ci %s", cmd)
		}
	}
}

// The policies a company checks before adopting astro-ci exist and say what
// they must.
func TestPolicies(t *testing.T) {
	for file, wants := range map[string][]string{
		"LICENSE":                 {"Apache License", "Version 2.0, January 2004", "END OF TERMS AND CONDITIONS"},
		"SECURITY.md":             {"## Reporting a vulnerability", "## Supported versions", "## What astro-ci promises about secrets"},
		"CHANGELOG.md":            {"https://keepachangelog.com/", "## [Unreleased]"},
		"CONTRIBUTING.md":         {"## Adding a command", "## Adding a target kind", "## Versions", "## Releasing", "make release-snapshot"},
		"docs/troubleshooting.md": {"another run is rotating this token", "preflight failed, nothing was changed", "the deadline (--deadline) passed"},
	} {
		b, err := os.ReadFile(filepath.Join("..", "..", file))
		if err != nil {
			t.Error(err)
			continue
		}
		for _, w := range wants {
			if !strings.Contains(string(b), w) {
				t.Errorf("%s does not say %q", file, w)
			}
		}
	}
}
