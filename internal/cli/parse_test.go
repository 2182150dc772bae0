package cli

import (
	"bytes"
	"context"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/astro-ci/astro-ci/internal/report"
)

// parse maps argv and an environment to the options of the command they
// name, running nothing (no request, no file).
func parse(t *testing.T, env map[string]string, args ...string) (options, error) {
	t.Helper()
	var out bytes.Buffer
	r := &runner{ctx: context.Background(), env: env, cfg: &Config{}, rep: report.New(report.Options{Stdout: &out, Stderr: &out}), now: time.Now}
	var got options
	b := &builder{r: r, intercept: func(_ *cobra.Command, o options) error { got = o; return nil }}
	root := newRoot(b)
	root.SetArgs(args)
	root.SetOut(&out)
	root.SetErr(&out)
	_, err := root.ExecuteC()
	return got, err
}

func mustParse(t *testing.T, env map[string]string, args ...string) options {
	t.Helper()
	o, err := parse(t, env, args...)
	if err != nil {
		t.Fatalf("%v: %v", args, err)
	}
	if o == nil {
		t.Fatalf("%v: no command ran", args)
	}
	return o
}

func TestFlagsAndEnvironmentToOptions(t *testing.T) {
	t.Parallel()
	day := 24 * time.Hour
	// Environment only.
	o := mustParse(t, map[string]string{
		"ASTRO_CI_IF_EXPIRES_WITHIN": "14d", "ASTRO_CI_GRACE": " 1h ", "ASTRO_CI_DRY_RUN": "true",
		"ASTRO_CI_TARGETS": "file:///a\n\n# comment\n  file:///b  \n", "ASTRO_CI_TOKEN_NAME": "bot",
	}, "token", "rotate").(*rotateOptions)
	if o.within.d != 14*day || o.grace.d != time.Hour || !o.dryRun || o.tokenName != "bot" || !reflect.DeepEqual([]string(o.targets), []string{"file:///a", "file:///b"}) {
		t.Fatalf("%+v", o)
	}
	// The command line wins, a repeatable flag too (its values replace the environment's).
	o = mustParse(t, map[string]string{"ASTRO_CI_GRACE": "1h", "ASTRO_CI_TARGETS": "file:///a"},
		"token", "rotate", "--grace", "2h", "--target", "file:///c", "-t", "other").(*rotateOptions)
	if o.grace.d != 2*time.Hour || !reflect.DeepEqual([]string(o.targets), []string{"file:///c"}) || o.tokenName != "other" {
		t.Fatalf("%+v", o)
	}
	// Two names of one flag at once is a mistake, not a merge.
	if _, err := parse(t, map[string]string{"ASTRO_CI_TARGET": "file:///a", "ASTRO_CI_TARGETS": "file:///b"}, "token", "rotate"); err == nil || !isUsage(err) {
		t.Fatalf("%v", err)
	}
	// pflag's own types from the environment: refused with the name, value bounded.
	_, err := parse(t, map[string]string{"ASTRO_CI_ALL": strings.Repeat("y", 1<<20)}, "token", "check")
	if err == nil || !isUsage(err) || !strings.Contains(err.Error(), "ASTRO_CI_ALL") || len(err.Error()) > 1024 {
		t.Fatalf("%.300v", err)
	}
	// Global flags.
	if _, err := parse(t, map[string]string{"ASTRO_CI_DEADLINE": "0"}, "token", "check"); err == nil || !strings.Contains(err.Error(), "ASTRO_CI_DEADLINE must be longer than 0") {
		t.Fatal(err)
	}
	if _, err := parse(t, nil, "token", "check", "--deadline", "3651d"); err == nil || !isUsage(err) {
		t.Fatal(err)
	}
}

