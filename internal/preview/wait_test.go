package preview

import (
	"strings"
	"testing"
	"time"

	"github.com/astro-ci/astro-ci/internal/astrofake"
)

// Issue 13.5: a Deployment that turns HEALTHY 3 s after its create is
// reported within about a second, on the fake clock, with a few polls.
func TestWaitReportsHealthyWithinASecond(t *testing.T) {
	t.Parallel()
	w := newWorld(t, stdBase(), func(o *astrofake.Options) { o.DeploymentReadyAfter = 3 * time.Second })
	r := w.run("A")
	req := w.request("feature/x")
	req.Wait = true
	var created time.Time
	res := w.must(<-r.start(w.ctx(), req), "A", r)
	if d, _ := w.fake.Deployment(res.ID); true {
		created = d.CreatedAt
	}
	if res.Status != "HEALTHY" {
		t.Fatalf("status %s", res.Status)
	}
	late := w.clock.Now().Sub(created.Add(3 * time.Second))
	if late > time.Second {
		t.Fatalf("reported %s after it turned healthy\n%s", late, r.log)
	}
	gets := 0
	for _, o := range ops(w.gate.Entries(), "A") {
		if o == "GetDeployment" {
			gets++
		}
	}
	if gets > 5 { // the base, then a poll a second
		t.Fatalf("%d GETs", gets)
	}
}

func TestNextPollGrowsToTheInterval(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ elapsed, interval, want time.Duration }{
		{0, 10 * time.Second, time.Second},
		{3 * time.Second, 10 * time.Second, time.Second},
		{8 * time.Second, 10 * time.Second, 2 * time.Second},
		{time.Minute, 10 * time.Second, 10 * time.Second},
		{time.Minute, 500 * time.Millisecond, 500 * time.Millisecond},
	} {
		if got := nextPoll(tt.elapsed, tt.interval); got != tt.want {
			t.Errorf("nextPoll(%s, %s) = %s, want %s", tt.elapsed, tt.interval, got, tt.want)
		}
	}
}

// An adopted preview that is already healthy needs no poll at all.
func TestWaitOnAHealthyPreviewMakesNoRequest(t *testing.T) {
	t.Parallel()
	w := newWorld(t, stdBase(), func(o *astrofake.Options) { o.DeploymentReadyAfter = -1 })
	first := w.run("first")
	w.must(<-first.start(w.ctx(), w.request("feature/x")), "first", first)
	w.clock.Advance(time.Hour)
	r := w.run("A")
	req := w.request("feature/x")
	req.Wait = true
	w.must(<-r.start(w.ctx(), req), "A", r)
	if got := strings.Join(ops(w.gate.Entries(), "A"), " "); got != "GetDeployment ListDeployments" {
		t.Fatalf("requests %s", got)
	}
}
