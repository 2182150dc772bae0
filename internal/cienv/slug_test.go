package cienv

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
	"testing"
)

var slugRE = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

func hash6(b string) string {
	s := sha256.Sum256([]byte(b))
	return hex.EncodeToString(s[:])[:SlugHashLen]
}

func TestSlugExamples(t *testing.T) {
	t.Parallel()
	long := "feature/" + strings.Repeat("very-long-name-", 10)
	tests := []struct {
		branch string
		max    int
		want   string
	}{
		{"feature/x", 63, "feature-x"},
		{"fix/x", 63, "fix-x"},
		{"main", 63, "main"},
		{"release/2026/q2", 63, "release-2026-q2"},
		{"feature/X", 63, "feature-x-" + hash6("feature/X")},
		{"Feature/x", 63, "feature-x-" + hash6("Feature/x")},
		{"feature-x", 63, "feature-x-" + hash6("feature-x")},
		{"feature_x", 63, "feature-x-" + hash6("feature_x")},
		{"fix/v1.2", 63, "fix-v1-2-" + hash6("fix/v1.2")},
		{"feature/größe", 63, "feature-gr-e-" + hash6("feature/größe")},
		{"日本", 63, "b-" + hash6("日本")},
		{"--", 63, "b-" + hash6("--")},
		{"", 63, "b-" + hash6("")},
		{hostile, 63, "feature-touch-ifs-pwned-echo-ifs-id-tee-x-" + hash6(hostile)},
		// Hash-shaped plain names are hashed, so they cannot equal a hashed slug.
		{"fix/abc123", 63, "fix-abc123-" + hash6("fix/abc123")},
		{"fix/abc12", 63, "fix-abc12"},
		{"fix/abcdeg", 63, "fix-abcdeg"},
		{"abc123", 63, "abc123"},
		// Cut to max: the readable part shrinks, "-" trimmed before the hash.
		{"feature/abcdefghij", 17, "feature-abcdefghij"[:10] + "-" + hash6("feature/abcdefghij")},
		{"feature/abcdefghij", 16, "feature-a-" + hash6("feature/abcdefghij")},
		{"feature/abcdefghij", 15, "feature-" + hash6("feature/abcdefghij")},
		{"feature/abcdefghij", 18, "feature-abcdefghij"},
		{"feature/abcdefghij", 8, "f-" + hash6("feature/abcdefghij")},
		{long, 24, "feature-very-long-" + hash6(long)},
	}
	for _, tt := range tests {
		if got := Slug(tt.branch, tt.max); got != tt.want {
			t.Errorf("Slug(%q, %d) = %q, want %q", tt.branch, tt.max, got, tt.want)
		}
	}
}

// trickySet returns names that collapse to the same readable part, differ
// only in case, in separators, in non-ASCII letters or beyond a cut, or look
// like another name's hashed slug.
func trickySet() []string {
	names := []string{
		"feature/x", "fix/x", "x", "X", "feature/X", "Feature/x", "FEATURE/X", "feature-x", "feature_x",
		"feature.x", "feature--x", "feature/x-", "feature/-x", "feature/x/y", "feature/x-y", "feature-x/y",
		"feature/x_y", "feature/xy", "featurex", "feature/x/", "feature//x", "日本", "日本語", "中文", "語",
		"b", "größe", "grosse", "GRÖSSE", "grÖsse", "gr-e", "gr/e", "a/b/c", "a-b-c", "a/b-c", "a.b.c",
		"release/1.2", "release/1-2", "release/12", "main", "Main", "MAIN", hostile,
		"feature/x\u202e", "feature/x\u00a0", "", "-", "/",
	}
	// Long names equal up to the cut.
	prefix := "team/data/" + strings.Repeat("orders-ingestion-", 5)
	for i := range 10 {
		names = append(names, fmt.Sprintf("%s%d", prefix, i), fmt.Sprintf("%sv%d", prefix, i))
	}
	// Names whose plain slug looks like another name's hashed slug.
	for _, n := range []string{"feature-x", "feature/X", "日本", "fix_x"} {
		s := Slug(n, 63)
		names = append(names, strings.ReplaceAll(s, "-", "/"))
	}
	return names
}

