package cli

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/astro-ci/astro-ci/internal/githubstore"
	"github.com/astro-ci/astro-ci/internal/report"
	"github.com/astro-ci/astro-ci/internal/report/echo"
	"github.com/astro-ci/astro-ci/internal/version"
)

// options is a leaf command's flags, filled by cobra and bindEnv.
type options interface {
	// validate refuses bad values and combinations (usage errors) before
	// anything happens; g says which flags were given, and how.
	validate(g given) error
}

// builder makes the command tree of one run.
type builder struct {
	r *runner
	// intercept, when set, gets each leaf's validated options instead of
	// running it: tests map argv and environment to options this way.
	intercept func(c *cobra.Command, o options) error
	global    globalOptions
	// cfgErr is the environment's configuration error, refused by every
	// command (help still works).
	cfgErr error
}

// globalOptions are the persistent flags every command has.
type globalOptions struct {
	format   string
	deadline durationFlag
	// GitHub's budgets (issue 13): administrators of GitHub Enterprise
	// Server set their own, and other jobs may share the credential.
	ghConcurrency, ghPoints int
}

func (g *globalOptions) register(c *cobra.Command) {
	c.PersistentFlags().StringVar(&g.format, "format", "text", "output `format` on stdout: text, or json (one document per docs/schema, also on failure)")
	g.deadline = durationFlag{defaultDeadline}
	c.PersistentFlags().Var(&g.deadline, "deadline", "stop and say what was pending after this long (e.g. 15m, 1h); with preview create --wait, the default covers --timeout")
	c.PersistentFlags().IntVar(&g.ghConcurrency, "github-concurrency", githubstore.MaxConcurrency, "GitHub requests in flight at most (GitHub allows 100 per credential, shared with other jobs)")
	c.PersistentFlags().IntVar(&g.ghPoints, "github-points-per-minute", githubstore.DefaultPointsPerMinute, "GitHub's secondary-limit budget per REST endpoint (GET 1 point, write 5); GHES administrators set their own")
}

func (g *globalOptions) validate(set given) error {
	if _, err := report.ParseFormat(g.format); err != nil {
		return usagef("%s must be text or json, not %s", set.label("format"), echo.Quote(g.format))
	}
	if g.deadline.d <= 0 {
		return usagef("%s must be longer than 0 (e.g. 15m)", set.label("deadline"))
	}
	if g.ghConcurrency < 1 || g.ghConcurrency > githubstore.MaxConcurrency {
		return usagef("%s must be between 1 and %d", set.label("github-concurrency"), githubstore.MaxConcurrency)
	}
	if g.ghPoints < githubstore.MinPointsPerMinute || g.ghPoints > githubstore.MaxPointsPerMinute {
		return usagef("%s must be between %d and %d", set.label("github-points-per-minute"), githubstore.MinPointsPerMinute, githubstore.MaxPointsPerMinute)
	}
	return nil
}

// Command groups of the root's and token's help.
const (
	groupManage = "manage"
	groupCI     = "ci"
	groupInfo   = "info"
	groupLife   = "life"
	groupAdmin  = "admin"
)

