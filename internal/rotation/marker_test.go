package rotation

import (
	"strings"
	"testing"
	"time"

	"github.com/astro-ci/astro-ci/internal/astro"
)

func TestMarkerRoundTrip(t *testing.T) {
	t.Parallel()
	g := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	m := Marker{Lineage: "clorigin", Gen: 3, State: Current, Run: "abc123", GraceUntil: &g}
	desc := WithMarker("deploys the data platform", m)
	got, ok := ParseMarker(desc)
	if !ok || got.Lineage != "clorigin" || got.Gen != 3 || got.State != Current || got.Run != "abc123" || !got.GraceUntil.Equal(g) {
		t.Fatalf("round trip: %q -> %+v", desc, got)
	}
	if StripMarker(desc) != "deploys the data platform" {
		t.Fatalf("strip: %q", StripMarker(desc))
	}
	// Re-marking replaces, never stacks.
	again := WithMarker(desc, Marker{Gen: 4, State: Pending})
	if strings.Count(again, markerOpen) != 1 || !strings.HasPrefix(again, "deploys the data platform [astro-ci gen=4 state=pending]") {
		t.Fatalf("remark: %q", again)
	}
}

func TestMarkerFitsAstroLimit(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("é", 400) // 800 bytes
	desc := WithMarker(long, Marker{Lineage: strings.Repeat("c", 25), Gen: 12, State: Pending, Run: "0123456789ab"})
	if len(desc) > maxDescription {
		t.Fatalf("len %d > %d", len(desc), maxDescription)
	}
	if _, ok := ParseMarker(desc); !ok {
		t.Fatal("marker cut off")
	}
	if !strings.HasPrefix(desc, "éé") || strings.Contains(desc, "\uFFFD") {
		t.Fatal("user text not cut on a rune boundary")
	}
}

func TestMarkerIgnoresForeignText(t *testing.T) {
	t.Parallel()
	for _, d := range []string{"", "plain", "[astro-ci state=bogus]", "[astro-ci gen=1 state=current"} {
		if _, ok := ParseMarker(d); ok {
			t.Errorf("%q parsed as a marker", d)
		}
		if StripMarker(d) != d {
			t.Errorf("%q stripped", d)
		}
	}
}

func tok(id string, created time.Time, desc string) astro.Token {
	return astro.Token{ID: id, Name: "ci", Scope: astro.ScopeWorkspace, CreatedAt: created, Description: desc}
}

func TestLineageDeletable(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	grace := t0.Add(48 * time.Hour)
	all := []astro.Token{
		tok("origin", t0, "hand made"),
		tok("g1", t0.Add(time.Hour), WithMarker("", Marker{Lineage: "origin", Gen: 1, State: Current})),
		tok("dead", t0.Add(2*time.Hour), WithMarker("", Marker{Lineage: "origin", Gen: 2, State: Pending})),
		tok("g2", t0.Add(3*time.Hour), WithMarker("", Marker{Lineage: "origin", Gen: 2, State: Current, GraceUntil: &grace})),
		tok("later-pending", t0.Add(4*time.Hour), WithMarker("", Marker{Lineage: "origin", Gen: 3, State: Pending})),
		tok("stranger", t0, WithMarker("", Marker{Lineage: "other", Gen: 1, State: Current})),
	}
	l := buildLineage("origin", nil, all, t0.Add(10*time.Hour))
	if len(l.members) != 5 || l.live().tok.ID != "g2" {
		t.Fatalf("members %d live %v", len(l.members), l.live())
	}
	ids := func(ms []member) string {
		var s []string
		for _, m := range ms {
			s = append(s, m.tok.ID)
		}
		return strings.Join(s, ",")
	}
	// Before g2's grace ends only what g1 superseded (origin) may go.
	if got := ids(l.deletable(t0.Add(10 * time.Hour))); got != "origin" {
		t.Fatalf("during grace: %s", got)
	}
	// After it, everything older than g2; never the live token or a newer pending one.
	if got := ids(l.deletable(grace)); got != "origin,g1,dead" {
		t.Fatalf("after grace: %s", got)
	}
	kept := l.kept(t0.Add(10 * time.Hour))
	if len(kept) != 2 || kept[0].ID != "g1" || kept[0].Until == nil || !kept[0].Until.Equal(grace) {
		t.Fatalf("kept: %+v", kept)
	}
}
