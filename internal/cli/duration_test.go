package cli

import (
	"strings"
	"testing"
	"time"
)

func TestParseDuration(t *testing.T) {
	t.Parallel()
	day := 24 * time.Hour
	good := map[string]time.Duration{
		"": 0, "0": 0, "14d": 14 * day, "2w": 14 * day, "36h": 36 * time.Hour, "90m": 90 * time.Minute,
		"1.5d": 36 * time.Hour, "3650d": 3650 * day, "521w": 521 * 7 * day, "87600h": 3650 * day, " 14D ": 14 * day,
		"1h30m": 90 * time.Minute, "0d": 0, "0s": 0,
	}
	for in, want := range good {
		got, err := parseDuration(in)
		if err != nil || got != want {
			t.Errorf("parseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	// Each of these used to become 0 ("now") or a negative or wrapped
	// duration, or "always due": every one must be refused.
	bad := []string{
		"99999999999d", "infd", "nand", "NaNd", "infw", "+Infh", "-inf d", "1e400d", "-1d", "-0.5w", "-1h", "+1d",
		"3651d", "522w", "87601h", "2562047h", "9223372036854775807ns", "1e10s", "0x10d", "1_0d", "1e3d", ".5d", "5.d",
		"14", "soon", "d", "w", "1dd", "1 d", "1d2h", "\x00d", strings.Repeat("9", 400) + "d",
	}
	for _, in := range bad {
		if got, err := parseDuration(in); err == nil {
			t.Errorf("parseDuration(%q) = %v, want an error", in, got)
		}
	}
}

// An absurd value is refused before anything happens, as a usage error, on
// the command line and from the environment.
func TestAbsurdDurationsAreUsageErrors(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.admin()
	for _, args := range [][]string{
		{"token", "rotate", "--grace", "99999999999d", "--target", h.target("a")},
		{"token", "rotate", "--grace", "infd", "--target", h.target("a")},
		{"token", "rotate", "--grace", "nand", "--target", h.target("a")},
		{"token", "rotate", "--if-expires-within", "nand", "--target", h.target("a")},
		{"token", "rotate", "--if-expires-within", "infw", "--target", h.target("a")},
		{"token", "rotate", "--grace", "1e400d", "--target", h.target("a")},
		{"token", "rotate", "--grace", "-1d", "--target", h.target("a")},
		{"token", "rotate", "--grace", "+Infh", "--target", h.target("a")},
		{"token", "check", "--warn-within", "infd"},
		{"token", "delete", "--token-id", "x", "--unused-for", "nanw"},
		{"preview", "create", "--branch", "x", "--base-deployment", "b", "--wait", "--timeout", "99999999999d"},
	} {
		r := h.run("", args...)
		if r.code != 2 {
			t.Errorf("%v: %v", args, r)
		}
	}
	h.env["ASTRO_CI_GRACE"] = "infd"
	if r := h.run("", "token", "rotate", "--target", h.target("a")); r.code != 2 || !strings.Contains(r.stderr, "ASTRO_CI_GRACE") {
		t.Fatal(r)
	}
	if n := len(h.fake.Requests()); n != 0 {
		t.Fatalf("%d requests were sent", n)
	}
}

func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"14d", "2w", "36h", "90m", "1.5d", "0", "infd", "nand", "1e400d", "-1d", "+Infh", "3650d", "3651d", "1h30m", "0.0000001d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := parseDuration(s)
		if err != nil {
			if len(err.Error()) > 512 {
				t.Fatalf("a %d-byte error", len(err.Error()))
			}
			return
		}
		if d < 0 || d > maxDuration {
			t.Fatalf("parseDuration(%q) = %v, outside [0, %v]", s, d, maxDuration)
		}
		v := durationFlag{d: d}
		back, err := parseDuration(v.String())
		if err != nil || back != d {
			t.Fatalf("parseDuration(%q) = %v; its String %q parses to %v, %v", s, d, v.String(), back, err)
		}
	})
}