func TestSlugDistinct(t *testing.T) {
	t.Parallel()
	names := trickySet()
	for _, max := range []int{MinSlugMax, 12, 24, 40, 63, 255} {
		seen := map[string]string{}
		for _, n := range names {
			s := Slug(n, max)
			if prev, dup := seen[s]; dup && prev != n {
				t.Errorf("max %d: Slug(%q) = Slug(%q) = %q", max, n, prev, s)
			}
			seen[s] = n
		}
	}
}

func TestSlugInvariants(t *testing.T) {
	t.Parallel()
	names := append(trickySet(), validBranches...)
	names = append(names, invalidBranches...)
	for _, n := range names {
		for max := MinSlugMax; max <= 70; max++ {
			checkSlug(t, n, max)
		}
		checkSlug(t, n, 1<<20)
	}
}

func TestSlugPanicsOnSmallMax(t *testing.T) {
	t.Parallel()
	for _, max := range []int{-1, 0, 1, MinSlugMax - 1} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Slug(x, %d) did not panic", max)
				}
			}()
			Slug("x", max)
		}()
	}
}

// checkSlug asserts the invariants of Slug(branch, max): bounded length,
// [a-z0-9] runs joined by single "-", deterministic, and injective: either
// the slug spells the branch ("-" for "/") or it ends in the branch's hash.
func checkSlug(t *testing.T, branch string, max int) {
	t.Helper()
	s := Slug(branch, max)
	if len(s) > max {
		t.Fatalf("Slug(%q, %d) = %q: %d bytes", branch, max, s, len(s))
	}
	if !slugRE.MatchString(s) {
		t.Fatalf("Slug(%q, %d) = %q: not [a-z0-9]+(-[a-z0-9]+)*", branch, max, s)
	}
	if again := Slug(branch, max); again != s {
		t.Fatalf("Slug(%q, %d) not deterministic: %q then %q", branch, max, s, again)
	}
	if strings.HasSuffix(s, "-"+hash6(branch)) {
		return
	}
	if hashShaped([]byte(s)) {
		t.Fatalf("Slug(%q, %d) = %q: hash-shaped suffix that is not the branch's hash", branch, max, s)
	}
	if back := strings.ReplaceAll(s, "-", "/"); back != branch {
		t.Fatalf("Slug(%q, %d) = %q: no hash, but it does not spell the branch (%q)", branch, max, s, back)
	}
}

func FuzzSlug(f *testing.F) {
	for _, n := range trickySet() {
		f.Add(n, 63)
	}
	f.Add("feature/abcdefghij", 8)
	f.Add("a/b", -5)
	f.Add(strings.Repeat("a/", 200), 255)
	f.Fuzz(func(t *testing.T, branch string, max int) {
		if max < 0 {
			max = -(max + 1)
		}
		max = MinSlugMax + max%300
		checkSlug(t, branch, max)
		// Valid branches that differ have different slugs (barring 24-bit hash
		// collisions, which the fuzzer does not find by chance).
		if ValidateBranch(branch) == nil {
			other := strings.ToUpper(branch)
			if other != branch && Slug(other, max) == Slug(branch, max) {
				t.Fatalf("Slug(%q) = Slug(%q) = %q", branch, other, Slug(branch, max))
			}
		}
	})
}

func FuzzValidateBranch(f *testing.F) {
	for _, b := range validBranches {
		f.Add(b)
	}
	for _, b := range invalidBranches {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b string) {
		if ValidateBranch(b) != nil {
			return
		}
		// Whatever is accepted is safe to print on one line and to slug.
		if err := checkText(b); err != nil {
			t.Fatalf("accepted %q: %v", b, err)
		}
		if strings.HasPrefix(b, "-") || strings.Contains(b, "..") || strings.ContainsAny(b, " ~^:?*[\\") {
			t.Fatalf("accepted %q", b)
		}
		checkSlug(t, b, 63)
	})
}
