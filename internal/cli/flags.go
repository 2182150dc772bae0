package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/astro-ci/astro-ci/internal/report"
	"github.com/astro-ci/astro-ci/internal/report/echo"
)

// flagSet is a flag.FlagSet whose every flag can also come from the
// environment as ASTRO_CI_<FLAG> (upper case, - as _), which is how the
// GitHub Action and GitLab component pass inputs without building command
// lines. A flag on the command line wins over the environment.
type flagSet struct {
	*flag.FlagSet
	env     map[string]string
	aliases map[string][]string // extra env names per flag
}

func newFlagSet(name string, env map[string]string, stderr io.Writer) *flagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return &flagSet{FlagSet: fs, env: env, aliases: map[string][]string{}}
}

func envName(flagName string) string {
	return "ASTRO_CI_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// alsoFromEnv names another environment variable for a flag.
func (f *flagSet) alsoFromEnv(flagName string, names ...string) {
	f.aliases[flagName] = append(f.aliases[flagName], names...)
}

// errUsage marks errors that are the user's to fix (exit code 2).
type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }
func (u usageError) Unwrap() error { return u.err }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

func isUsage(err error) bool {
	var u usageError
	return errors.As(err, &u) || errors.Is(err, flag.ErrHelp)
}

func (f *flagSet) parse(args []string) error {
	if err := f.FlagSet.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if f.NArg() > 0 {
		return usagef("%s: unexpected argument %q (flags go after the command; values with spaces need quotes)", f.Name(), f.Arg(0))
	}
	set := map[string]bool{}
	f.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	var errs []error
	f.VisitAll(func(fl *flag.Flag) {
		if set[fl.Name] {
			return
		}
		for _, name := range append([]string{envName(fl.Name)}, f.aliases[fl.Name]...) {
			v, ok := f.env[name]
			if !ok || strings.TrimSpace(v) == "" {
				continue
			}
			if err := fl.Value.Set(strings.TrimSpace(v)); err != nil {
				errs = append(errs, usagef("%s: %v", name, err))
			}
		}
	})
	if fl := f.Lookup("format"); fl != nil {
		if _, err := report.ParseFormat(fl.Value.String()); err != nil {
			errs = append(errs, usageError{err})
		}
	}
	return errors.Join(errs...)
}

// formatFlag declares --format (read early by Run, validated by parse).
func (f *flagSet) formatFlag() {
	f.String("format", "text", "output on stdout: text or json")
}

// listFlag is a repeatable flag; from the environment it takes one value per line.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(v string) error {
	for _, line := range strings.Split(v, "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			*l = append(*l, line)
		}
	}
	return nil
}

// durationFlag takes Go durations (36h, 90m) and days and weeks (14d, 2w).
// A bare number other than 0 is refused: is 30 days or seconds?
type durationFlag struct{ d time.Duration }

func (d *durationFlag) String() string {
	if d == nil || d.d == 0 {
		return "0"
	}
	if d.d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d.d/(24*time.Hour))
	}
	return d.d.String()
}

func (d *durationFlag) Set(s string) error {
	v, err := parseDuration(s)
	if err != nil {
		return err
	}
	d.d = v
	return nil
}

// maxDuration is Astro's longest token lifetime (3650 days): no duration
// astro-ci takes means anything beyond it.
const maxDuration = 3650 * 24 * time.Hour

// daysRE is a number of days or weeks: digits, optionally a fraction. No
// sign, exponent, hex, underscores, Inf or NaN (which strconv.ParseFloat
// would all accept, and which used to turn into 0 or a wrapped value).
var daysRE = regexp.MustCompile(`^([0-9]{1,7})(\.[0-9]{1,9})?([dw])$`)

// parseDuration reads a duration between 0 and maxDuration; anything else
// (negative, NaN, Inf, overflowing, beyond 3650 days) is an error, so that a
// typo can never become "now" or "always".
func parseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(strings.ToLower(s))
	if s == "" || s == "0" {
		return 0, nil
	}
	bad := func() error {
		return fmt.Errorf("%s is not a duration (use e.g. 14d, 2w, 36h, 90m; at most 3650d)", echo.Quote(s))
	}
	var d time.Duration
	if m := daysRE.FindStringSubmatch(s); m != nil {
		unit := 24 * time.Hour
		if m[3] == "w" {
			unit *= 7
		}
		whole, _ := strconv.ParseInt(m[1], 10, 64) // at most 7 digits: cannot fail or overflow
		if whole > int64(maxDuration/unit) {
			return 0, tooLong(s)
		}
		d = time.Duration(whole) * unit
		if frac := m[2]; frac != "" {
			// Exact decimal arithmetic: 9 fraction digits of a unit in ns.
			digits := frac[1:] + strings.Repeat("0", 10-len(frac))
			n, _ := strconv.ParseInt(digits, 10, 64)
			d += time.Duration(n) * (unit / 1e9) // unit/1e9 is exact: 86400 ns, 604800 ns
		}
	} else {
		if _, err := strconv.ParseFloat(s, 64); err == nil && strings.Trim(s, "0123456789.") == "" {
			example := "14d"
			if len(s) <= 8 {
				example = s + "d"
			}
			return 0, fmt.Errorf("%s needs a unit: d (days), w (weeks), h, m or s, e.g. %s", echo.Quote(s), example)
		}
		if strings.ContainsAny(s, "+-") || strings.Contains(s, "inf") || strings.Contains(s, "nan") {
			return 0, bad()
		}
		v, err := time.ParseDuration(s)
		if err != nil {
			if strings.Contains(err.Error(), "invalid duration") {
				return 0, bad()
			}
			return 0, tooLong(s) // time: overflow
		}
		d = v
	}
	if d > maxDuration {
		return 0, tooLong(s)
	}
	return d, nil
}

func tooLong(s string) error {
	return fmt.Errorf("%s is longer than 3650 days, Astro's longest token lifetime", echo.Quote(s))
}
