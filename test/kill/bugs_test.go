package kill

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// Product bugs the harnesses found, each fixed and pinned here by the
// smallest run that showed it.

// interrupted runs j up to at (held before) and SIGTERMs it.
func interrupted(t *testing.T, w *world, j *job, at Step) *proc {
	t.Helper()
	p, stopped := stopAt(t, w, j, killPoint{at, Before}, true)
	if !stopped {
		t.Fatalf("did not stop after SIGTERM")
	}
	return p
}

// TestCreateRerunInTheSameSecondRemovesTheAbandonedToken: a token create
// cancelled while writing its targets marks its token abandoned; a rerun
// creates another, writes every target and commits it, and must delete the
// abandoned one, which no target holds any more. Create markers carry no
// generation, so the two are ordered by createdAt (whole seconds), then by
// id: in a rerun within the same second whose id sorts first, the
// abandoned token counts as newer. The test pins that the rerun deletes it
// all the same (it once kept it: an orphan no run deleted, later creates
// stopping at "already exists"). Every attempt must converge; the ids are
// random, so the test repeats until it has seen that order too.
func TestCreateRerunInTheSameSecondRemovesTheAbandonedToken(t *testing.T) {
	t.Parallel()
	for attempt := 1; attempt <= 24; attempt++ {
		w := newWorld(t)
		j := setupCreate(w)
		interrupted(t, w, j, Step{"github PUT /repos/{}/{}/actions/secrets/{}", 2})
		before := j.lineage()
		if len(before) != 1 {
			t.Fatalf("%d tokens after the cancelled create, want its one abandoned token", len(before))
		}
		abandoned := before[0]
		// The fakes' clock does not move: the same second.
		if _, ok := rerun(t, w, j, 0, runLimit, false); !ok {
			t.FailNow()
		}
		var rerunID string
		for _, tk := range j.lineage() {
			if tk.ID != abandoned.ID {
				rerunID = tk.ID
			}
		}
		report(t, fmt.Sprintf("attempt %d, after the rerun", attempt), j.converged(w))
		if rerunID == "" {
			t.Fatalf("attempt %d: the rerun left no token of its own (the abandoned %s: %d live tokens)", attempt, abandoned.ID, len(j.lineage()))
		}
		if rerunID > abandoned.ID {
			continue // the order the abandoned token sorts first in; try again
		}
		t.Logf("attempt %d: the rerun's token %s sorts before the abandoned %s", attempt, rerunID, abandoned.ID)
		return
	}
	t.Skip("24 reruns never drew the id order this test needs")
}

// TestCreateSkipExistingIsAFlag: token create refuses a name that exists and
// says "to leave it as it is, pass --skip-existing" — the way a CI job
// makes its create idempotent (a rerun after a create that committed and was
// then killed). The test pins that the advice works: --skip-existing is a
// flag of token create (it once was not, and the advice failed with a usage
// error), and the create it makes exits 0 and leaves the one token.
func TestCreateSkipExistingIsAFlag(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	j := setupCreate(w)
	if p := w.run(j.args, j.env); func() bool { in, _ := p.waitFor(runLimit, termGrace); return !in || p.code != 0 }() {
		t.Fatalf("the first create failed:\n%s", p.output())
	}
	again := w.run(j.args, j.env)
	again.waitFor(runLimit, termGrace)
	if again.code != 1 || !strings.Contains(again.stderr.String(), "--skip-existing") {
		t.Fatalf("the second create should refuse and name --skip-existing (exit %d):\n%s", again.code, again.output())
	}
	keep := w.run(append(slices.Clone(j.args), "--skip-existing"), j.env)
	keep.waitFor(runLimit, termGrace)
	if keep.code != 0 {
		t.Errorf("token create --skip-existing, as the refusal advises: exit %d:\n%s", keep.code, keep.output())
	}
	report(t, "after the three creates", j.converged(w))
}

// TestPreflightCanaryIsRemoved: a run stopped between writing a preflight
// canary (ASTRO_CI_PREFLIGHT_…: in place rotation and token create prove a
// forge writable by writing one and deleting it) and deleting it must not
// leave the canary for good (it once stayed in the repository's or
// project's secrets, each run adding one). Killed, the run cannot help it:
// the test requires that the kill did leave one, and that the rerun, which
// proves the same place writable, sweeps it. Cancelled by SIGTERM, the run
// deletes it in its cleanup time.
func TestPreflightCanaryIsRemoved(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		at   Step
		term bool
	}{
		{"GitHub/killed", Step{"github DELETE /repos/{}/{}/actions/secrets/{}", 1}, false},
		{"GitLab/killed", Step{"gitlab DELETE /projects/{}/variables/{}", 1}, false},
		{"GitHub/SIGTERM", Step{"github DELETE /repos/{}/{}/actions/secrets/{}", 1}, true},
		{"GitLab/SIGTERM", Step{"gitlab DELETE /projects/{}/variables/{}", 1}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t)
			j := setupInPlace(w)
			p, _ := stopAt(t, w, j, killPoint{tt.at, Before}, tt.term)
			c := w.canaries()
			switch {
			case tt.term && len(c) > 0:
				t.Errorf("cancelled with its cleanup time left, the run leaves %s:\n%s", strings.Join(c, ", "), p.output())
			case !tt.term && len(c) == 0:
				t.Fatalf("killed before deleting its canary, the run left none: the rerun's sweep is not tested:\n%s", p.output())
			}
			if _, ok := rerun(t, w, j, time.Hour, runLimit, false); !ok {
				t.FailNow()
			}
			report(t, "after the rerun", j.converged(w))
			if c := w.canaries(); len(c) > 0 {
				t.Errorf("after the rerun, left for good: %s", strings.Join(c, ", "))
			}
		})
	}
}

// TestCommandsTakeADeadline: every command ends within --deadline D (env
// ASTRO_CI_DEADLINE, default 15m; a persistent flag of every command) with
// a message naming what it was waiting for (issue 9, "No overall
// deadline"; no command had the flag, and only a SIGTERM or the HTTP
// client's 60 s timeout per attempt ended a hung run). The test pins that
// a hang on the first Astro request ends the run within the deadline and
// faultSlack, with exit 1 and such a message.
func TestCommandsTakeADeadline(t *testing.T) {
	t.Parallel()
	const deadline = 6 * time.Second
	for _, sc := range []scenario{scenarios[0], scenarios[3], scenarios[4]} {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t)
			j := sc.setup(w)
			first := map[string]string{
				"rotate-overlap": "astro GET /organizations/{}/tokens/{}",
				"token-create":   "astro GET /organizations/{}/tokens",
				"preview-create": "astro GET /organizations/{}/deployments/{}",
			}[sc.name]
			w.px.inject(Step{first, 1}, Fault{FHang})
			p := w.run(append(slices.Clone(j.args), "--deadline", deadline.String()), j.env)
			in, _ := p.waitFor(deadline+faultSlack, termGrace)
			switch {
			case !in:
				t.Errorf("a hang outlived --deadline %s by %s (%s):\n%s", deadline, faultSlack, p.signalled, p.output())
			case p.code != 1 || failureMessage(p.stderr.String()) == "":
				t.Errorf("exit %d, want 1 with a message naming what the run waited for:\n%s", p.code, p.output())
			}
		})
	}
}
