// Package cli is astro-ci's command line: it parses commands and flags
// (github.com/spf13/cobra), reads configuration from the environment, wires
// the Astro client, the targets and the reporter, and decides the exit code.
//
// The command tree is built anew by every Run (commands.go), without I/O.
// Each leaf command has an options struct filled by its flags; bindEnv fills
// what the command line left from ASTRO_CI_<FLAG>; the options' validate
// refuses bad combinations before anything happens (usage errors, exit 2);
// then a runner method does the work. See bind.go for how to add a flag.
package cli

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/astro-ci/astro-ci/internal/astro"
	"github.com/astro-ci/astro-ci/internal/report"
	"github.com/astro-ci/astro-ci/internal/secret"
	"github.com/astro-ci/astro-ci/internal/target"
)

// Exit codes.
const (
	ExitOK     = 0 // done, or nothing to do
	ExitFailed = 1 // an operation failed
	ExitUsage  = 2 // usage or configuration error
)

// Main holds what a run depends on besides its arguments, environment and
// writers. The zero value uses the real world; tests replace parts.
type Main struct {
	HTTPClient *http.Client
	Now        func() time.Time
	Rand       io.Reader
	Stdin      io.Reader
	Sleep      func(ctx context.Context, d time.Duration) error
	// Stores overrides the target stores per scheme (tests).
	Stores map[target.Scheme]target.Store
}

// Run runs astro-ci with the real world's defaults.
func Run(ctx context.Context, args []string, env map[string]string, stdout, stderr io.Writer) int {
	return Main{Stdin: os.Stdin}.Run(ctx, args, env, stdout, stderr)
}

// EnvMap turns os.Environ() into the map Run takes.
func EnvMap(environ []string) map[string]string {
	m := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m
}

// runner is one invocation.
type runner struct {
	m      Main
	ctx    context.Context
	env    map[string]string
	cfg    *Config
	rep    *report.Reporter
	stderr io.Writer
	now    func() time.Time
	fan    *target.Fanout
	hc     *http.Client
	act    activity
	path   string // the command being run, "token rotate"
	global *globalOptions
}

// Run runs one astro-ci invocation and returns its exit code. It never
// panics with a secret: a panic is caught and reported through the redactor.
func (m Main) Run(ctx context.Context, args []string, env map[string]string, stdout, stderr io.Writer) (code int) {
	if m.Now == nil {
		m.Now = time.Now
	}
	red := secret.NewRedactor()
	cfg, cfgErr := loadConfig(env)
	if cfg == nil {
		cfg = &Config{}
	}
	// Register every secret from the environment before anything is printed.
	red.Add(cfg.APIToken, cfg.APITokenOverride, cfg.KeySecret)
	for _, k := range secretEnvNames(env) {
		red.Add(secret.New(env[k]))
	}
	// --format is read before the command line is parsed, so that even a
	// usage error comes out as JSON when JSON was asked for.
	format := report.Text
	if f, ok := findFormat(args, env); ok {
		if pf, err := report.ParseFormat(f); err == nil {
			format = pf
		}
	}
	rep := report.New(report.Options{
		Stdout: stdout, Stderr: stderr, Format: format, CI: cfg.CI(),
		Getenv: func(k string) string { return env[k] }, Redactor: red,
	})
	r := &runner{m: m, ctx: ctx, env: env, cfg: cfg, rep: rep, stderr: rep.Stderr(), now: m.Now}
	defer func() {
		if p := recover(); p != nil {
			rep.Errorf("internal error: %v", p)
			f := failure(errors.New("internal error"))
			f.Kind = kindInternal
			rep.Fail(f)
			code = ExitFailed
		}
		_ = rep.Close()
	}()
	// A configuration error stops every command, but not --help.
	b := &builder{r: r, cfgErr: cfgErr}
	r.global = &b.global
	root := newRoot(b)
	if !completing(args) {
		for _, w := range unknownEnv(root, env) {
			rep.Warnf("%s", w)
		}
	}
	root.SetArgs(args)
	root.SetOut(rep.Stdout())
	root.SetErr(rep.Stderr())
	root.SetIn(strings.NewReader("")) // nothing reads stdin through cobra
	_, err := root.ExecuteC()
	return r.finish(err)
}

