package rotation

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/astro-ci/astro-ci/internal/astro"
	"github.com/astro-ci/astro-ci/internal/astrofake"
)

// lostAnswers are the ways an answer goes missing after Astro applied the
// request: a reset, a gateway error, a garbage body, a body cut off.
var lostAnswers = []struct {
	name  string
	fault astrofake.Fault
}{
	{"reset after applying", astrofake.Fault{AfterApply: true, Drop: true}},
	{"502 after applying", astrofake.Fault{AfterApply: true, Status: 502}},
	{"garbage 200", astrofake.Fault{Body: "<html>ok</html>"}},
	{"truncated 200", astrofake.Fault{Truncate: true}},
}

func withRoute(f astrofake.Fault, route string) astrofake.Fault {
	f.Route, f.Times = route, 1
	return f
}

// TestInPlaceLostAnswerIsReconciled is issue 9 defect 5 for another token:
// the rotate took effect but its answer was lost; the run notices, rotates
// again and writes a value that works.
func TestInPlaceLostAnswerIsReconciled(t *testing.T) {
	t.Parallel()
	for _, la := range lostAnswers {
		for _, newID := range []bool{false, true} {
			name := la.name
			if newID {
				name += ", rotate gives a new id"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				w := newWorld(t)
				if newID {
					w.fake.SetRotateVariant(astrofake.RotateVariant{NewID: true})
				}
				ts := w.targets("a", "b")
				w.seed(w.ciValue, ts)
				w.fake.InjectFault(withRoute(la.fault, "RotateApiToken"))
				out, err := w.engine("bot", w.botValue).Run(t.Context(), Request{TokenID: w.ciID, Strategy: InPlace, Targets: ts})
				if err != nil {
					t.Fatalf("%v\n%s", err, w.log())
				}
				w.assertTargetsLive("after the reconciled rotate", ts)
				if out.New == nil || (newID && out.New.ID == w.ciID) {
					t.Fatalf("new token %+v", out.New)
				}
				if n := len(w.tokensNamed("ci")); n != 1 {
					t.Fatalf("%d tokens named ci", n)
				}
			})
		}
	}
}

// TestInPlaceSelfLostAnswerSaysTheOldValueIsDead: rotating ASTRO_API_TOKEN's
// own token in place warns before acting, and when the answer is lost the
// error says the old value no longer works and how to recover.
func TestInPlaceSelfLostAnswerSaysTheOldValueIsDead(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ts := w.targets("a")
	w.seed(w.ciValue, ts)
	w.fake.InjectFault(withRoute(astrofake.Fault{Body: "garbage"}, "RotateApiToken"))
	_, err := w.engine("ci", w.ciValue).Run(t.Context(), Request{Strategy: InPlace, Targets: ts})
	if err == nil || !strings.Contains(err.Error(), "no longer works") || !strings.Contains(err.Error(), "ASTRO_CI_API_TOKEN") {
		t.Fatalf("err = %v", err)
	}
	log := w.log()
	warn := strings.Index(log, "Safer: --strategy overlap")
	if warn < 0 || warn > strings.Index(log, "checking Astro") {
		t.Fatalf("no warning before the rotate:\n%s", log)
	}
}

// TestInPlaceReportsTheRotatesExpiry: the expiry reported is the one in the
// rotate's answer, and a rotate that does not move it is called out.
func TestInPlaceReportsTheRotatesExpiry(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.fake.SetRotateVariant(astrofake.RotateVariant{KeepEndAt: true})
	ts := w.targets("a")
	w.clock.Advance(24 * time.Hour)
	out, err := w.engine("bot", w.botValue).Run(t.Context(), Request{TokenID: w.ciID, Strategy: InPlace, Targets: ts})
	if err != nil {
		t.Fatal(err)
	}
	info, _ := w.fake.Token(w.ciID)
	if out.New.ExpiresAt == nil || !out.New.ExpiresAt.Equal(info.EndAt) || !strings.Contains(w.log(), "did not extend") {
		t.Fatalf("reported %v, Astro says %v\n%s", out.New.ExpiresAt, info.EndAt, w.log())
	}
}

