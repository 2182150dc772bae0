package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"

	"github.com/astro-ci/astro-ci/internal/report"
)

// TestMain lets the test binary act as astro-ci itself (the completion test
// puts it on PATH for bash); ASTROCI_ is not ASTRO_CI_, so it draws no
// unknown-variable warning.
func TestMain(m *testing.M) {
	if os.Getenv("ASTROCI_TEST_AS_MAIN") == "1" {
		os.Exit(Run(context.Background(), os.Args[1:], EnvMap(os.Environ()), os.Stdout, os.Stderr))
	}
	before, _ := filepath.Glob("*.env")
	code := m.Run()
	// A run in GitLab mode writes its dotenv file (preview.env,
	// deploy.env) where it is told; a test that forgets to say where
	// would leave one in this package's folder, and in a commit.
	if left, _ := filepath.Glob("*.env"); len(left) > len(before) && code == 0 {
		fmt.Fprintf(os.Stderr, "tests left %v in internal/cli: give the run CI_PROJECT_DIR or --dotenv in a temporary directory\n", left)
		code = 1
	}
	os.Exit(code)
}

// testRoot is the command tree as Run builds it, with cobra's own help and
// completion commands added (Execute adds them lazily).
func testRoot() *cobra.Command {
	var out bytes.Buffer
	root := newRoot(&builder{r: &runner{rep: report.New(report.Options{Stdout: &out, Stderr: &out})}})
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	decorate(root)
	return root
}

func helpFile(c *cobra.Command) string {
	return strings.ReplaceAll(c.CommandPath(), " ", "_") + ".txt"
}

// TestHelpGolden pins every command's --help (stdout, exit 0): synopsis,
// paragraph, examples, flags with their environment names. go test -update
// rewrites testdata/help.
func TestHelpGolden(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	for _, c := range allCommands(testRoot()) {
		args := append(strings.Fields(c.CommandPath())[1:], "--help")
		r := h.run("", args...)
		if r.code != 0 || r.stderr != "" {
			t.Fatalf("%v: %v", args, r)
		}
		goldenFile(t, filepath.Join("testdata", "help", helpFile(c)), r.stdout)
		if c.Runnable() && !c.HasSubCommands() && c != c.Root() {
			for _, want := range []string{"Usage:", "Examples:", "Flags:", "(env ASTRO_CI_", "Global Flags:"} {
				if c.Name() == "completion" || c.Parent().Name() == "completion" || c.Name() == "help" {
					break
				}
				if !strings.Contains(r.stdout, want) {
					t.Errorf("%s --help lacks %q", c.CommandPath(), want)
				}
			}
		}
		// help <command> is the same text.
		if c != c.Root() {
			if hr := h.run("", append([]string{"help"}, args[:len(args)-1]...)...); hr.code != 0 || withoutHelpFlag(hr.stdout) != withoutHelpFlag(r.stdout) {
				t.Errorf("help %v differs from --help: %v", args, hr)
			}
		}
	}
	// Groups list their commands.
	for _, g := range []struct{ args, want []string }{
		{[]string{"token", "--help"}, []string{"Inspect:", "check", "list", "Lifecycle:", "create", "rotate", "delete", "Administer:", "update", "workspace"}},
		{[]string{"preview", "--help"}, []string{"create", "delete"}},
		{[]string{"token", "workspace", "--help"}, []string{"add", "update", "remove"}},
	} {
		r := h.run("", g.args...)
		for _, w := range g.want {
			if !strings.Contains(r.stdout, w) {
				t.Errorf("%v lacks %q:\n%s", g.args, w, r.stdout)
			}
		}
	}
}

// withoutHelpFlag drops the -h line (cobra adds it only to the command it
// runs) and a Flags: section it leaves empty.
func withoutHelpFlag(s string) string {
	var keep []string
	for _, l := range strings.Split(s, "\n") {
		if !strings.Contains(l, "-h, --help") {
			keep = append(keep, l)
		}
	}
	return strings.Replace(strings.Join(keep, "\n"), "Flags:\n\n", "", 1)
}

func TestTyposSuggestAndExit2(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"tokn"}, `unknown command "tokn" for astro-ci (did you mean token?)`},
		{[]string{"prevew", "create"}, "(did you mean preview?)"},
		{[]string{"token", "rotat"}, "(did you mean rotate?)"},
		{[]string{"token", "workspace", "updte"}, "(did you mean update?)"},
		{[]string{"help", "token", "chek"}, "(did you mean check?)"},
		{[]string{"token", "check", "--warn-withn", "3d"}, "unknown flag --warn-withn (did you mean --warn-within?)"},
		{[]string{"token"}, "astro-ci token needs a command: check, create, delete, list, rotate, update, workspace"},
	} {
		r := h.run("", tt.args...)
		if r.code != 2 || !strings.Contains(r.stderr, tt.want) || r.stdout != "" {
			t.Errorf("%v: want exit 2 and %q: %v", tt.args, tt.want, r)
		}
	}
	long := strings.Repeat("x", 1<<20)
	if r := h.run("", long); r.code != 2 || len(r.stderr) > 1024 {
		t.Errorf("a 1 MB command: exit %d, %d bytes of error", r.code, len(r.stderr))
	}
	if r := h.run("", "token", "check", "--"+long); r.code != 2 || len(r.stderr) > 1024 {
		t.Errorf("a 1 MB flag: exit %d, %d bytes of error", r.code, len(r.stderr))
	}
}

