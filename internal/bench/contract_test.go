package bench

import (
	"net/http"
	"testing"

	"github.com/astro-ci/astro-ci/internal/contract"
)

// contractCheck validates Astro's and GitHub's exchanges against their
// official descriptions (GitLab has none in the project; its fake is
// proven by client-go).
func contractCheck(t *testing.T) func(string, http.Handler) http.Handler {
	av, err := contract.Astro()
	if err != nil {
		t.Fatal(err)
	}
	gv, err := contract.GitHub()
	if err != nil {
		t.Fatal(err)
	}
	return func(label string, h http.Handler) http.Handler {
		switch label {
		case LabelAstro:
			return contract.Check(t, av, h)
		case LabelGitHub:
			return contract.Check(t, gv, h)
		}
		return h
	}
}
