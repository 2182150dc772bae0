package docs

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// Every third-party action in this repository's workflows and in action.yml
// is pinned by its full commit SHA, with a comment naming the version; the
// same action is pinned to the same commit everywhere.
func TestActionsArePinnedBySHA(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join("..", "..", ".github", "workflows", "*.yml"))
	if err != nil || len(files) < 2 {
		t.Fatalf("workflows: %v %v", files, err)
	}
	files = append(files, filepath.Join("..", "..", "action.yml"))
	uses := regexp.MustCompile(`(?m)^\s*(?:-\s+)?uses:\s*(\S+)(.*)$`)
	pinned := regexp.MustCompile(`^([A-Za-z0-9_.-]+/[A-Za-z0-9_./-]+)@([0-9a-f]{40})$`)
	comment := regexp.MustCompile(`^\s+# v\d+(\.\d+){0,2}\b`)
	seen := map[string]string{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range uses.FindAllStringSubmatch(string(b), -1) {
			ref, rest := m[1], m[2]
			if strings.HasPrefix(ref, "./") || strings.HasPrefix(ref, "docker://") {
				continue
			}
			p := pinned.FindStringSubmatch(ref)
			switch {
			case p == nil:
				t.Errorf("%s: %s is not pinned by a full commit SHA", f, ref)
			case !comment.MatchString(rest):
				t.Errorf("%s: %s has no version comment (# vX.Y.Z)", f, ref)
			case seen[p[1]] != "" && seen[p[1]] != p[2]+rest:
				t.Errorf("%s: %s is pinned to %s here and to %s elsewhere", f, p[1], p[2]+rest, seen[p[1]])
			default:
				seen[p[1]] = p[2] + rest
			}
		}
	}
}

// The release workflow installs the goreleaser that `make lint` and `make
// release-snapshot` use, and the snapshot workflow the syft of the release.
func TestReleaseToolsInStep(t *testing.T) {
	t.Parallel()
	read := func(p string) string {
		b, err := os.ReadFile(filepath.Join("..", "..", p))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	value := func(text, re string) string {
		m := regexp.MustCompile(re).FindStringSubmatch(text)
		if m == nil {
			t.Fatalf("no %s", re)
		}
		return m[1]
	}
	tools, release, snapshot := read("scripts/tools.sh"), read(".github/workflows/release.yml"), read(".github/workflows/snapshot.yml")
	if a, b := value(tools, `(?m)^GORELEASER_VERSION=(\S+)$`), value(release, `(?m)^  GORELEASER_VERSION: (\S+)$`); a != b {
		t.Errorf("goreleaser: scripts/tools.sh %s, release.yml %s", a, b)
	}
	if a, b := value(release, `(?m)^  SYFT_VERSION: (\S+)$`), value(snapshot, `(?m)^  SYFT_VERSION: (\S+)$`); a != b {
		t.Errorf("syft: release.yml %s, snapshot.yml %s", a, b)
	}
}
