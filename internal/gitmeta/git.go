package gitmeta

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"slices"
	"strings"
	"time"
)

// Git runs the git binary read-only in a checkout.
type Git struct {
	// Binary is the git executable; default "git" from PATH.
	Binary string
	// Timeout bounds each git command; default 30s. The caller's context
	// bounds them too.
	Timeout time.Duration
}

// maxOutput bounds what one git command may print.
const maxOutput = 16 << 20

// maxPaths bounds the changed paths a Changes lists.
const maxPaths = 200

// ErrNoGit means the directory is not in a git checkout (or git is missing).
var ErrNoGit = errors.New("not a git checkout")

// run runs git in dir. Configuration that could make git run programs
// from the checkout (core.fsmonitor, hooks, pagers, credential prompts) is
// off: the checkout holds a branch's code, which is not ours to execute.
func (g Git) run(ctx context.Context, dir string, args ...string) (string, error) {
	timeout := g.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	bin := g.Binary
	if bin == "" {
		bin = "git"
	}
	full := append([]string{"-C", dir, "-c", "core.fsmonitor=false", "-c", "core.quotePath=false",
		"-c", "core.hooksPath=/dev/null", "--no-pager"}, args...)
	cmd := exec.CommandContext(ctx, bin, full...)
	// The user's configuration stays: it holds the safe.directory entries
	// that actions/checkout and runners add for checkouts owned by another
	// user.
	cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0", "GIT_OPTIONAL_LOCKS=0", "LC_ALL=C")
	var out, errb bytes.Buffer
	cmd.Stdout = &limitedBuffer{b: &out, n: maxOutput}
	cmd.Stderr = &limitedBuffer{b: &errb, n: 4096}
	cmd.WaitDelay = time.Second // a killed git's children cannot hold its output open
	err := cmd.Run()
	if ctx.Err() != nil {
		return "", fmt.Errorf("git %s: %w", args[0], ctx.Err())
	}
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			return "", fmt.Errorf("running git: %w (is git installed?)", err)
		}
		return "", &gitError{args: args, stderr: strings.TrimSpace(errb.String()), code: ee.ExitCode()}
	}
	return out.String(), nil
}

type gitError struct {
	args   []string
	stderr string
	code   int
}

