package cli

import (
	"strings"
	"testing"
	"unicode/utf8"
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

// checkBounded fails when a message holds a long input whole or is itself
// unbounded.
func checkBounded(t *testing.T, msg, input string) {
	t.Helper()
	if len(input) > 600 && strings.Contains(msg, input) {
		t.Fatalf("the message repeats a %d-byte input whole", len(input))
	}
	if len(msg) > 4096+len(input)/1000 && len(msg) > 8192 {
		t.Fatalf("a %d-byte message", len(msg))
	}
	_ = utf8.ValidString(msg)
}
