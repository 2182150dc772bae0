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

func TestJSONResultCarriesSchemaVersionAndError(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	red := secret.NewRedactor()
	red.Add(secret.New(value))
	r := New(Options{Stdout: &stdout, Stderr: &stderr, Format: JSON, Redactor: red})
	_ = r.Result(struct {
		B string `json:"b"`
		A int    `json:"a"`
	}{"x", 1}, nil)
	r.Fail(Failure{Message: "it broke: " + value, Kind: "failed", Target: "github://o/r/secrets/X", ExitCode: 1})
	if stdout.Len() != 0 {
		t.Fatal("the JSON result must wait for the outcome")
	}
	_ = r.Close()
	want := `{
  "schemaVersion": 1,
  "b": "x",
  "a": 1,
  "error": {
    "message": "it broke: [REDACTED]",
    "kind": "failed",
    "target": "github://o/r/secrets/X",
    "exitCode": 1
  }
}
`
	if got := stdout.String(); got != want {
		t.Fatalf("got\n%s", got)
	}
}

func TestJSONErrorWithoutResult(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	red := secret.NewRedactor()
	red.Add(secret.New(value))
	r := New(Options{Stdout: &stdout, Stderr: &stderr, Format: JSON, Redactor: red})
	r.Fail(Failure{Message: "bad flag " + value, Kind: "usage", ExitCode: 2})
	_ = r.Close()
	want := "{\n  \"schemaVersion\": 1,\n  \"error\": {\n    \"message\": \"bad flag [REDACTED]\",\n    \"kind\": \"usage\",\n    \"exitCode\": 2\n  }\n}\n"
	if stdout.String() != want {
		t.Fatalf("got\n%s", stdout.String())
	}
	// Text: nothing on stdout for a failure.
	stdout.Reset()
	r = New(Options{Stdout: &stdout, Stderr: &stderr})
	r.Fail(Failure{Message: "x", Kind: "usage", ExitCode: 2})
	_ = r.Close()
	if stdout.Len() != 0 {
		t.Fatal(stdout.String())
	}
}

// Every line astro-ci prints is bounded, after redaction (a cut must not
// split a secret so that the redactor no longer sees it).
func TestLongMessagesAreCutAfterRedaction(t *testing.T) {
	t.Parallel()
	for _, ci := range []CI{Local, GitHubActions} {
		var stdout, stderr bytes.Buffer
		red := secret.NewRedactor()
		red.Add(secret.New(value))
		r := New(Options{Stdout: &stdout, Stderr: &stderr, CI: ci, Redactor: red})
		long := strings.Repeat("x", MaxLine-10) + value + strings.Repeat("y", 5<<20)
		r.Errorf("%s", long)
		r.Warnf("%s", long)
		r.Infof("%s", long)
		_ = r.Close()
		for _, l := range strings.Split(stderr.String(), "\n") {
			if len(l) > MaxLine+100 {
				t.Fatalf("%v: a %d-byte line", ci, len(l))
			}
		}
		if strings.Contains(stderr.String(), value[:20]) {
			t.Fatalf("%v: part of the value leaked", ci)
		}
	}
}
