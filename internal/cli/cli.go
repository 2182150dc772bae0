// Package cli is astro-ci's command line: it parses commands and flags,
// reads configuration from the environment, wires the Astro client, the
// targets and the reporter, and decides the exit code.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/astro-ci/astro-ci/internal/astro"
	"github.com/astro-ci/astro-ci/internal/report"
	"github.com/astro-ci/astro-ci/internal/secret"
	"github.com/astro-ci/astro-ci/internal/target"
	"github.com/astro-ci/astro-ci/internal/version"
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

// command is one leaf command.
type command struct {
	path    string // "token rotate"
	summary string
	run     func(r *runner, args []string) error
}

var commands = []command{
	{"token check", "report expiry of tokens; exit 1 when one is expired or about to", (*runner).tokenCheck},
	{"token create", "create a token and write its value to targets", (*runner).tokenCreate},
	{"token rotate", "rotate a token (default: ASTRO_API_TOKEN itself) and write the new value to targets", (*runner).tokenRotate},
	{"token update", "change a token's name, description or role", (*runner).tokenUpdate},
	{"token workspace", "add an Organization token to a Workspace, change or remove its role (add|remove)", (*runner).tokenWorkspace},
	{"token delete", "delete a token (refused when recently used) and the secrets that hold it", (*runner).tokenDelete},
	{"token list", "list tokens: scope, roles, expiry, last use; marks those astro-ci manages", (*runner).tokenList},
	{"preview create", "create (or find) the branch's preview Deployment, with its own token", (*runner).previewCreate},
	{"preview delete", "delete the branch's preview Deployment, its tokens and their secrets", (*runner).previewDelete},
	{"run", "act on the CI event: preview create/delete on branch events, rotation on schedules", (*runner).runEvent},
	{"target put", "write a value read from stdin to targets (finishes an interrupted write-back)", (*runner).targetPut},
	{"version", "print the version", (*runner).versionCmd},
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
	defer func() {
		if p := recover(); p != nil {
			rep.Errorf("internal error: %v", p)
			code = ExitFailed
		}
		_ = rep.Close()
	}()
	if cfgErr != nil {
		rep.Errorf("%v", cfgErr)
		return ExitUsage
	}
	r := &runner{m: m, ctx: ctx, env: env, cfg: cfg, rep: rep, stderr: rep.Stderr(), now: m.Now}

	cmd, rest, err := lookup(args)
	if err != nil {
		rep.Errorf("%v", err)
		r.usage()
		return ExitUsage
	}
	if cmd == nil {
		r.usage()
		return ExitOK
	}
	err = cmd.run(r, rest)
	switch {
	case err == nil:
		return ExitOK
	case errors.Is(err, flag.ErrHelp):
		return ExitOK
	case errors.Is(err, errSilentFailure):
		return ExitFailed
	case isUsage(err):
		rep.Errorf("%v", err)
		return ExitUsage
	default:
		rep.Errorf("%v", err)
		return ExitFailed
	}
}

// errSilentFailure: the command already reported why it failed.
var errSilentFailure = errors.New("failed")

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

func findFormat(args []string, env map[string]string) (string, bool) {
	for i, a := range args {
		if v, ok := strings.CutPrefix(a, "--format="); ok {
			return v, true
		}
		if v, ok := strings.CutPrefix(a, "-format="); ok {
			return v, true
		}
		if (a == "--format" || a == "-format") && i+1 < len(args) {
			return args[i+1], true
		}
	}
	v, ok := env["ASTRO_CI_FORMAT"]
	return v, ok && v != ""
}

func lookup(args []string) (*command, []string, error) {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		return nil, nil, nil
	}
	for n := 2; n >= 1; n-- {
		if len(args) < n {
			continue
		}
		path := strings.Join(args[:n], " ")
		for i := range commands {
			if commands[i].path == path {
				return &commands[i], args[n:], nil
			}
		}
	}
	return nil, nil, usagef("unknown command %q", strings.Join(args[:min(2, len(args))], " "))
}

func (r *runner) usage() {
	var b strings.Builder
	b.WriteString("astro-ci: Astro API tokens and preview Deployments from CI, with write-back to GitHub secrets and GitLab variables.\n\nUsage: astro-ci <command> [flags]\n\nCommands:\n")
	for _, c := range commands {
		fmt.Fprintf(&b, "  %-16s %s\n", c.path, c.summary)
	}
	b.WriteString("\nEvery flag can also be set as ASTRO_CI_<FLAG> in the environment. Secrets come only from the environment\n(ASTRO_API_TOKEN, ...) or stdin. Run 'astro-ci <command> -h' for its flags. Exit codes: 0 done, 1 failed, 2 usage.\n")
	fmt.Fprint(r.stderr, b.String())
}

func (r *runner) versionCmd(args []string) error {
	fs := newFlagSet("version", r.env, r.stderr)
	fs.formatFlag()
	if err := fs.parse(args); err != nil {
		return err
	}
	out := struct {
		Version string `json:"version"`
		Commit  string `json:"commit,omitempty"`
		Go      string `json:"go"`
		OS      string `json:"os"`
		Arch    string `json:"arch"`
	}{version.String(), version.Commit, runtime.Version(), runtime.GOOS, runtime.GOARCH}
	return r.rep.Result(out, func(w io.Writer) {
		fmt.Fprintf(w, "astro-ci %s (%s, %s/%s)\n", out.Version, out.Go, out.OS, out.Arch)
	})
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
		HTTPClient:     r.m.HTTPClient,
		Sleep:          r.m.Sleep,
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
