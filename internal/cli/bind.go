package cli

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/astro-ci/astro-ci/internal/report/echo"
)

// Every flag of every command can also come from the environment, which is
// how the GitHub Action and the GitLab components pass inputs without
// building command lines. One mechanism does it for all flags:
//
//   - A flag's environment names are ASTRO_CI_<FLAG> (upper case, "-" as
//     "_"), then ASTRO_CI_<ALIAS> for each alias, then any extra names in
//     its annEnv annotation (ASTRO_CI_TARGETS for --target).
//   - bindEnv runs after cobra parsed the command line: a flag given there
//     wins; otherwise the first of its names that is set (and not blank)
//     sets it. A repeatable flag (listFlag) takes one value per line.
//   - decorate appends the names to each flag's help ("(env ...)"), installs
//     the aliases, and knownEnv lists every name for the unknown-variable
//     warning.
//
// To add a flag: declare it on the command's Flags() with pflag as usual.
// That is all: it is bound from ASTRO_CI_<FLAG>, documented, completed and
// known. Use alias(), envAlso() or the annotations below only for more names.

const (
	// annEnv: extra environment names of a flag, after ASTRO_CI_<FLAG>.
	annEnv = "astro-ci.env"
	// annAlias: other long names of a flag (the Astro CLI's spelling).
	annAlias = "astro-ci.alias"
	// annNoEnv: a flag without environment names (--help, --version).
	annNoEnv = "astro-ci.noenv"
)