// TestSelfRotationWithoutTokenIDClaim is issue 10 item 2: a token whose
// claims do not name its id can still be rotated by id; rotating "itself"
// asks for --token-id.
func TestSelfRotationWithoutTokenIDClaim(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.fake.SetOmitTokenIDClaim(true)
	id, value := w.fake.MintToken(astrofake.TokenSpec{OrgID: hxOrg, Name: "anon", Role: "ORGANIZATION_OWNER", ExpiryDays: 30})
	ts := w.targets("a")
	w.seed(value, ts)
	e := w.engine("anon", value)
	if e.SelfID != "" {
		t.Fatalf("claims named %q", e.SelfID)
	}
	if _, err := e.Run(t.Context(), Request{Strategy: Overlap, Targets: ts}); !errors.Is(err, ErrNoTokenID) {
		t.Fatalf("err = %v, want ErrNoTokenID", err)
	}
	for _, s := range []Strategy{Overlap, InPlace} {
		held, _ := w.store.get(ts[0].Path)
		if _, err := w.engine("anon", held).Run(t.Context(), Request{TokenID: id, Strategy: s, Targets: ts}); err != nil && !strings.Contains(err.Error(), "replaced") {
			t.Fatalf("%s by --token-id: %v\n%s", s, err, w.log())
		}
		w.assertTargetsLive(string(s)+" with --token-id", ts)
		if s == Overlap {
			id = w.tokensNamed("anon")[0].ID
		}
	}
}

// TestUnprovenValueIsNotWritten is issue 9 defect 8: when the request that
// proves the new value keeps failing with 503, the run stops before writing,
// deletes its unproven token, and does not say the value authenticates.
func TestUnprovenValueIsNotWritten(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ts := w.targets("a")
	w.seed(w.ciValue, ts)
	w.fake.InjectFault(astrofake.Fault{Route: "CreateApiToken", Times: 1, HoldAfterApply: true, Hold: func(astrofake.Request) {
		w.fake.InjectFault(astrofake.Fault{Route: "GetApiToken", Status: 503})
	}})
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
	defer cancel()
	_, err := w.engine("bot", w.botValue).Run(ctx, Request{TokenID: w.ciID, Strategy: Overlap, Targets: ts})
	if err == nil || !strings.Contains(err.Error(), "could not prove") {
		t.Fatalf("err = %v", err)
	}
	if strings.Contains(w.log(), "authenticates") {
		t.Fatalf("claimed the value authenticates:\n%s", w.log())
	}
	if h := w.store.history(ts[0].Path); len(h) != 1 {
		t.Fatalf("the target was written %d times", len(h)-1)
	}
	if toks := w.tokensNamed("ci"); len(toks) != 1 || toks[0].ID != w.ciID {
		t.Fatalf("tokens named ci: %+v", toks)
	}
}

// blocker holds a request until release (or the test's end).
type blocker struct {
	once    sync.Once
	arrived chan struct{}
	release chan struct{}
}

func newBlocker(t *testing.T) *blocker {
	b := &blocker{arrived: make(chan struct{}), release: make(chan struct{})}
	t.Cleanup(b.free)
	return b
}

func (b *blocker) hold(astrofake.Request) {
	select {
	case <-b.arrived:
	default:
		close(b.arrived)
	}
	<-b.release
}

func (b *blocker) free() { b.once.Do(func() { close(b.release) }) }

