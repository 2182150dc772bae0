package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/astro-ci/astro-ci/internal/report"
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

func parseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(strings.ToLower(s))
	if s == "" {
		return 0, nil
	}
	unit := time.Duration(0)
	switch {
	case strings.HasSuffix(s, "d"):
		unit = 24 * time.Hour
	case strings.HasSuffix(s, "w"):
		unit = 7 * 24 * time.Hour
	}
	if unit != 0 {
		n, err := strconv.ParseFloat(strings.TrimRight(s[:len(s)-1], " "), 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("%q is not a duration (use e.g. 14d, 2w, 36h, 90m)", s)
		}
		return time.Duration(n * float64(unit)), nil
	}
	if s == "0" {
		return 0, nil
	}
	if _, err := strconv.ParseFloat(s, 64); err == nil {
		return 0, fmt.Errorf("%q needs a unit: d (days), w (weeks), h, m or s — e.g. %sd", s, s)
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%q is not a duration (use e.g. 14d, 2w, 36h, 90m)", s)
	}
	return d, nil
}