// newRoot builds the command tree. It makes no I/O: start-up stays cheap.
func newRoot(b *builder) *cobra.Command {
	root := &cobra.Command{
		Use:   "astro-ci <command> [flags]",
		Short: "Astro API tokens and preview Deployments from CI",
		Long: `astro-ci creates, checks and rotates Astronomer Astro API tokens and writes the new values
back into GitHub Actions secrets, GitLab CI/CD variables or files, with zero downtime; and it
creates and deletes preview Deployments for branches.

Every flag can also be set as ASTRO_CI_<FLAG> in the environment (upper case, "-" as "_"; a
repeatable flag takes one value per line); a flag on the command line wins. Secrets are never
flags: they come from the environment (ASTRO_API_TOKEN, ASTRO_CI_GITHUB_TOKEN,
ASTRO_CI_GITLAB_TOKEN, ...) or stdin.

Exit codes: 0 done (or nothing to do), 1 failed, 2 usage or configuration error.`,
		Example: `  # Rotate the token in ASTRO_API_TOKEN when it expires within 14 days, in a scheduled job
  astro-ci token rotate --if-expires-within 14d --grace 1h

  # What does a command take?
  astro-ci token rotate --help`,
		SilenceErrors:              true,
		SilenceUsage:               true,
		Args:                       subcommandArgs,
		SuggestionsMinimumDistance: 2,
		RunE: func(c *cobra.Command, _ []string) error {
			if v, _ := c.Flags().GetBool("version"); v {
				_, err := fmt.Fprintln(c.OutOrStdout(), versionLine())
				return err
			}
			return c.Help()
		},
		ValidArgsFunction: cobra.NoFileCompletions,
	}
	// --version is a flag of our own, not cobra's Version with a version
	// template: a template makes text/template's reflection reachable,
	// and then the linker must keep every exported method of every type
	// (go-github's and client-go's hundreds of services): 15.2 MiB instead
	// of 10.3 MiB, and a slower start.
	root.Flags().BoolP("version", "v", false, "version for astro-ci")
	root.SetFlagErrorFunc(flagError)
	b.global.register(root)
	values(root, "format", "text", "json")
	root.AddGroup(
		&cobra.Group{ID: groupManage, Title: "Tokens, previews and deploys:"},
		&cobra.Group{ID: groupCI, Title: "In CI:"},
	)
	root.SetHelpCommand(helpCommand())

	token := group("token", "Check, create, rotate and administer Astro API tokens", `Astro API tokens: check their expiry, create them with their value written to targets, rotate
them with zero downtime, and change, re-scope, list or delete them. The flags follow the Astro
CLI's (astro organization|workspace token ...) where both mean the same thing.`)
	token.GroupID = groupManage
	token.AddGroup(
		&cobra.Group{ID: groupInfo, Title: "Inspect:"},
		&cobra.Group{ID: groupLife, Title: "Lifecycle:"},
		&cobra.Group{ID: groupAdmin, Title: "Administer:"},
	)
	ws := group("workspace", "Add an Organization token to a Workspace, change its role there, or remove it", `An Organization token can hold a role in Workspaces besides its Organization role. These
commands grant, change and take away that Workspace role, keeping every other role of the token.`)
	ws.AddCommand(b.tokenWorkspaceCmd("add"), b.tokenWorkspaceCmd("update"), b.tokenWorkspaceCmd("remove"))
	token.AddCommand(slices.Concat(
		inGroup(groupInfo, b.tokenCheckCmd(), b.tokenListCmd()),
		inGroup(groupLife, b.tokenCreateCmd(), b.tokenRotateCmd(), b.tokenDeleteCmd()),
		inGroup(groupAdmin, b.tokenUpdateCmd(), ws),
	)...)

	prev := group("preview", "Create, delete and prune preview Deployments of branches", `A preview is a copy of a base Deployment's configuration for one branch, running the branch's
DAGs (on the base's image), with its own Deployment API token written to targets, found again by
a marker in its description (not by its name).`)
	prev.GroupID = groupManage
	prev.AddCommand(b.previewCmd(true), b.previewCmd(false), b.previewPruneCmd())

	tgt := group("target", "Write values to targets by hand", `Targets are where token values go: GitHub secrets, GitLab variables, files. See
astro-ci target put --help for the address forms.`)
	tgt.GroupID = groupManage
	tgt.AddCommand(b.targetPutCmd())

	dep := b.deployCmd()
	dep.GroupID = groupManage

	run := b.runCmd()
	run.GroupID = groupCI

	root.AddCommand(token, prev, dep, tgt, run, b.versionCmd())
	help := root.HelpFunc()
	root.SetHelpFunc(func(c *cobra.Command, args []string) {
		decorate(c.Root())
		help(c, args)
	})
	return root
}

// values makes the shell complete flag name of c with vals.
func values(c *cobra.Command, name string, vals ...string) {
	_ = c.RegisterFlagCompletionFunc(name, cobra.FixedCompletions(vals, cobra.ShellCompDirectiveNoFileComp))
}

// inGroup puts cmds in the help group id.
func inGroup(id string, cmds ...*cobra.Command) []*cobra.Command {
	for _, c := range cmds {
		c.GroupID = id
	}
	return cmds
}

// group is a command that only has subcommands.
func group(name, short, long string) *cobra.Command {
	return &cobra.Command{
		Use:                        name + " <command>",
		Short:                      short,
		Long:                       long,
		Args:                       subcommandArgs,
		SuggestionsMinimumDistance: 2,
		ValidArgsFunction:          cobra.NoFileCompletions,
		RunE: func(c *cobra.Command, _ []string) error {
			var names []string
			for _, s := range c.Commands() {
				if s.IsAvailableCommand() {
					names = append(names, s.Name())
				}
			}
			return usagef("%s needs a command: %s (see %s --help)", c.CommandPath(), strings.Join(names, ", "), c.CommandPath())
		},
	}
}

// subcommandArgs refuses an unknown command, suggesting the one probably
// meant.
func subcommandArgs(c *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	msg := fmt.Sprintf("unknown command %s for %s", echo.Quote(args[0]), c.CommandPath())
	if s := c.SuggestionsFor(args[0]); len(s) > 0 {
		msg += fmt.Sprintf(" (did you mean %s?)", strings.Join(s, " or "))
	}
	return usagef("%s; see %s --help", msg, c.CommandPath())
}

