package cienv

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/astro-ci/astro-ci/internal/report/echo"
)

// MaxBranchLen is the longest branch name accepted, in bytes.
const MaxBranchLen = 255

// BranchError is a branch name git could not have created.
type BranchError struct {
	Name   string
	Reason string
}

func (e *BranchError) Error() string {
	return fmt.Sprintf("invalid branch name %s: %s", echo.Quote(e.Name), e.Reason)
}

// ValidateBranch reports whether name (without "refs/heads/") is a branch name
// git accepts, following git-check-ref-format(1) with --branch
// (https://git-scm.com/docs/git-check-ref-format) and refs.c
// check_refname_component:
//
//   - no ASCII control character (< 0x20, 0x7f), space, "~", "^", ":", "?",
//     "*", "[" or "\" anywhere;
//   - no "..", no "@{", no "//";
//   - does not begin or end with "/", does not end with ".";
//   - no "/"-separated component begins with "." or ends with ".lock";
//   - does not begin with "-" and is not "HEAD" (git branch refuses both:
//     strbuf_check_branch_ref).
//
// Additions that git does not make:
//
//   - not "@" — git's rule 9 forbids "@" as a whole ref name, not as a branch
//     name, and `git branch @` does create refs/heads/@; but "@" means HEAD
//     to git commands, so such a branch is only ever a trap;
//   - at most MaxBranchLen bytes;
//   - valid UTF-8 — git accepts any byte ≥ 0x80, but GitHub and GitLab names
//     travel in JSON and cannot carry invalid UTF-8, so such a name is not
//     from them;
//   - no C1 control character U+0080–U+009F (U+0085 is a line break to some
//     log viewers).
//
// Everything else is allowed, including Unicode letters and the shell
// metacharacters "$", "`", "(", ")", ";", "|", "&", "<", ">", quotes, "!",
// "#", "{" and "}": a valid name is still hostile data.
func ValidateBranch(name string) error {
	bad := func(format string, a ...any) error {
		return &BranchError{Name: name, Reason: fmt.Sprintf(format, a...)}
	}
	switch {
	case name == "":
		return bad("empty")
	case len(name) > MaxBranchLen:
		return bad("longer than %d bytes", MaxBranchLen)
	case !utf8.ValidString(name):
		return bad("not valid UTF-8")
	}
	for _, r := range name {
		if r >= 0x80 && r < 0xa0 {
			return bad("contains control character %q", r)
		}
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c < 0x20 || c == 0x7f:
			return bad("contains control character %q", c)
		case strings.IndexByte(" ~^:?*[\\", c) >= 0:
			return bad("contains %q", c)
		}
	}
	switch {
	case name == "@":
		return bad(`"@" means HEAD to git`)
	case name == "HEAD":
		return bad(`"HEAD" is not a valid branch name`)
	case name[0] == '-':
		return bad(`begins with "-"`)
	case name[0] == '/':
		return bad(`begins with "/"`)
	case name[len(name)-1] == '/':
		return bad(`ends with "/"`)
	case name[len(name)-1] == '.':
		return bad(`ends with "."`)
	case strings.Contains(name, ".."):
		return bad(`contains ".."`)
	case strings.Contains(name, "@{"):
		return bad(`contains "@{"`)
	case strings.Contains(name, "//"):
		return bad(`contains "//"`)
	}
	for comp := range strings.SplitSeq(name, "/") {
		switch {
		case strings.HasPrefix(comp, "."):
			return bad("component %s begins with %q", echo.Quote(comp), ".")
		case strings.HasSuffix(comp, ".lock"):
			return bad("component %s ends with %q", echo.Quote(comp), ".lock")
		}
	}
	return nil
}