func (e *gitError) Error() string {
	return fmt.Sprintf("git %s exited %d: %s", e.args[0], e.code, firstLine(e.stderr))
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

type limitedBuffer struct {
	b *bytes.Buffer
	n int
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := l.n - l.b.Len(); room > 0 {
		l.b.Write(p[:min(len(p), room)])
	}
	return len(p), nil // keep git running; what is past the cap is dropped
}

var _ io.Writer = (*limitedBuffer)(nil)

// FromGit reads what the checkout says: HEAD, its branch, the origin
// remote (credentials removed) and the HEAD commit's author.
func (g Git) FromGit(ctx context.Context, dir string) (Meta, error) {
	out, err := g.run(ctx, dir, "log", "-1", "--format=%H%x00%an")
	if err != nil {
		return Meta{}, g.explain(ctx, dir, err)
	}
	head, author, _ := strings.Cut(strings.TrimSpace(out), "\x00")
	m := Meta{System: Local, CommitSHA: sha(head), AuthorName: author}
	if b, err := g.run(ctx, dir, "symbolic-ref", "--quiet", "--short", "HEAD"); err == nil {
		m.Branch = strings.TrimSpace(b)
	}
	if r, err := g.run(ctx, dir, "config", "--get", "remote.origin.url"); err == nil {
		m.RemoteURL = CleanRemote(r)
	}
	return m, nil
}

// explain turns "not a git repository" into ErrNoGit.
func (g Git) explain(ctx context.Context, dir string, err error) error {
	var ge *gitError
	if errors.As(err, &ge) && strings.Contains(ge.stderr, "not a git repository") {
		return fmt.Errorf("%s: %w", dir, ErrNoGit)
	}
	if errors.As(err, &ge) && strings.Contains(ge.stderr, "dubious ownership") {
		return fmt.Errorf("git refuses the checkout %s because another user owns it: mark it safe with `git config --global --add safe.directory <path>` (actions/checkout does this itself): %w", dir, err)
	}
	return err
}

// Compare says what to compare the checkout's head with.
type Compare struct {
	// ImageCommit is the commit the base's image was built from (the base's
	// newest image deploy's git.commitSha); "" when unknown.
	ImageCommit string
	// MergeBaseWith is the ref of the base branch (such as "origin/main"),
	// used when ImageCommit is unknown: the branch's own changes since it
	// left the base branch. "" for none.
	MergeBaseWith string
	// Head is the commit deployed; default "HEAD".
	Head string
	// DagsDir is the DAG folder relative to the project directory;
	// default "dags".
	DagsDir string
}

// Changes are the paths of the project outside its DAG folder that differ
// between Base and Head.
type Changes struct {
	Base      string // the commit compared with
	BaseIs    string // "image commit" or "merge base"
	Head      string
	Paths     []string // project-relative, sorted; at most maxPaths
	Truncated bool     // more paths changed than Paths lists
}

// ImageBuildRequired reports a change that the base's image does not have.
func (c Changes) ImageBuildRequired() bool { return len(c.Paths) > 0 }

// ErrCommitMissing means the commit to compare with is not in the checkout.
type ErrCommitMissing struct {
	Commit  string
	Shallow bool
}

func (e *ErrCommitMissing) Error() string {
	if e.Shallow {
		return fmt.Sprintf("commit %s, which the base's image was built from, is not in this shallow clone, so astro-ci cannot tell whether files outside dags/ changed: fetch the full history (actions/checkout with fetch-depth: 0; GitLab GIT_DEPTH: 0)", e.Commit)
	}
	return fmt.Sprintf("commit %s, which the base's image was built from, is not in this checkout (rewritten history, or another repository), so astro-ci cannot tell whether files outside dags/ changed", e.Commit)
}

// notImageInputs are project paths that do not make a different image:
// the DAG folder (DAG deploys ship it), documentation and CI configuration.
// Everything else in an Astro project goes into the image (its Dockerfile
// copies the project).
func notImageInput(p, dags string) bool {
	switch {
	case p == dags || strings.HasPrefix(p, dags+"/"):
		return true
	case strings.HasPrefix(p, ".github/"), strings.HasPrefix(p, ".gitlab/"), p == ".gitlab-ci.yml",
		p == ".gitignore", p == ".gitattributes", strings.HasSuffix(strings.ToLower(p), ".md"):
		return true
	}
	return false
}

// ChangedOutsideDags lists what changed in the project at dir (an Astro
// project, possibly a subdirectory of the repository) outside its DAG
// folder between the base's image commit and the head. Without an image
// commit it compares with the merge base of the head and MergeBaseWith.
// A commit the checkout lacks is an *ErrCommitMissing, saying whether the
// clone is shallow: it never guesses.
func (g Git) ChangedOutsideDags(ctx context.Context, dir string, c Compare) (Changes, error) {
	head := c.Head
	if head == "" {
		head = "HEAD"
	}
	dags := path.Clean(strings.Trim(strings.ReplaceAll(c.DagsDir, "\\", "/"), "/"))
	if c.DagsDir == "" {
		dags = "dags"
	}
	headSHA, err := g.resolve(ctx, dir, head)
	if err != nil {
		return Changes{}, err
	}
	ch := Changes{Head: headSHA}
	switch {
	case c.ImageCommit != "":
		if sha(c.ImageCommit) == "" {
			return Changes{}, fmt.Errorf("the base's image commit %q is not a full commit SHA", c.ImageCommit)
		}
		if _, err := g.resolve(ctx, dir, c.ImageCommit); err != nil {
			if ok, _ := g.shallow(ctx, dir); ok {
				return Changes{}, &ErrCommitMissing{Commit: c.ImageCommit, Shallow: true}
			}
			return Changes{}, &ErrCommitMissing{Commit: c.ImageCommit}
		}
		ch.Base, ch.BaseIs = c.ImageCommit, "image commit"
	case c.MergeBaseWith != "":
		if strings.HasPrefix(c.MergeBaseWith, "-") {
			return Changes{}, fmt.Errorf("base ref %q is not a ref", c.MergeBaseWith)
		}
		out, err := g.run(ctx, dir, "merge-base", headSHA, c.MergeBaseWith)
		if err != nil {
			var ge *gitError
			if errors.As(err, &ge) && ge.code == 1 {
				if ok, _ := g.shallow(ctx, dir); ok {
					return Changes{}, fmt.Errorf("the merge base of %s and %s is not in this shallow clone: fetch the full history (actions/checkout with fetch-depth: 0; GitLab GIT_DEPTH: 0)", head, c.MergeBaseWith)
				}
				return Changes{}, fmt.Errorf("%s and %s have no common commit", head, c.MergeBaseWith)
			}
			return Changes{}, fmt.Errorf("finding the merge base of %s and %s: %w", head, c.MergeBaseWith, g.explain(ctx, dir, err))
		}
		ch.Base, ch.BaseIs = strings.TrimSpace(out), "merge base"
	default:
		return Changes{}, errors.New("nothing to compare with: the base's image commit is unknown and no base branch was given")
	}
	// --relative limits the diff to dir and names paths relative to it.
	out, err := g.run(ctx, dir, "diff", "--name-only", "-z", "--no-renames", "--relative", ch.Base, headSHA, "--")
	if err != nil {
		return Changes{}, fmt.Errorf("comparing %s with %s: %w", ch.Base, headSHA, g.explain(ctx, dir, err))
	}
	for p := range strings.SplitSeq(out, "\x00") {
		if p == "" || notImageInput(p, dags) {
			continue
		}
		if len(ch.Paths) == maxPaths {
			ch.Truncated = true
			break
		}
		ch.Paths = append(ch.Paths, p)
	}
	slices.Sort(ch.Paths)
	return ch, nil
}

func (g Git) resolve(ctx context.Context, dir, rev string) (string, error) {
	if strings.HasPrefix(rev, "-") {
		return "", fmt.Errorf("%q is not a revision", rev)
	}
	out, err := g.run(ctx, dir, "rev-parse", "--verify", "--quiet", rev+"^{commit}")
	if err != nil {
		return "", g.explain(ctx, dir, err)
	}
	return strings.TrimSpace(out), nil
}

func (g Git) shallow(ctx context.Context, dir string) (bool, error) {
	out, err := g.run(ctx, dir, "rev-parse", "--is-shallow-repository")
	return strings.TrimSpace(out) == "true", err
}
