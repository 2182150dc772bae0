// Package report is the one place astro-ci writes to the outside: human lines
// on stderr, results on stdout (text or JSON), and under GitHub Actions the
// workflow commands, outputs and step summary. Everything passes through the
// run's redactor, and every new secret value is registered (and masked on
// GitHub) through Secret before it can reach any writer.
package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/sethvargo/go-githubactions"

	"github.com/astro-ci/astro-ci/internal/report/echo"
	"github.com/astro-ci/astro-ci/internal/secret"
)

// Format of results on stdout.
type Format string

// Formats.
const (
	Text Format = "text"
	JSON Format = "json"
)

// ParseFormat accepts text or json.
func ParseFormat(s string) (Format, error) {
	switch Format(strings.ToLower(s)) {
	case "", Text:
		return Text, nil
	case JSON:
		return JSON, nil
	}
	return "", fmt.Errorf("--format must be text or json, not %s", echo.Quote(s))
}

// CI is the CI system the process runs under, which decides how warnings,
// masks and outputs are expressed.
type CI int

// CI systems.
const (
	Local CI = iota
	GitHubActions
	GitLabCI
)

// Options builds a Reporter.
type Options struct {
	Stdout, Stderr io.Writer
	Format         Format
	CI             CI
	Getenv         func(string) string // GITHUB_OUTPUT, GITHUB_STEP_SUMMARY
	Redactor       *secret.Redactor
}

// SchemaVersion is the version of every JSON document astro-ci prints
// (docs/schema): it changes only when a field changes meaning or goes away.
const SchemaVersion = 1

// MaxLine bounds every message line (and annotation) the Reporter prints;
// longer ones are cut, after redaction, with their length said. Echoed input
// is cut far shorter where it is echoed (package echo); this is the backstop.
const MaxLine = 4096

// Failure is why a run failed, as the "error" member of the JSON document.
type Failure struct {
	Message string `json:"message"`
	// Kind: usage (exit 2), failed, deadline, interrupted, internal (exit 1).
	Kind string `json:"kind"`
	// Target is the address of the target that failed, when one did.
	Target string `json:"target,omitempty"`
	// Request is the API request that failed ("GET https://host/path"), when one did.
	Request  string `json:"request,omitempty"`
	ExitCode int    `json:"exitCode"`
}

// Reporter writes everything astro-ci shows. Safe for concurrent use.
type Reporter struct {
	red            *secret.Redactor
	stdout, stderr *secret.Writer
	format         Format
	ci             CI
	getenv         func(string) string
	// gha issues workflow commands on stderr (the runner reads commands on
	// both streams), keeping stdout clean for JSON results.
	gha *githubactions.Action
	// mask writes ::add-mask:: lines; it alone bypasses the redactor, since
	// the command must carry the value to hide it.
	mask *githubactions.Action

	// JSON: the result and the failure are written together by Close, so
	// that stdout is one document whatever happens.
	result  json.RawMessage
	failure *Failure
	// extra: members added to the document beside the result (Extra).
	extra []extraMember
}

type extraMember struct {
	name string
	v    json.RawMessage
}

// New returns a Reporter. Call Close at the end to flush.
func New(o Options) *Reporter {
	if o.Redactor == nil {
		o.Redactor = secret.NewRedactor()
	}
	if o.Getenv == nil {
		o.Getenv = func(string) string { return "" }
	}
	r := &Reporter{
		red:    o.Redactor,
		stdout: o.Redactor.Writer(o.Stdout),
		stderr: o.Redactor.Writer(o.Stderr),
		format: o.Format,
		ci:     o.CI,
		getenv: o.Getenv,
	}
	if o.CI == GitHubActions {
		r.gha = githubactions.New(githubactions.WithWriter(r.stderr), githubactions.WithGetenv(o.Getenv))
		r.mask = githubactions.New(githubactions.WithWriter(o.Stderr), githubactions.WithGetenv(o.Getenv))
	}
	return r
}

// Stderr is the redacting writer for human text (flags' usage messages).
func (r *Reporter) Stderr() io.Writer { return r.stderr }

// Stdout is the redacting writer for results that are not JSON documents
// (help, completion scripts).
func (r *Reporter) Stdout() io.Writer { return r.stdout }

// Redactor is the run's redactor.
func (r *Reporter) Redactor() *secret.Redactor { return r.red }

// Format of results.
func (r *Reporter) Format() Format { return r.format }

// CI the reporter writes for.
func (r *Reporter) CI() CI { return r.ci }

// Secret registers a value the moment it exists: the redactor scrubs it from
// all later output, and on GitHub the runner masks it in the log.
func (r *Reporter) Secret(v secret.Value) {
	if v.IsZero() {
		return
	}
	r.red.Add(v)
	if r.mask != nil {
		// Flush first so the mask line is not interleaved within a pending line.
		_ = r.stderr.Flush()
		r.mask.AddMask(v.Reveal())
	}
}

// message formats a line: redacted first, then cut to MaxLine, so that a
// cut never splits a secret where the redactor could no longer see it.
func (r *Reporter) message(format string, args ...any) string {
	return echo.Cut(r.red.Scrub(fmt.Sprintf(format, args...)), MaxLine)
}