// completing reports whether the shell asks for completions (or their
// script): nothing else may be printed then.
func completing(args []string) bool {
	return len(args) > 0 && (args[0] == cobra.ShellCompRequestCmd || args[0] == cobra.ShellCompNoDescRequestCmd || args[0] == "completion")
}

// finish reports err (human line on stderr, "error" in the JSON document)
// and returns the exit code.
func (r *runner) finish(err error) int {
	if err == nil {
		return ExitOK
	}
	f := failure(err)
	var rep reportedError
	if !errors.As(err, &rep) {
		r.rep.Errorf("%v", err)
	}
	r.rep.Fail(f)
	return f.ExitCode
}

// secretEnvNames lists environment variables whose values are credentials
// (…_TOKEN, …_SECRET, …_PASSWORD, …_PRIVATE_KEY, ASTRO_PREVIEW_SECRET_*), so
// that the redactor knows them before anything is printed. Ids and URLs of
// tokens (…_TOKEN_ID, …_TOKEN_URL) are not secrets and stay readable.
func secretEnvNames(env map[string]string) []string {
	var out []string
	for k := range env {
		u := strings.ToUpper(k)
		last := u[strings.LastIndex(u, "_")+1:]
		switch {
		case last == "TOKEN" || last == "SECRET" || last == "PASSWORD" || last == "KEY" && strings.HasSuffix(u, "PRIVATE_KEY"),
			strings.HasPrefix(u, "ASTRO_PREVIEW_SECRET_"):
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// findFormat finds --format in args before
// they are parsed, else ASTRO_CI_FORMAT.
func findFormat(args []string, env map[string]string) (string, bool) {
	for i, a := range args {
		if a == "--" {
			break
		}
		if v, ok := strings.CutPrefix(a, "--format="); ok {
			return v, true
		}
		if a == "--format" && i+1 < len(args) {
			return args[i+1], true
		}
	}
	v, ok := env["ASTRO_CI_FORMAT"]
	return strings.TrimSpace(v), ok && strings.TrimSpace(v) != ""
}

// astroClient builds the Astro client from the environment, refusing an
// expired or malformed token before any request.
func (r *runner) astroClient() (*astro.Client, error) {
	tok := r.cfg.APIToken
	switch {
	case !tok.IsZero() && (r.cfg.KeyID != "" || !r.cfg.KeySecret.IsZero()):
		r.rep.Infof("note: ASTRO_API_TOKEN is set, so ASTRONOMER_KEY_ID/ASTRONOMER_KEY_SECRET (deprecated) are ignored")
	case tok.IsZero() && (r.cfg.KeyID != "" || !r.cfg.KeySecret.IsZero()):
		return nil, usagef("only ASTRONOMER_KEY_ID/ASTRONOMER_KEY_SECRET are set: Astro deprecated these keys; create an Organization, Workspace or Deployment API token and set it as ASTRO_API_TOKEN")
	case tok.IsZero():
		return nil, usagef("ASTRO_API_TOKEN is not set: store an Astro API token as a CI secret and expose it to this step as ASTRO_API_TOKEN")
	}
	claims, err := astro.ParseClaims(tok)
	if err != nil {
		return nil, usagef("%s: %v", r.cfg.TokenVar, err)
	}
	if err := claims.CheckExpiry(r.now()); err != nil {
		return nil, usagef("%v", err)
	}
	cfg := astro.Config{
		BaseURL:        r.cfg.APIURL,
		Token:          tok,
		OrganizationID: r.cfg.OrganizationID,
		HTTPClient:     r.httpClient(),
		Sleep:          r.sleep,
	}
	if r.cfg.Debug {
		cfg.Trace = func(method, path string, status int, d time.Duration, err error) {
			if err != nil {
				r.rep.Infof("debug: %s %s -> %v (%s)", method, path, err, d.Round(time.Millisecond))
				return
			}
			r.rep.Infof("debug: %s %s -> %d (%s)", method, path, status, d.Round(time.Millisecond))
		}
	}
	c, err := astro.New(cfg)
	if err != nil {
		return nil, usagef("%v", err)
	}
	return c, nil
}
