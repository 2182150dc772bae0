package cli

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/astro-ci/astro-ci/internal/report/echo"
)

// The flag value types astro-ci adds to pflag's. Each says its Type (shown in
// help as the value's placeholder) and refuses bad input with a bounded echo
// of it.

// listFlag is a repeatable flag: each --flag adds one value; from the
// environment it takes one value per line (blank lines and # comments
// skipped), see bindEnv.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Type() string   { return "stringArray" }

func (l *listFlag) Set(v string) error {
	*l = append(*l, strings.TrimSpace(v))
	return nil
}

// envLines splits an environment value into list values.
func envLines(v string) []string {
	var out []string
	for _, line := range strings.Split(v, "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			out = append(out, line)
		}
	}
	return out
}

// optionalString records whether a string flag was given at all, so
// "--description ”" clears a description while an absent flag keeps it.
type optionalString struct {
	v   string
	set bool
}

func (o *optionalString) String() string { return o.v }
func (o *optionalString) Type() string   { return "string" }
func (o *optionalString) Set(s string) error {
	o.v, o.set = s, true
	return nil
}

func (o *optionalString) ptr() *string {
	if !o.set {
		return nil
	}
	return &o.v
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
	// 15m, 1h30m, 36h rather than 15m0s, 1h30m0s, 36h0m0s.
	s := d.d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func (d *durationFlag) Type() string { return "duration" }

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