// Where astro-ci and the Astro CLI's token commands mean the same thing, the
// Astro CLI's spelling works too.
func TestAstroCLISpellings(t *testing.T) {
	t.Parallel()
	c := mustParse(t, nil, "token", "create", "-n", "bot", "--scope", "workspace", "--entity-id", "w", "-r", "WORKSPACE_MEMBER", "--expiration", "30", "-d", "ships", "--target", "file:///x").(*createOptions)
	if c.name != "bot" || c.role != "WORKSPACE_MEMBER" || c.expiry != 30 || c.desc != "ships" {
		t.Fatalf("%+v", c)
	}
	c = mustParse(t, map[string]string{"ASTRO_CI_EXPIRATION": "7"}, "token", "create", "-n", "bot", "--scope", "ORGANIZATION", "-r", "ORGANIZATION_MEMBER", "-e", "9").(*createOptions)
	if c.expiry != 9 {
		t.Fatalf("-e wins over the environment: %+v", c)
	}
	c = mustParse(t, map[string]string{"ASTRO_CI_EXPIRATION": "7"}, "token", "create", "-n", "bot", "--scope", "ORGANIZATION", "-r", "ORGANIZATION_MEMBER").(*createOptions)
	if c.expiry != 7 {
		t.Fatalf("ASTRO_CI_EXPIRATION: %+v", c)
	}
	u := mustParse(t, nil, "token", "update", "-t", "bot", "-n", "deployer", "-r", "WORKSPACE_OPERATOR").(*updateOptions)
	if u.ref.name != "bot" || u.newName.v != "deployer" || u.role.v != "WORKSPACE_OPERATOR" {
		t.Fatalf("%+v", u)
	}
	for _, op := range []string{"add", "update"} {
		w := mustParse(t, nil, "token", "workspace", op, "--org-token-name", "ci-bot", "--workspace-id", "w", "-r", "WORKSPACE_AUTHOR").(*workspaceOptions)
		if w.ref.name != "ci-bot" || w.role != "WORKSPACE_AUTHOR" || w.op != op {
			t.Fatalf("%+v", w)
		}
		w = mustParse(t, nil, "token", "workspace", op, "-n", "ci-bot", "--workspace-id", "w", "--role", "WORKSPACE_AUTHOR").(*workspaceOptions)
		if w.ref.name != "ci-bot" {
			t.Fatalf("%+v", w)
		}
	}
	// update's bare --name: which was meant? Refused, saying both.
	_, err := parse(t, nil, "token", "update", "--name", "bot", "--description", "x")
	if err == nil || !isUsage(err) || !strings.Contains(err.Error(), "--token-name bot") || !strings.Contains(err.Error(), "--new-name bot") {
		t.Fatal(err)
	}
	if _, err := parse(t, map[string]string{"ASTRO_CI_NAME": "bot"}, "token", "update", "--token-id", "x", "--description", "y"); err == nil || !strings.Contains(err.Error(), "ASTRO_CI_NAME is ambiguous") {
		t.Fatal(err)
	}
}

// A --wait needs its --timeout: without an explicit --deadline the deadline
// grows to cover it; an explicit shorter one is refused.
func TestDeadlineCoversWait(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	b := &builder{r: &runner{rep: report.New(report.Options{Stdout: &out, Stderr: &out})}, global: globalOptions{deadline: durationFlag{defaultDeadline}}}
	p := &previewOptions{create: true, wait: true, timeout: durationFlag{20 * time.Minute}}
	if d, err := b.deadline(given{}, p); err != nil || d != 25*time.Minute {
		t.Fatal(d, err)
	}
	p.wait = false
	if d, err := b.deadline(given{}, p); err != nil || d != defaultDeadline {
		t.Fatal(d, err)
	}
	p.wait = true
	b.global.deadline.d = 10 * time.Minute
	if _, err := b.deadline(given{"deadline": {from: "ASTRO_CI_DEADLINE", nonDefault: true}}, p); err == nil || !strings.Contains(err.Error(), "ASTRO_CI_DEADLINE 10m is shorter than --timeout 20m") {
		t.Fatal(err)
	}
}

func TestEveryFlagHasItsEnvironmentName(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	root := newRoot(&builder{r: &runner{rep: report.New(report.Options{Stdout: &out, Stderr: &out})}})
	decorate(root)
	known := knownEnv(root)
	for _, c := range allCommands(root) {
		c.Flags().VisitAll(func(f *pflag.Flag) {
			if f.Name == "help" || f.Name == "version" || f.Hidden {
				return
			}
			if !strings.Contains(f.Usage, "env "+envName(f.Name)) {
				t.Errorf("%s --%s: help lacks its env name: %q", c.CommandPath(), f.Name, f.Usage)
			}
			if !slices.Contains(known, envName(f.Name)) {
				t.Errorf("%s --%s: %s not known", c.CommandPath(), f.Name, envName(f.Name))
			}
		})
	}
}

// allCommands lists root and every command under it, hidden ones aside.
func allCommands(root *cobra.Command) []*cobra.Command {
	out := []*cobra.Command{root}
	for _, c := range root.Commands() {
		if !c.Hidden {
			out = append(out, allCommands(c)...)
		}
	}
	return out
}