// TestDeadlineNamesWhatTheRunWaitedFor is issue 9 defect 9: a hanging Astro
// answer ends at the deadline with a message naming the step.
func TestDeadlineNamesWhatTheRunWaitedFor(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	b := newBlocker(t)
	w.fake.InjectFault(astrofake.Fault{Route: "GetApiToken", Hold: b.hold})
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	start := time.Now()
	_, err := w.engine("bot", w.botValue).Run(ctx, Request{TokenID: w.ciID, Strategy: Overlap, Targets: w.targets("a")})
	if err == nil || !strings.Contains(err.Error(), "deadline") || !strings.Contains(err.Error(), "reading the token to rotate") {
		t.Fatalf("err = %v", err)
	}
	if d := time.Since(start); d > 2*time.Second+time.Second {
		t.Fatalf("took %v, past its deadline", d)
	}
}

// TestCancelledRunLeavesNothingThatBlocks is issue 9 defect 9 for signals: a
// run cancelled before writing deletes its token; one cancelled while
// writing marks it abandoned. Either way an immediate rerun does not wait
// and converges.
func TestCancelledRunLeavesNothingThatBlocks(t *testing.T) {
	t.Parallel()
	for _, during := range []string{"proving", "writing"} {
		t.Run(during, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t)
			ts := w.targets("a", "b")
			w.seed(w.ciValue, ts)
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			switch during {
			case "proving":
				w.fake.InjectFault(astrofake.Fault{Route: "CreateApiToken", Times: 1, HoldAfterApply: true, Hold: func(astrofake.Request) { cancel() }})
			case "writing":
				var once sync.Once
				w.store.before = func(path, _ string) {
					if strings.HasSuffix(path, "/b") {
						once.Do(cancel)
					}
				}
			}
			_, err := w.engine("A", w.ciValue).Run(ctx, Request{Strategy: Overlap, Targets: ts})
			if err == nil || !strings.Contains(err.Error(), "cancelled") {
				t.Fatalf("err = %v", err)
			}
			w.assertTargetsLive("after the cancelled run", ts)
			for _, ti := range w.tokensNamed("ci") {
				if m, ok := ParseMarker(ti.Description); ok && m.State == Pending {
					t.Fatalf("token %s left pending:\n%s", ti.ID, w.log())
				}
			}
			w.store.before = nil
			held, _ := w.store.get(ts[0].Path)
			rerun := w.engine("rerun", held)
			if _, err := rerun.Run(t.Context(), Request{Strategy: Overlap, Targets: ts}); err != nil {
				t.Fatalf("rerun: %v\n%s", err, w.log())
			}
			if strings.Contains(w.log(), "waiting for it") {
				t.Fatalf("the rerun waited:\n%s", w.log())
			}
			w.assertTargetsLive("after the rerun", ts)
			if n := len(w.tokensNamed("ci")); n != 1 {
				t.Fatalf("%d tokens named ci after the rerun\n%s", n, w.log())
			}
		})
	}
}

