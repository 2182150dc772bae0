package cli

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/astro-ci/astro-ci/internal/preview"
	"github.com/astro-ci/astro-ci/internal/rotation"
)

var update = flag.Bool("update", false, "rewrite golden files")

// golden compares got with testdata/golden/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	goldenFile(t, filepath.Join("testdata", "golden", name), got)
}

// goldenFile compares got with the file at path, or rewrites it with -update.
func goldenFile(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs (go test -update rewrites it):\n--- want\n%s\n--- got\n%s", path, want, got)
	}
}

func TestSummariesGolden(t *testing.T) {
	t.Parallel()
	exp := time.Date(2026, 12, 26, 12, 0, 0, 0, time.UTC)
	used := time.Date(2026, 11, 26, 11, 0, 0, 0, time.UTC)
	d := 29
	golden(t, "check-summary.md", checkSummary([]tokenRow{
		{ID: "cltok0000000000000000001", Name: "ci | admin <b>", Scope: "ORGANIZATION", ExpiresAt: &exp, DaysLeft: &d, LastUsedAt: &used, Status: "ok"},
		{ID: "cltok0000000000000000002", Scope: "WORKSPACE", Status: "ok"},
	}))
	out := &rotation.Outcome{Strategy: rotation.Overlap, Due: true, Rotated: true,
		Token: rotation.TokenInfo{ID: "clold", Name: "ci admin", Scope: "ORGANIZATION"},
		New:   &rotation.TokenInfo{ID: "clnew", ExpiresAt: &exp},
		Targets: []rotation.TargetResult{{Target: "github://acme/app/secrets/ASTRO_API_TOKEN", Status: "written"},
			{Target: "gitlab://acme/data/app/variables/ASTRO_API_TOKEN", Status: "stale", Error: "403"}}}
	golden(t, "rotate-summary.md", rotationSummary(out, nil))
	golden(t, "preview-summary.md", previewSummary(&preview.Result{Action: "created", ID: "clprev", Name: "preview-feature-x", Branch: "feature/x", BaseName: "analytics", Status: "HEALTHY", URL: "https://x.astronomer.run/d1"}))
}
