package cienv

import (
	"errors"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

var (
	validBranches = []string{
		"main", "master", "feature/x", "fix/x", "feature/X", "Feature/x", "a", "x-", "a-b", "a_b",
		"release/2026.04", "fix/v1.2.3", "a./b", // only the last component may not end with "."
		"a.locked", "lock", "x/lock", "a.lo/ck", "HEADS", "head", "refs", "a/b", "a-", "a--b",
		"@a", "a@b", "a@", "{a}", "a{b}", "a}{b", "#1", "issue#42", "100%", "a+b", "a=b", "a,b", "a!b",
		"a'b", `a"b`, "a<b>c", "a|b", "a&b", "a;b", "$x", "$(id)", "`id`", "a$(touch${IFS}pwned)", hostile,
		"feature/größe", "日本", "日本/語", "emoji/🎉", "fix/ünïcødé", "ﬁ", "a\u202eb", // bidi override: git allows it
		"a\u00a0b", // no-break space is not ASCII space
		strings.Repeat("a", MaxBranchLen),
		strings.Repeat("日", MaxBranchLen/3),
	}
	invalidBranches = []string{
		"", "@", "HEAD", "-", "-x", "--force", "/x", "x/", "x.", "feature/x.", ".x", "a/.b", "a/./b", "a/../b",
		"a..b", "feature/..x", "..", "a@{b", "@{-1}", "a//b", "a.lock", "a/b.lock", "x.lock/y", ".lock",
		"a b", " a", "a ", "a~b", "a^b", "a:b", "a?b", "a*b", "a[b", `a\b`,
		"a\nb", "feature/x\necho pwned", "a\rb", "a\tb", "a\x00b", "a\x7fb", "a\x1b[31mb", "a\x01",
		"a\xffb", "\xc3", // invalid UTF-8
		"a\u0085b", "a\u009bb", // C1 controls
		strings.Repeat("a", MaxBranchLen+1),
		strings.Repeat("日", MaxBranchLen/3) + "a",
	}
)

func TestValidateBranch(t *testing.T) {
	t.Parallel()
	for _, b := range validBranches {
		if err := ValidateBranch(b); err != nil {
			t.Errorf("ValidateBranch(%q) = %v, want nil", b, err)
		}
	}
	for _, b := range invalidBranches {
		err := ValidateBranch(b)
		var be *BranchError
		if !errors.As(err, &be) {
			t.Errorf("ValidateBranch(%q) = %v, want a *BranchError", b, err)
			continue
		}
		// The message quotes the name: no raw control character reaches a log.
		if msg := err.Error(); strings.ContainsFunc(msg, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			t.Errorf("ValidateBranch(%q) message %q contains a control character", b, msg)
		}
	}
}

// TestValidateBranchMatchesGit checks the table against git check-ref-format
// --branch, when git is installed. The additions of ValidateBranch ("@",
// length, UTF-8, C1 controls) are skipped, and so is NUL, which argv cannot
// carry.
func TestValidateBranchMatchesGit(t *testing.T) {
	t.Parallel()
	git, err := exec.LookPath("git")
	if err != nil {
		t.Skip("git not installed")
	}
	dir := t.TempDir() // not a repository: no @{-1} expansion
	check := func(name string) bool {
		cmd := exec.Command(git, "check-ref-format", "--branch", name)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_CEILING_DIRECTORIES="+filepath.Dir(dir))
		return cmd.Run() == nil
	}
	deviation := func(b string) bool {
		return b == "@" || len(b) > MaxBranchLen || strings.ContainsRune(b, 0) || strings.ContainsAny(b, "\u0085\u009b") || !isValidUTF8(b)
	}
	for _, b := range append(append([]string{}, validBranches...), invalidBranches...) {
		if deviation(b) || b == "" {
			continue
		}
		if want, got := ValidateBranch(b) == nil, check(b); want != got {
			t.Errorf("%q: ValidateBranch accepts = %v, git check-ref-format --branch accepts = %v", b, want, got)
		}
	}
}

func isValidUTF8(s string) bool { return strings.ToValidUTF8(s, "\uFFFD") == s }

// TestNoShellNoProcessEnv enforces two promises of the package: nothing reads
// the process environment (everything comes from Detect's arguments), and
// nothing runs a command, so Branch can never reach a shell from here.
func TestNoShellNoProcessEnv(t *testing.T) {
	t.Parallel()
	paths, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, p := range paths {
		if strings.HasSuffix(p, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, p, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			switch path {
			case "os", "os/exec", "syscall", "unsafe":
				t.Errorf("%s imports %q", p, path)
			}
		}
	}
}
