package rotation

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/astro-ci/astro-ci/internal/astrofake"
)

// TestInPlaceProvesWhileWriting is issue 13: after an in-place rotate the
// old value is dead, so the write never waits for the proof's verdict, and
// the two run together (one round trip, not two). Here the proof's request
// is held until the write has begun: a run that proves first never writes.
// A value that does not prove is still written, and the run says so.
func TestInPlaceProvesWhileWriting(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ts := w.targets("a")
	writing := make(chan struct{})
	var once sync.Once
	w.store.before = func(string, string) { once.Do(func() { close(writing) }) }
	waited := make(chan bool, 1)
	w.fake.InjectFault(astrofake.Fault{Route: "RotateApiToken", Times: 1, Hold: func(astrofake.Request) {
		// From the rotate on, the proof's reads answer 401: the value never
		// proves, and the first of them waits for the write to start.
		var first sync.Once
		w.fake.InjectFault(astrofake.Fault{Route: "GetApiToken", Status: 401, Hold: func(astrofake.Request) {
			first.Do(func() {
				select {
				case <-writing:
					waited <- true
				case <-time.After(5 * time.Second):
					waited <- false
				}
			})
		}})
	}})
	out, err := w.engine("bot", w.botValue).Run(t.Context(), Request{TokenID: w.ciID, Strategy: InPlace, Targets: ts})
	if !<-waited {
		t.Fatal("the proof went first: the write waited for it")
	}
	if err == nil || !strings.Contains(err.Error(), "does not authenticate") {
		t.Fatalf("err = %v, want the proof's failure", err)
	}
	v, ok := w.store.get(ts[0].Path)
	if !ok || !out.Rotated || !w.fake.Authenticates(v) {
		t.Fatalf("the rotated value was not written (rotated %v)\n%s", out.Rotated, w.log())
	}
	if !strings.Contains(w.log(), "written all the same") {
		t.Errorf("the log does not say the unproven value was written:\n%s", w.log())
	}
}
