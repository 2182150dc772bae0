package preview

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/astro-ci/astro-ci/internal/astro"
)

// GitLab's own examples of CI_COMMIT_REF_SLUG (predefined variables:
// "lowercased, shortened to 63 bytes, and with everything except 0-9 and
// a-z replaced with -. No leading / trailing -"; Gitlab::Utils.slugify).
func TestGitLabRefSlugIsGitLabs(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"feature/orders-dag":            "feature-orders-dag",
		"Fix/UPPER_case.1":              "fix-upper-case-1",
		"-x-":                           "x",
		"feature/größe":                 "feature-gr--e", // one "-" per character, not per run
		strings.Repeat("a", 62) + "/bc": strings.Repeat("a", 62),
		strings.Repeat("a", 70):         strings.Repeat("a", 63),
	} {
		if got := GitLabRefSlug(in); got != want {
			t.Errorf("GitLabRefSlug(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestBranchOfRecoversOnlyTheWholeName(t *testing.T) {
	t.Parallel()
	base := &astro.Deployment{ID: "clbase", Name: `prod for branch "x"`}
	for _, b := range []string{"feature/x", `odd "quoted" for branch "name"`, "日本/ß"} {
		d := &astro.Deployment{Description: descriptionOf(base, b, "r1")}
		if got, ok := branchOf(d, refHash(b)); !ok || got != b {
			t.Errorf("%q: got %q %v", b, got, ok)
		}
	}
	long := "feature/" + strings.Repeat("y", 300)
	if got, ok := branchOf(&astro.Deployment{Description: descriptionOf(base, long, "")}, refHash(long)); ok {
		t.Errorf("a cut name came back as %q", got)
	}
	// A name whose hash does not match the marker is not the branch.
	d := &astro.Deployment{Description: fmt.Sprintf("Preview of p for branch %q, managed by astro-ci. %s", "other", marker("clbase", "feature/x", ""))}
	if _, ok := branchOf(d, refHash("feature/x")); ok {
		t.Error("recovered a branch whose hash is not the marker's")
	}
}

func TestFmtAge(t *testing.T) {
	t.Parallel()
	for d, want := range map[time.Duration]string{30 * 24 * time.Hour: "30d", 36 * time.Hour: "36h", 90 * time.Minute: "1h30m", 30 * time.Minute: "30m"} {
		if got := fmtAge(d); got != want {
			t.Errorf("%v: %q", d, got)
		}
	}
}