// TestCreateConverges is issue 9 defects 6 and 7: a create whose answer is
// lost, or whose run died after the create, is reconciled, so a rerun ends
// with one token; a create of a name that exists is refused, or kept with
// KeepExisting.
func TestCreateConverges(t *testing.T) {
	t.Parallel()
	req := func(w *world) CreateRequest {
		return CreateRequest{
			Token:   astro.CreateTokenRequest{Name: "deployer", Role: "WORKSPACE_OPERATOR", Scope: astro.ScopeWorkspace, EntityID: hxWS},
			Targets: w.targets("d"),
		}
	}
	for _, la := range lostAnswers {
		t.Run("lost answer: "+la.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t)
			w.fake.InjectFault(withRoute(la.fault, "CreateApiToken"))
			if _, err := w.engine("bot", w.botValue).Create(t.Context(), req(w)); err != nil {
				t.Fatalf("%v\n%s", err, w.log())
			}
			if toks := w.tokensNamed("deployer"); len(toks) != 1 {
				t.Fatalf("%d tokens named deployer", len(toks))
			}
			w.assertTargetsLive("after the create", w.targets("d"))
		})
	}
	t.Run("killed after the create, rerun", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t)
		b := newBlocker(t)
		w.fake.InjectFault(astrofake.Fault{Route: "CreateApiToken", Times: 1, HoldAfterApply: true, Hold: b.hold})
		ctx, kill := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() {
			defer close(done)
			// A killed process does no cleanup: the engine is abandoned
			// mid-request, and its token stays pending.
			_, _ = w.engine("killed", w.botValue).Create(ctx, req(w))
		}()
		<-b.arrived
		if toks := w.tokensNamed("deployer"); len(toks) != 1 {
			t.Fatalf("%d tokens before the kill", len(toks))
		}
		// The dead run's bound passes (its deadline, in Astro's clock).
		w.clock.Advance(time.Hour)
		if _, err := w.engine("rerun", w.botValue).Create(t.Context(), req(w)); err != nil {
			t.Fatalf("rerun: %v\n%s", err, w.log())
		}
		kill()
		b.free()
		<-done
		toks := w.tokensNamed("deployer")
		if len(toks) != 1 {
			t.Fatalf("%d tokens named deployer after the rerun\n%s", len(toks), w.log())
		}
		w.assertTargetsLive("after the rerun", w.targets("d"))
	})
	t.Run("twice is refused, or kept", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t)
		if _, err := w.engine("bot", w.botValue).Create(t.Context(), req(w)); err != nil {
			t.Fatal(err)
		}
		_, err := w.engine("bot", w.botValue).Create(t.Context(), req(w))
		var ee *ExistsError
		if !errors.As(err, &ee) || !strings.Contains(err.Error(), "astro-ci token rotate --token-id "+ee.ID) {
			t.Fatalf("err = %v", err)
		}
		keep := req(w)
		keep.Existing = KeepExisting
		out, err := w.engine("bot", w.botValue).Create(t.Context(), keep)
		if err != nil || !out.Existed || out.Token.ID != ee.ID {
			t.Fatalf("keep: %+v %v", out, err)
		}
		if n := len(w.tokensNamed("deployer")); n != 1 {
			t.Fatalf("%d tokens", n)
		}
	})
	t.Run("a second create waits for the first, then keeps its token", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t)
		// A's write waits until B has been waiting for A a while.
		b := newBlocker(t)
		w.store.before = func(string, string) { b.hold(astrofake.Request{}) }
		keep := req(w)
		keep.Existing = KeepExisting
		da := make(chan error, 1)
		go func() { _, err := w.engine("A", w.botValue).Create(t.Context(), keep); da <- err }()
		<-b.arrived
		db := make(chan error, 1)
		go func() { _, err := w.engine("B", w.botValue).Create(t.Context(), keep); db <- err }()
		for !strings.Contains(w.log(), "B: another run is working on this token") {
			time.Sleep(5 * time.Millisecond)
		}
		time.Sleep(50 * time.Millisecond) // B polls the list meanwhile
		b.free()
		if err := errors.Join(<-da, <-db); err != nil {
			t.Fatalf("%v\n%s", err, w.log())
		}
		if n := len(w.tokensNamed("deployer")); n != 1 {
			t.Fatalf("%d tokens named deployer\n%s", n, w.log())
		}
		w.assertTargetsLive("after both", w.targets("d"))
	})
	t.Run("two at once", func(t *testing.T) {
		t.Parallel()
		for round := range 4 {
			w := newWorld(t)
			g := newGate(2)
			w.fake.InjectFault(astrofake.Fault{Route: "CreateApiToken", Times: 2, Hold: g.hold})
			keep := req(w)
			keep.Existing = KeepExisting
			errs := runAll(
				func() error { _, err := w.engine("A", w.botValue).Create(t.Context(), keep); return err },
				func() error { _, err := w.engine("B", w.botValue).Create(t.Context(), keep); return err },
			)
			if err := joinErrs(errs); err != nil {
				t.Fatalf("round %d: %v\n%s", round, err, w.log())
			}
			if n := len(w.tokensNamed("deployer")); n != 1 {
				t.Fatalf("round %d: %d tokens named deployer\n%s", round, n, w.log())
			}
			w.assertTargetsLive("after two creates", w.targets("d"))
		}
	})
}
