package cli

import (
	"strings"
	"testing"

	"github.com/astro-ci/astro-ci/internal/report/echo"
)

// FuzzConfiguration: any environment variable, with any value, given to
// any command, is taken, warned about or refused with a bounded message;
// never a panic, and configuration errors never repeat a long value whole.
func FuzzConfiguration(f *testing.F) {
	for _, seed := range []struct{ cmd, name, value string }{
		{"token rotate", "ASTRO_CI_GRACE", "1h"},
		{"token rotate", "ASTRO_CI_GRACE", "99999999999d"},
		{"token rotate", "ASTRO_CI_IF_EXPIRES_WITHIN", "nand"},
		{"token rotate", "ASTRO_CI_STRATEGY", "sideways"},
		{"token rotate", "ASTRO_CI_TARGETS", "file:///a\n\ngithub://o/r/secrets/X\n"},
		{"token check", "ASTRO_CI_DEADLINE", "-5m"},
		{"token check", "ASTRO_CI_GITHUB_CONCURRENCY", "1000000000000000000000"},
		{"token create", "ASTRO_CI_EXPIRY_DAYS", "3651"},
		{"preview create", "ASTRO_CI_BRANCH", "refs/heads/../../etc"},
		{"preview create", "ASTRO_CI_SECRET_ENV", "K=V\nX"},
		{"run", "ASTRO_CI_DEBUG", "maybe"},
		{"token check", "ASTRO_CI_IF_EXPIRES_WITIN", "3d"},
		{"version", "GITHUB_ACTIONS", "yes"},
	} {
		f.Add(seed.cmd, seed.name, seed.value)
	}
	f.Fuzz(func(t *testing.T, cmd, name, value string) {
		if !strings.HasPrefix(name, "ASTRO_CI_") && !strings.HasPrefix(name, "GITHUB_") && !strings.HasPrefix(name, "CI_") {
			name = "ASTRO_CI_" + name
		}
		args := strings.Fields(cmd)
		if len(args) == 0 || len(args) > 3 {
			return
		}
		env := map[string]string{name: value}
		if _, err := loadConfig(env); err != nil {
			checkBounded(t, err.Error(), value)
			return
		}
		_, err := parse(t, env, args...)
		if err != nil {
			checkBounded(t, err.Error(), value)
		}
	})
}

// checkBounded fails when a message holds a long input whole or has a
// line beyond 1024 bytes (the bound TestHugeInputGivesShortErrors holds
// every message to).
func checkBounded(t *testing.T, msg, input string) {
	t.Helper()
	if len(input) > echo.Max+40 && strings.Contains(msg, input) {
		t.Fatalf("the message repeats a %d-byte input whole", len(input))
	}
	for line := range strings.Lines(msg) {
		if len(line) > 1024 {
			t.Fatalf("a %d-byte line: %.200s", len(line), line)
		}
	}
}