// Infof prints a progress or information line on stderr.
func (r *Reporter) Infof(format string, args ...any) {
	fmt.Fprintln(r.stderr, r.message(format, args...))
}

// Warnf prints a warning: an annotation on GitHub, a plain line elsewhere.
func (r *Reporter) Warnf(format string, args ...any) {
	msg := r.message(format, args...)
	if r.gha != nil {
		r.gha.Warningf("%s", msg) // go-githubactions escapes %, CR and LF
		return
	}
	fmt.Fprintf(r.stderr, "warning: %s\n", msg)
}

// Errorf prints an error: an annotation on GitHub, a plain line elsewhere.
func (r *Reporter) Errorf(format string, args ...any) {
	msg := r.message(format, args...)
	if r.gha != nil {
		r.gha.Errorf("%s", msg)
		return
	}
	fmt.Fprintf(r.stderr, "error: %s\n", msg)
}

// Result prints a command's result: the text that text writes at once, or
// JSON of v (which must encode as an object) with "schemaVersion" first,
// written by Close together with the failure if there is one.
func (r *Reporter) Result(v any, text func(w io.Writer)) error {
	if r.format == JSON {
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("encoding the result: %w", err)
		}
		r.result = b
		return nil
	}
	text(r.stdout)
	return nil
}

// Extra adds the member name, v as JSON, to the JSON document beside the
// result (one command that does two things: run on a schedule rotates and
// prunes). Text output is the caller's.
func (r *Reporter) Extra(name string, v any) error {
	if r.format != JSON {
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encoding the result: %w", err)
	}
	r.extra = append(r.extra, extraMember{name, b})
	return nil
}

// Fail records why the run failed; with JSON output it becomes the "error"
// member of the document (the human line is the caller's, via Errorf).
func (r *Reporter) Fail(f Failure) {
	f.Message = echo.Cut(r.red.Scrub(f.Message), MaxLine)
	r.failure = &f
}

// document is the JSON stdout carries: {"schemaVersion":1, ...result,
// "error":{...}}; nil when there is nothing to print.
func (r *Reporter) document() ([]byte, error) {
	if r.result == nil && r.failure == nil && r.extra == nil {
		return nil, nil
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, `{"schemaVersion":%d`, SchemaVersion)
	if res := bytes.TrimSpace(r.result); len(res) > 0 {
		if res[0] != '{' {
			return nil, errors.New("a JSON result must be an object")
		}
		if inner := bytes.TrimSpace(res[1 : len(res)-1]); len(inner) > 0 {
			b.WriteByte(',')
			b.Write(inner)
		}
	}
	for _, x := range r.extra {
		n, _ := json.Marshal(x.name)
		b.WriteByte(',')
		b.Write(n)
		b.WriteByte(':')
		b.Write(x.v)
	}
	if r.failure != nil {
		e, err := json.Marshal(r.failure)
		if err != nil {
			return nil, err
		}
		b.WriteString(`,"error":`)
		b.Write(e)
	}
	b.WriteByte('}')
	var out bytes.Buffer
	if err := json.Indent(&out, b.Bytes(), "", "  "); err != nil {
		return nil, err
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}

// Output sets a step output on GitHub; elsewhere, and when GITHUB_OUTPUT is
// not set (a local act run without it, a misconfigured runner), it does nothing.
func (r *Reporter) Output(name, value string) {
	if r.gha == nil || r.getenv("GITHUB_OUTPUT") == "" {
		return
	}
	r.fileCommand(func() { r.gha.SetOutput(name, oneLine(r.red.Scrub(value))) })
}

// Summary appends markdown to the GitHub step summary, when there is one.
func (r *Reporter) Summary(markdown string) {
	if r.gha == nil || r.getenv("GITHUB_STEP_SUMMARY") == "" {
		return
	}
	r.fileCommand(func() { r.gha.AddStepSummary(r.red.Scrub(markdown)) })
}

// fileCommand turns go-githubactions' panics on a failed file write into a
// warning: a missing summary must not fail a rotation that succeeded.
func (r *Reporter) fileCommand(f func()) {
	defer func() {
		if p := recover(); p != nil {
			fmt.Fprintf(r.stderr, "warning: could not write a GitHub file command: %v\n", p)
		}
	}()
	f()
}

// oneLine keeps an output value from breaking out of its heredoc.
func oneLine(s string) string {
	s = strings.NewReplacer("\r", " ", "\n", " ").Replace(s)
	return strings.ReplaceAll(s, "_GitHubActionsFileCommandDelimeter_", "")
}

// Close writes the JSON document, if any, and flushes both streams.
func (r *Reporter) Close() error {
	var errs []error
	if r.format == JSON {
		doc, err := r.document()
		errs = append(errs, err)
		if doc != nil {
			_, err = r.stdout.Write(doc)
			errs = append(errs, err)
		}
		r.result, r.failure, r.extra = nil, nil, nil
	}
	return errors.Join(append(errs, r.stdout.Flush(), r.stderr.Flush())...)
}