func TestVersionShowsTheCommit(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	for _, args := range [][]string{{"--version"}, {"version"}, {"-v"}} {
		r := h.run("", args...)
		if r.code != 0 || !strings.HasPrefix(r.stdout, "astro-ci ") || !strings.Contains(r.stdout, "(commit ") {
			t.Errorf("%v: %v", args, r)
		}
	}
	r := h.run("", "version", "--format", "json")
	if r.code != 0 || !strings.Contains(r.stdout, `"commit": "`) {
		t.Fatal(r)
	}
}

// TestDocs keeps docs/cli, generated from the commands, in sync: go test
// ./internal/cli -run TestDocs -update regenerates it.
func TestDocs(t *testing.T) {
	t.Parallel()
	root := testRoot()
	for _, c := range allCommands(root) {
		c.DisableAutoGenTag = true
	}
	dir := t.TempDir()
	if err := doc.GenMarkdownTree(root, dir); err != nil {
		t.Fatal(err)
	}
	const docs = "../../docs/cli"
	gen, _ := filepath.Glob(filepath.Join(dir, "*.md"))
	if *update {
		old, _ := filepath.Glob(filepath.Join(docs, "astro-ci*.md"))
		for _, f := range old {
			_ = os.Remove(f)
		}
		if err := os.MkdirAll(docs, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, f := range gen {
			b, _ := os.ReadFile(f)
			if err := os.WriteFile(filepath.Join(docs, filepath.Base(f)), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	have, _ := filepath.Glob(filepath.Join(docs, "astro-ci*.md"))
	if len(have) != len(gen) {
		t.Errorf("docs/cli has %d files, the commands make %d (go test ./internal/cli -run TestDocs -update)", len(have), len(gen))
	}
	for _, f := range gen {
		want, _ := os.ReadFile(f)
		got, err := os.ReadFile(filepath.Join(docs, filepath.Base(f)))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("docs/cli/%s is out of date (go test ./internal/cli -run TestDocs -update)", filepath.Base(f))
		}
	}
}

// TestBashCompletion sources the generated bash script in a real bash, with
// this test binary on PATH as astro-ci, and asks it to complete.
func TestBashCompletion(t *testing.T) {
	t.Parallel()
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	h := newHarness(t)
	r := h.run("", "completion", "bash")
	if r.code != 0 || !strings.Contains(r.stdout, "__start_astro-ci") {
		t.Fatal(r)
	}
	dir := t.TempDir()
	script := filepath.Join(dir, "astro-ci.bash")
	if err := os.WriteFile(script, []byte(r.stdout), 0o644); err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	wrapper := "#!/bin/sh\nASTROCI_TEST_AS_MAIN=1 exec '" + self + "' \"$@\"\n"
	if err := os.WriteFile(filepath.Join(bin, "astro-ci"), []byte(wrapper), 0o755); err != nil {
		t.Fatal(err)
	}
	complete := func(line string) []string {
		t.Helper()
		// A minimal _get_comp_words_by_ref when the bash-completion package
		// is not installed (the script uses the real one when it is).
		prog := `
_get_comp_words_by_ref() { cur=${COMP_WORDS[COMP_CWORD]}; prev=${COMP_WORDS[COMP_CWORD-1]}; words=("${COMP_WORDS[@]}"); cword=$COMP_CWORD; }
source "$1"
COMP_LINE="$2"; COMP_POINT=${#COMP_LINE}
read -r -a COMP_WORDS <<< "$COMP_LINE"
[[ "$COMP_LINE" == *" " ]] && COMP_WORDS+=("")
COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
__start_astro-ci
printf '%s\n' "${COMPREPLY[@]}"
`
		cmd := exec.Command(bash, "--norc", "--noprofile", "-c", prog, "bash", script, line)
		cmd.Env = []string{"PATH=" + bin + ":/usr/bin:/bin", "HOME=" + dir}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%q: %v\n%s", line, err, out)
		}
		return strings.Fields(string(out))
	}
	for _, tt := range []struct{ line, want string }{
		{"astro-ci tok", "token"},
		{"astro-ci token ro", "rotate"},
		{"astro-ci token workspace ", "update"},
		{"astro-ci token rotate --str", "--strategy"},
		{"astro-ci token create --expi", "--expiry-days"},
		{"astro-ci pre", "preview"},
		{"astro-ci token rotate --strategy ", "overlap"},
		{"astro-ci token check --format ", "json"},
		{"astro-ci token workspace add --role WORKSPACE_O", "WORKSPACE_OPERATOR"},
	} {
		if got := complete(tt.line); !strings.Contains(strings.Join(got, " "), tt.want) {
			t.Errorf("%q completes to %q, want %q", tt.line, got, tt.want)
		}
	}
	for _, sh := range []string{"zsh", "fish", "powershell"} {
		if r := h.run("", "completion", sh); r.code != 0 || !strings.Contains(r.stdout, "astro-ci") {
			t.Errorf("completion %s: %v", sh, r)
		}
	}
}
