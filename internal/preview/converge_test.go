package preview

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/astro-ci/astro-ci/internal/astro"
	"github.com/astro-ci/astro-ci/internal/astrofake"
	"github.com/astro-ci/astro-ci/internal/rotation"
)

type outcome struct {
	res *Result
	err error
}

func (r *run) start(ctx context.Context, req Request) <-chan outcome {
	ch := make(chan outcome, 1)
	go func() {
		res, err := r.Create(ctx, req)
		ch <- outcome{res, err}
	}()
	return ch
}

func (w *world) must(o outcome, who string, r *run) *Result {
	w.t.Helper()
	if o.err != nil {
		w.t.Fatalf("run %s: %v\nlog:\n%s", who, o.err, r.log)
	}
	return o.res
}

func waitAll(t *testing.T, ctx context.Context, hs ...interface{ Wait(context.Context) error }) {
	t.Helper()
	for _, h := range hs {
		if err := h.Wait(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

// Issue 9.2: a `create` and a `pull_request opened` run list at the same
// time, find no preview, and both create one. They must end with one.
func TestConcurrentCreatesAfterEmptyListsConvergeToOnePreview(t *testing.T) {
	t.Parallel()
	w := newWorld(t, stdBase())
	ctx := w.ctx()
	a, b := w.run("A"), w.run("B")
	la, lb := w.gate.Hold(op("A", "ListDeployments")), w.gate.Hold(op("B", "ListDeployments"))
	cb := w.gate.Hold(op("B", "CreateDeployment"))
	req := w.request("feature/x", w.fileTarget())
	da, db := a.start(ctx, req), b.start(ctx, req)
	waitAll(t, ctx, la, lb) // both are listing: neither has created anything
	la.Release()
	lb.Release()
	cb.Wait(ctx) // B found nothing either and is creating; A goes first
	ra := w.must(<-da, "A", a)
	cb.Release()
	rb := w.must(<-db, "B", b)

	ps := w.previews("feature/x")
	if len(ps) != 1 {
		t.Fatalf("%d previews for one branch (want 1): %+v\nA: %s\nB: %s", len(ps), ps, a.log, b.log)
	}
	if ra.ID != ps[0].ID || rb.ID != ps[0].ID || ra.Action != "created" || rb.Action != "exists" {
		t.Fatalf("results A %s %s, B %s %s; preview %s", ra.Action, ra.ID, rb.Action, rb.ID, ps[0].ID)
	}
	if len(rb.DeletedPreviews) != 1 || rb.DeletedPreviews[0] == ps[0].ID {
		t.Fatalf("B must report the copy it created and deleted: %v", rb.DeletedPreviews)
	}
	if n := len(w.tokensOf(ps[0].ID)); n != 1 {
		t.Fatalf("%d tokens on the preview", n)
	}
	w.fileHolds(ra.Slug, ps[0].ID)
}

// Both creates reach Astro at once (same second: the order between the two
// is then decided by id, which says nothing about who came first). Each run
// lists again only once the second of its own createdAt is over, so both
// see both and agree.
func TestConcurrentCreatesAtOnceConvergeToOnePreview(t *testing.T) {
	t.Parallel()
	w := newWorld(t, stdBase())
	ctx := w.ctx()
	a, b := w.run("A"), w.run("B")
	ca, cb := w.gate.Hold(op("A", "CreateDeployment")), w.gate.Hold(op("B", "CreateDeployment"))
	req := w.request("feature/x", w.fileTarget())
	da, db := a.start(ctx, req), b.start(ctx, req)
	waitAll(t, ctx, ca, cb)
	ca.Release()
	cb.Release()
	// Both then give the one preview a token at once: rotation's Create
	// converges that to one token as well.
	oa, ob := <-da, <-db
	if oa.err != nil || ob.err != nil {
		t.Fatalf("A: %v\n%s\nB: %v\n%s", oa.err, a.log, ob.err, b.log)
	}
	ra, rb := oa.res, ob.res
	ps := w.previews("feature/x")
	if len(ps) != 1 || ra.ID != ps[0].ID || rb.ID != ps[0].ID {
		t.Fatalf("%d previews; A %s B %s\nA: %s\nB: %s", len(ps), ra.ID, rb.ID, a.log, b.log)
	}
	if n := len(w.tokensOf(ps[0].ID)); n != 1 {
		t.Fatalf("%d tokens on the preview %+v\nA: %s\nB: %s", n, w.tokensOf(ps[0].ID), a.log, b.log)
	}
	w.fileHolds(ra.Slug, ps[0].ID)
}

// The tie the settle closes: a run lists while a preview created in the
// same second, with a smaller id, has not been applied yet. A run that
// adopted what it saw would adopt the one that the other run deletes. A
// preview created less than a few minutes ago is therefore adopted only
// from a list made after its second is over.
func TestYoungPreviewIsAdoptedOnlyFromASettledList(t *testing.T) {
	t.Parallel()
	w := newWorld(t, stdBase())
	ctx := w.ctx()
	baseD := &astro.Deployment{ID: baseID, Name: "production"}
	now := w.clock.Now()
	w.fake.AddDeployment(astrofake.SeedDeployment{ID: "cm00000000000000000000000", Name: "preview-feature-x", WorkspaceID: wsID,
		Description: description(baseD, "feature/x"), CreatedAt: now})
	e := w.run("E")
	l := w.gate.HoldAfter(op("E", "ListDeployments"))
	done := e.start(ctx, w.request("feature/x"))
	l.Wait(ctx)
	// Created in the same second, applied after E's list: older by id.
	w.fake.AddDeployment(astrofake.SeedDeployment{ID: "cg00000000000000000000000", Name: "preview-feature-x", WorkspaceID: wsID,
		Description: description(baseD, "feature/x"), CreatedAt: now})
	l.Release()
	res := w.must(<-done, "E", e)
	if res.ID != "cg00000000000000000000000" {
		t.Fatalf("adopted %s, which its own run deletes: the oldest is cg…\n%s", res.ID, e.log)
	}
}

// A third create merges leftovers of earlier races or failures: the oldest
// stays; an older leftover without tokens is deleted; one with a token is
// kept (a target may hold its value) and reported.
func TestCreateMergesLeftoverPreviews(t *testing.T) {
	t.Parallel()
	w := newWorld(t, stdBase())
	baseD := &astro.Deployment{ID: baseID, Name: "production"}
	now := w.clock.Now()
	seed := func(age time.Duration) string {
		return w.fake.AddDeployment(astrofake.SeedDeployment{Name: "preview-feature-x", WorkspaceID: wsID, Description: description(baseD, "feature/x"), CreatedAt: now.Add(-age)})
	}
	oldest, idle, used := seed(3*time.Hour), seed(2*time.Hour), seed(time.Hour)
	w.fake.MintToken(astrofake.TokenSpec{OrgID: orgID, Name: "preview preview-feature-x", Scope: astrofake.ScopeDeployment, EntityID: used,
		Role: "DEPLOYMENT_ADMIN", Description: rotation.WithMarker("", rotation.Marker{State: rotation.Current})})
	r := w.run("R")
	res := w.must(<-r.start(w.ctx(), w.request("feature/x", w.fileTarget())), "R", r)
	if res.ID != oldest {
		t.Fatalf("kept %s, want the oldest %s", res.ID, oldest)
	}
	if d, _ := w.fake.Deployment(idle); !d.Deleted {
		t.Fatal("the leftover without tokens was not deleted")
	}
	if d, _ := w.fake.Deployment(used); d.Deleted {
		t.Fatal("a leftover whose token a target may hold was deleted")
	}
	if !strings.Contains(r.log.String(), used) {
		t.Fatalf("the kept leftover is not reported:\n%s", r.log)
	}
	w.fileHolds(res.Slug, oldest)
}

// preview delete finds every preview of the branch, leftovers included.
func TestDeleteRemovesEveryPreviewOfTheBranch(t *testing.T) {
	t.Parallel()
	w := newWorld(t, stdBase())
	baseD := &astro.Deployment{ID: baseID, Name: "production"}
	var ids []string
	for _, age := range []time.Duration{2 * time.Hour, time.Hour} {
		id := w.fake.AddDeployment(astrofake.SeedDeployment{Name: "preview-feature-x", WorkspaceID: wsID, Description: description(baseD, "feature/x"), CreatedAt: w.clock.Now().Add(-age)})
		w.fake.MintToken(astrofake.TokenSpec{OrgID: orgID, Name: "preview", Scope: astrofake.ScopeDeployment, EntityID: id, Role: "DEPLOYMENT_ADMIN",
			Description: rotation.WithMarker("", rotation.Marker{State: rotation.Current})})
		ids = append(ids, id)
	}
	other := w.fake.AddDeployment(astrofake.SeedDeployment{Name: "preview-feature-y", WorkspaceID: wsID, Description: description(baseD, "feature/y")})
	r := w.run("D")
	if _, err := r.Delete(w.ctx(), w.request("feature/x", w.fileTarget())); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if d, _ := w.fake.Deployment(id); !d.Deleted || len(w.tokensOf(id)) != 0 {
			t.Fatalf("preview %s or its token survived", id)
		}
	}
	if d, _ := w.fake.Deployment(other); d.Deleted {
		t.Fatal("another branch's preview was deleted")
	}
}

// A natural race: three runs at once, again and again, under -race.
func TestConcurrentCreatesRaceNaturally(t *testing.T) {
	t.Parallel()
	n := 15
	if testing.Short() {
		n = 5
	}
	for i := range n {
		w := newWorld(t, stdBase())
		ctx := w.ctx()
		var wg sync.WaitGroup
		outs := make([]outcome, 3)
		for j := range outs {
			wg.Add(1)
			r := w.run(string(rune('A' + j)))
			go func() {
				defer wg.Done()
				res, err := r.Create(ctx, w.request("feature/x", w.fileTarget()))
				outs[j] = outcome{res, err}
			}()
		}
		wg.Wait()
		ps := w.previews("feature/x")
		if len(ps) != 1 {
			t.Fatalf("iteration %d: %d previews", i, len(ps))
		}
		ok := true
		for j, o := range outs {
			if o.err != nil {
				ok = false
				if !strings.Contains(o.err.Error(), "token") {
					t.Fatalf("iteration %d run %d: %v", i, j, o.err)
				}
				continue
			}
			if o.res.ID != ps[0].ID {
				t.Fatalf("iteration %d: run %d ended on %s, the preview is %s", i, j, o.res.ID, ps[0].ID)
			}
		}
		if ok {
			w.fileHolds(outs[0].res.Slug, ps[0].ID)
		}
	}
}