// noArgs: leaf commands take flags only.
func noArgs(c *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usagef("%s: unexpected argument %s (values with spaces need quotes; every input is a flag)", c.CommandPath(), echo.Quote(args[0]))
	}
	return nil
}

// helpCommand is "astro-ci help [command]", which refuses unknown topics
// (cobra's prints the root's help and exits 0).
func helpCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "help [command]",
		Short: "Help about any command",
		Long:  "Help shows the help of any command: astro-ci help token rotate is astro-ci token rotate --help.",
		ValidArgsFunction: func(c *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
			cmd, _, err := c.Root().Find(args)
			if err != nil || cmd == nil {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			var out []cobra.Completion
			for _, s := range cmd.Commands() {
				if s.IsAvailableCommand() && strings.HasPrefix(s.Name(), toComplete) {
					out = append(out, cobra.CompletionWithDesc(s.Name(), s.Short))
				}
			}
			return out, cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(c *cobra.Command, args []string) error {
			cmd, rest, err := c.Root().Find(args)
			if err != nil {
				return usageError{err}
			}
			if len(rest) > 0 {
				return subcommandArgs(cmd, rest)
			}
			return cmd.Help()
		},
	}
}

// leaf wires a command that does something: it takes no arguments; its
// flags come from the command line, then the environment; o.validate
// refuses bad input; then run runs with the run's deadline.
func (b *builder) leaf(c *cobra.Command, o options, run func() error) *cobra.Command {
	if c.Annotations == nil {
		c.Annotations = map[string]string{}
	}
	c.Annotations[annBound] = "yes"
	c.Args = noArgs
	c.ValidArgsFunction = cobra.NoFileCompletions
	c.RunE = func(c *cobra.Command, _ []string) error {
		if b.cfgErr != nil {
			return usageError{b.cfgErr}
		}
		set, err := bindEnv(c, b.r.env)
		if err != nil {
			return err
		}
		if err := b.global.validate(set); err != nil {
			return err
		}
		if err := o.validate(set); err != nil {
			return err
		}
		deadline, err := b.deadline(set, o)
		if err != nil {
			return err
		}
		if b.intercept != nil {
			return b.intercept(c, o)
		}
		ctx, cancel := context.WithTimeoutCause(b.r.ctx, deadline, deadlineCause{deadline})
		defer cancel()
		b.r.ctx, b.r.path = ctx, strings.TrimPrefix(c.CommandPath(), c.Root().Name()+" ")
		return b.r.stopped(ctx, run())
	}
	return c
}

// longRunning is an options that needs at least some time (preview create
// --wait needs its --timeout).
type longRunning interface {
	needs() (d time.Duration, flag string)
}

// deadline is --deadline, or, when it was not given and the command needs
// longer (a --wait with its --timeout), that plus 5 minutes.
func (b *builder) deadline(set given, o options) (time.Duration, error) {
	d := b.global.deadline.d
	lr, ok := o.(longRunning)
	if !ok {
		return d, nil
	}
	need, flag := lr.needs()
	switch {
	case need <= 0 || need < d:
		return d, nil
	case set.has("deadline"):
		return 0, usagef("%s %s is shorter than %s %s: the command would be stopped while it waits; raise %s", set.label("deadline"), b.global.deadline.String(),
			set.label(flag), (&durationFlag{need}).String(), set.label("deadline"))
	}
	return need + 5*time.Minute, nil
}

func (b *builder) versionCmd() *cobra.Command {
	return b.leaf(&cobra.Command{
		Use:   "version",
		Short: "Print the version and the commit it was built from",
		Long:  "Version prints astro-ci's version, the commit it was built from, the Go version and the platform.",
		Example: `  astro-ci version
  astro-ci version --format json`,
	}, noOptions{}, b.r.versionCmd)
}

// noOptions is a command without flags of its own.
type noOptions struct{}

func (noOptions) validate(given) error { return nil }

func versionLine() string {
	return fmt.Sprintf("astro-ci %s (commit %s, %s, %s/%s)", version.String(), version.Revision(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

func (r *runner) versionCmd() error {
	out := struct {
		Version string `json:"version"`
		Commit  string `json:"commit"`
		Go      string `json:"go"`
		OS      string `json:"os"`
		Arch    string `json:"arch"`
	}{version.String(), version.Revision(), runtime.Version(), runtime.GOOS, runtime.GOARCH}
	return r.rep.Result(out, func(w io.Writer) {
		fmt.Fprintln(w, versionLine())
	})
}
