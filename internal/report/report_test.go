package report

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/astro-ci/astro-ci/internal/secret"
)

const value = "eyJhbGciOiJIUzI1NiJ9.eyJ0b2tlbiI6InNlY3JldCJ9.c2lnbmF0dXJlLXBhcnQ"

func TestGitHubMaskComesFirstAndNothingElseLeaks(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	env := map[string]string{"GITHUB_OUTPUT": filepath.Join(dir, "out"), "GITHUB_STEP_SUMMARY": filepath.Join(dir, "sum")}
	var stdout, stderr bytes.Buffer
	r := New(Options{Stdout: &stdout, Stderr: &stderr, Format: JSON, CI: GitHubActions, Getenv: func(k string) string { return env[k] }})
	v := secret.New(value)
	r.Secret(v)
	r.Infof("got %s", value)
	r.Warnf("warn %s\nsecond line 100%%", value)
	r.Errorf("error %v", v)
	r.Output("token-id", "clx\nINJECTED=1")
	r.Output("leak", value)
	r.Summary("| " + value + " |")
	_ = r.Result(map[string]string{"v": value}, nil)
	_ = r.Close()
	lines := strings.Split(stderr.String(), "\n")
	if lines[0] != "::add-mask::"+value {
		t.Fatalf("first line %q", lines[0])
	}
	rest := strings.Join(lines[1:], "\n") + stdout.String()
	for _, f := range []string{"out", "sum"} {
		b, _ := os.ReadFile(filepath.Join(dir, f))
		rest += string(b)
	}
	if strings.Contains(rest, value) {
		t.Fatalf("value leaked:\n%s", rest)
	}
	if !strings.Contains(stderr.String(), "::warning::warn [REDACTED]%0Asecond line 100%25") || !strings.Contains(stderr.String(), "::error::error [REDACTED]") {
		t.Fatalf("annotations:\n%s", stderr.String())
	}
	out, _ := os.ReadFile(filepath.Join(dir, "out"))
	if strings.Contains(string(out), "\nINJECTED=1") {
		t.Fatalf("an output value broke out of its heredoc:\n%s", out)
	}
}

func TestPlainCIsNeverMask(t *testing.T) {
	t.Parallel()
	for _, ci := range []CI{Local, GitLabCI} {
		var stdout, stderr bytes.Buffer
		r := New(Options{Stdout: &stdout, Stderr: &stderr, CI: ci})
		r.Secret(secret.New(value))
		r.Warnf("w %s", value)
		r.Output("x", "y") // no GitHub: nothing, no panic
		r.Summary("s")
		_ = r.Close()
		if strings.Contains(stderr.String()+stdout.String(), value) || strings.Contains(stderr.String(), "::") {
			t.Fatalf("%v: %q", ci, stderr.String())
		}
		if !strings.Contains(stderr.String(), "warning: w [REDACTED]") {
			t.Fatalf("%v: %q", ci, stderr.String())
		}
	}
}

func TestGitHubWithoutFileCommandPaths(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	r := New(Options{Stdout: &stdout, Stderr: &stderr, CI: GitHubActions})
	r.Output("a", "b")
	r.Summary("c")
	_ = r.Close()
	if stderr.Len() != 0 {
		t.Fatalf("%q", stderr.String())
	}
	// A path that cannot be written is a warning, not a panic.
	env := map[string]string{"GITHUB_OUTPUT": filepath.Join(t.TempDir(), "missing", "out")}
	r = New(Options{Stdout: &stdout, Stderr: &stderr, CI: GitHubActions, Getenv: func(k string) string { return env[k] }})
	r.Output("a", "b")
	_ = r.Close()
	if !strings.Contains(stderr.String(), "could not write a GitHub file command") {
		t.Fatalf("%q", stderr.String())
	}
}

func TestParseFormat(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]Format{"": Text, "text": Text, "JSON": JSON} {
		if got, err := ParseFormat(in); err != nil || got != want {
			t.Errorf("%q: %v %v", in, got, err)
		}
	}
	if _, err := ParseFormat("yaml"); err == nil {
		t.Fatal("yaml accepted")
	}
}