// envName is the environment variable of a flag name.
func envName(flagName string) string {
	return "ASTRO_CI_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// envNames lists the environment variables of f, in the order they count.
func envNames(f *pflag.Flag) []string {
	if f.Name == "help" || f.Name == "version" || f.Annotations[annNoEnv] != nil {
		return nil
	}
	names := []string{envName(f.Name)}
	for _, a := range f.Annotations[annAlias] {
		names = append(names, envName(a))
	}
	return append(names, f.Annotations[annEnv]...)
}

func annotate(f *pflag.Flag, key string, vals ...string) {
	if f.Annotations == nil {
		f.Annotations = map[string][]string{}
	}
	f.Annotations[key] = append(f.Annotations[key], vals...)
}

// envAlso gives the flag name of cmd more environment names.
func envAlso(cmd *cobra.Command, name string, envs ...string) {
	annotate(mustFlag(cmd, name), annEnv, envs...)
}

// alias lets the flag name of cmd be spelled as each of aliases too (on the
// command line and as ASTRO_CI_<ALIAS>).
func alias(cmd *cobra.Command, name string, aliases ...string) {
	annotate(mustFlag(cmd, name), annAlias, aliases...)
	if cmd.Annotations == nil {
		cmd.Annotations = map[string]string{}
	}
	for _, a := range aliases {
		cmd.Annotations[annAlias+"."+a] = name
	}
	cmd.Flags().SetNormalizeFunc(func(_ *pflag.FlagSet, n string) pflag.NormalizedName {
		if to, ok := cmd.Annotations[annAlias+"."+n]; ok {
			return pflag.NormalizedName(to)
		}
		return pflag.NormalizedName(n)
	})
}

func mustFlag(cmd *cobra.Command, name string) *pflag.Flag {
	f := cmd.Flags().Lookup(name)
	if f == nil {
		panic("astro-ci: no flag --" + name + " on " + cmd.CommandPath())
	}
	return f
}

// decorate writes into every flag's help its environment variables and
// aliases. Only help and the docs need it, so it runs when they do (see
// newRoot), keeping start-up cheap; it is idempotent.
func decorate(root *cobra.Command) {
	if root.Annotations[annDecorated] != "" {
		return
	}
	if root.Annotations == nil {
		root.Annotations = map[string]string{}
	}
	root.Annotations[annDecorated] = "yes"
	seen := map[*pflag.Flag]bool{}
	each := func(f *pflag.Flag) {
		if seen[f] || f.Hidden {
			return
		}
		seen[f] = true
		var notes []string
		if as := f.Annotations[annAlias]; len(as) > 0 {
			notes = append(notes, "alias --"+strings.Join(as, ", --"))
		}
		if envs := envNames(f); len(envs) > 0 {
			e := "env " + strings.Join(envs, " or ")
			if _, ok := f.Value.(*listFlag); ok {
				e += ", one per line"
			}
			notes = append(notes, e)
		}
		if len(notes) > 0 {
			f.Usage += " (" + strings.Join(notes, "; ") + ")"
		}
	}
	root.PersistentFlags().VisitAll(each)
	for _, c := range boundCommands(root) {
		c.Flags().VisitAll(each)
	}
}

const (
	annDecorated = "astro-ci.decorated"
	// annBound marks the commands whose flags bindEnv binds (builder.leaf).
	annBound = "astro-ci.bound"
)

// boundCommands lists the commands whose flags come from the environment
// too: astro-ci's own leaves, not cobra's completion commands.
func boundCommands(root *cobra.Command) []*cobra.Command {
	var out []*cobra.Command
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Annotations[annBound] != "" {
			out = append(out, c)
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	return out
}

// source says where a flag's value came from.
type source struct {
	from       string // "--grace" or "ASTRO_CI_GRACE"
	nonDefault bool   // its value differs from the default
}

// given records, per flag name, where the value of each flag that was set
// came from. A flag counts as given when it was set, on the command line
// or in the environment, to something other than its default: that is
// asking for something, and a command that would ignore it refuses instead.
type given map[string]source

func (g given) has(name string) bool { return g[name].nonDefault }

// label names the flag the way the user set it: --grace, or ASTRO_CI_GRACE
// when it came from the environment.
func (g given) label(name string) string {
	if s, ok := g[name]; ok {
		return s.from
	}
	return "--" + name
}

// bindEnv sets every flag of c that the command line left alone from its
// environment names, and says where each value came from.
func bindEnv(c *cobra.Command, env map[string]string) (given, error) {
	g := given{}
	var errs []error
	c.Flags().VisitAll(func(f *pflag.Flag) {
		if f.Changed {
			g[f.Name] = source{from: "--" + f.Name}
			return
		}
		var from []string
		for _, name := range envNames(f) {
			if v, ok := env[name]; ok && strings.TrimSpace(v) != "" {
				from = append(from, name)
			}
		}
		switch len(from) {
		case 0:
			return
		case 1:
		default:
			errs = append(errs, usagef("%s are all set for --%s: set one", strings.Join(from, " and "), f.Name))
			return
		}
		name, v := from[0], env[from[0]]
		vals := []string{strings.TrimSpace(v)}
		if _, ok := f.Value.(*listFlag); ok {
			vals = envLines(v)
		}
		for _, x := range vals {
			if err := f.Value.Set(x); err != nil {
				errs = append(errs, usageError{valueError(name, f, x, err)})
				return
			}
		}
		f.Changed = true
		g[f.Name] = source{from: name}
	})
	for name, s := range g {
		f := c.Flags().Lookup(name)
		s.nonDefault = f.Value.String() != f.DefValue
		g[name] = s
		vals := []string{f.Value.String()}
		if l, ok := f.Value.(*listFlag); ok {
			vals = *l
		}
		for _, v := range vals {
			if len(v) > maxValue {
				errs = append(errs, usagef("%s: a value of %d bytes (%s); astro-ci takes at most %d", s.from, len(v), echo.Quote(v), maxValue))
			}
		}
	}
	return g, errors.Join(errs...)
}

// maxValue bounds every flag value: no address, name, id or duration is
// anywhere near it, and a huge value must not travel into requests and
// messages.
const maxValue = 4096

// valueError explains a value a flag refused, echoing it bounded. pflag's
// own types fail with strconv errors that repeat the whole value.
func valueError(label string, f *pflag.Flag, v string, err error) error {
	var ne *strconv.NumError
	if errors.As(err, &ne) {
		return fmt.Errorf("%s: %s is not a valid %s", label, echo.Quote(v), f.Value.Type())
	}
	return fmt.Errorf("%s: %w", label, err)
}

// flagError turns pflag's parse errors into usage errors that echo input
// bounded and suggest the flag that was probably meant.
func flagError(c *cobra.Command, err error) error {
	var (
		ne *pflag.NotExistError
		ie *pflag.InvalidValueError
		se *pflag.InvalidSyntaxError
	)
	switch {
	case errors.As(err, &ne):
		name := ne.GetSpecifiedName()
		if sh := ne.GetSpecifiedShortnames(); sh != "" {
			return usagef("%s: unknown shorthand flag -%s in %s", c.CommandPath(), echo.Quote(name)[1:2], echo.Quote("-"+sh))
		}
		var names []string
		c.Flags().VisitAll(func(f *pflag.Flag) {
			if !f.Hidden {
				names = append(names, f.Name)
			}
		})
		msg := fmt.Sprintf("%s: unknown flag --%s", c.CommandPath(), strings.Trim(echo.Quote(name), `"`))
		if s, ok := nearest(name, names); ok {
			msg += fmt.Sprintf(" (did you mean --%s?)", s)
		}
		return usagef("%s; see %s --help", msg, c.CommandPath())
	case errors.As(err, &ie):
		return usageError{valueError("--"+ie.GetFlag().Name, ie.GetFlag(), ie.GetValue(), errors.Unwrap(ie))}
	case errors.As(err, &se):
		return usagef("%s: bad flag syntax %s", c.CommandPath(), echo.Quote(se.GetSpecifiedFlag()))
	}
	return usageError{fmt.Errorf("%s: %w", c.CommandPath(), err)}
}

// knownEnv lists every ASTRO_CI_* name astro-ci reads: the environment names
// of every flag of every command, and the configuration (Config's env tags).
func knownEnv(root *cobra.Command) []string {
	set := map[string]bool{}
	add := func(f *pflag.Flag) {
		for _, n := range envNames(f) {
			set[n] = true
		}
	}
	root.PersistentFlags().VisitAll(add)
	for _, c := range boundCommands(root) {
		c.Flags().VisitAll(add)
	}
	for _, n := range installerEnv {
		set[n] = true
	}
	t := reflect.TypeFor[Config]()
	for i := range t.NumField() {
		if n := t.Field(i).Tag.Get("env"); strings.HasPrefix(n, "ASTRO_CI_") {
			set[n] = true
		}
	}
	out := make([]string, 0, len(set))
	for n := range set {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// installerEnv are ASTRO_CI_* variables that the GitHub Action's install
// script reads (scripts/action/install.sh): set in a job's environment,
// astro-ci sees them too, and they are no typo.
var installerEnv = []string{"ASTRO_CI_RELEASE_BASE_URL", "ASTRO_CI_RELEASE_REPOSITORY"}

// unknownEnv returns a warning for each ASTRO_CI_* variable astro-ci does not
// read (a typo falls back to the default silently otherwise), naming the
// nearest known name.
func unknownEnv(root *cobra.Command, env map[string]string) []string {
	var known []string
	var unknown []string
	for k := range env {
		if !strings.HasPrefix(k, "ASTRO_CI_") {
			continue
		}
		if known == nil {
			known = knownEnv(root)
		}
		if _, found := slices.BinarySearch(known, k); !found {
			unknown = append(unknown, k)
		}
	}
	sort.Strings(unknown)
	const most = 10
	var out []string
	for i, k := range unknown {
		if i == most {
			out = append(out, fmt.Sprintf("and %d more unknown ASTRO_CI_* variables", len(unknown)-most))
			break
		}
		msg := fmt.Sprintf("%s is not a setting of astro-ci and is ignored", strings.Trim(echo.Quote(k), `"`))
		if s, ok := nearest(k, known); ok {
			msg += fmt.Sprintf("; did you mean %s?", s)
		} else if len(known) > 0 {
			msg += fmt.Sprintf("; the nearest known name is %s (every flag --x-y is ASTRO_CI_X_Y; see astro-ci --help)", nearestAny(k, known))
		}
		out = append(out, msg)
	}
	return out
}

// nearest is the candidate closest to s in edit distance, if it is close
// enough to be a plausible typo (at most a third of s's length, at least 2).
func nearest(s string, candidates []string) (string, bool) {
	best := nearestAny(s, candidates)
	if best == "" {
		return "", false
	}
	return best, levenshtein(s, best) <= max(2, len(s)/3) || strings.HasPrefix(best, s)
}

func nearestAny(s string, candidates []string) string {
	best, bestD := "", -1
	for _, c := range candidates {
		if d := levenshtein(s, c); bestD < 0 || d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// levenshtein is the edit distance of a and b (bytes; names are ASCII). A
// hostile name is cut first: distances of huge strings say nothing more.
func levenshtein(a, b string) int {
	a, b = a[:min(len(a), 128)], b[:min(len(b), 128)]
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
