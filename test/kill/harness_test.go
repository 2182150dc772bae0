package kill

import (
	"slices"
	"strings"
	"testing"
)

// TestHarnessSeesWhatItMustCatch is the negative control: the checks fail
// when the promise is broken. An in-place rotation without a recovery
// recipient, killed after Astro's rotate and before the GitHub secret is
// written, leaves the targets with the dead old value and nothing to
// recover it from: the overlap invariant, the in-place invariant and
// convergence must each say so.
func TestHarnessSeesWhatItMustCatch(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	j := setupInPlace(w)
	i := slices.Index(j.args, "--recovery-recipient")
	j.args = slices.Delete(slices.Clone(j.args), i, i+2)
	p, _ := stopAt(t, w, j, killPoint{Step{"github PUT /repos/{}/{}/actions/secrets/{}", 2}, Before}, false)
	// The fan-out writes every target at once: the file and the GitLab
	// variable may hold the new value already; the GitHub secret holds the
	// dead one.
	if ps := j.targetsLive(w); len(ps) == 0 || !strings.Contains(strings.Join(ps, "\n"), "left dead: github://") {
		t.Errorf("the overlap invariant should find the GitHub secret dead: %q", ps)
	}
	if ps := j.inPlaceAfterKill(w, p.output()); len(ps) == 0 || !strings.Contains(ps[0], "no recovery blob") {
		t.Errorf("the in-place invariant should miss the recovery blob: %q", ps)
	}
	if ps := j.converged(w); len(ps) == 0 {
		t.Error("convergence should fail while every target is dead")
	}
}

func TestLeakProbes(t *testing.T) {
	t.Parallel()
	jwt := "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ0b2tlbi1pZC0xMjM0NTY3ODkwIn0.c2lnbmF0dXJlLW9mLXRoZS10b2tlbi12YWx1ZQ"
	parts := strings.Split(jwt, ".")
	for _, tt := range []struct{ out, want string }{
		{"value: " + jwt + "\n", "the value"},
		{"payload " + parts[1], "the JWT payload"},
		{"sig " + parts[2], "the JWT signature"},
		{"header only " + parts[0], ""},
		{"nothing here", ""},
	} {
		if got := leaked(tt.out, jwt); got != tt.want {
			t.Errorf("leaked(%q) = %q, want %q", tt.out, got, tt.want)
		}
	}
	if got := dropMasks("a\n::add-mask::" + jwt + "\nb " + jwt); leaked(got, jwt) != "the value" || strings.Contains(got, "::add-mask::") {
		t.Errorf("dropMasks must drop only mask lines: %q", got)
	}
}
