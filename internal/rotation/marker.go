package rotation

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The marker is how a rotation's state survives the process: Astro is the
// only store every later run (on any runner) can read, so each token
// astro-ci creates carries, at the end of its description,
//
//	[astro-ci lineage=<origin id> gen=<n> state=<pending|current|abandoned|yielded> run=<nonce> ttl=<seconds> grace-until=<RFC 3339>]
//
// lineage ties together every generation of one logical credential (the
// first token's id); gen counts them (for people: runs order members by
// createdAt and id, see lineage.go); state says whether the token's value
// reached every target (current), whether its run may still be writing it
// (pending), stopped midway (abandoned) or stepped aside before writing
// anything (yielded); run is a per-run nonce that identifies a create whose
// response was lost; ttl bounds the run of a pending token: no target write
// of its run lands later than createdAt+ttl in Astro's clock; grace-until
// is when the tokens this one superseded may be deleted.
const (
	markerOpen  = "[astro-ci "
	markerClose = "]"
	// maxDescription is Astro's limit on a token description.
	maxDescription = 500
	// maxTTLSeconds bounds a run: the engine never works longer than a day,
	// so a larger ttl is read as a day.
	maxTTLSeconds = 24 * 3600
)

// State of a managed token.
type State string

// States.
const (
	Pending State = "pending"
	Current State = "current"
	// Abandoned: its run failed (and said so) before every target held the
	// value. Like pending, some targets may hold it, so it is deleted only
	// once a later run has written every target; unlike pending, it does not
	// suggest a run still in progress.
	Abandoned State = "abandoned"
	// Yielded: its run saw a newer run of the same lineage and stopped
	// before writing the value anywhere, so any run may delete it.
	Yielded State = "yielded"
)

// Marker is the parsed marker of a token description.
type Marker struct {
	Lineage    string
	Gen        int
	State      State
	Run        string
	TTL        time.Duration // whole seconds; 0 when absent
	GraceUntil *time.Time
}

// ParseMarker finds the marker in a description. ok is false for a token
// astro-ci did not create.
func ParseMarker(desc string) (Marker, bool) {
	i := strings.LastIndex(desc, markerOpen)
	if i < 0 {
		return Marker{}, false
	}
	body, _, ok := strings.Cut(desc[i+len(markerOpen):], markerClose)
	if !ok {
		return Marker{}, false
	}
	var m Marker
	for _, f := range strings.Fields(body) {
		k, v, _ := strings.Cut(f, "=")
		switch k {
		case "lineage":
			m.Lineage = v
		case "gen":
			m.Gen, _ = strconv.Atoi(v)
		case "state":
			m.State = State(v)
		case "run":
			m.Run = v
		case "ttl":
			if n, err := strconv.Atoi(v); err == nil && n > 0 {
				m.TTL = time.Duration(min(n, maxTTLSeconds)) * time.Second
			}
		case "grace-until":
			if t, err := time.Parse(time.RFC3339, v); err == nil {
				m.GraceUntil = &t
			}
		}
	}
	if m.State != Pending && m.State != Current && m.State != Abandoned && m.State != Yielded {
		return Marker{}, false
	}
	return m, true
}

// String renders the marker.
func (m Marker) String() string {
	var b strings.Builder
	b.WriteString(markerOpen)
	if m.Lineage != "" {
		fmt.Fprintf(&b, "lineage=%s ", m.Lineage)
	}
	fmt.Fprintf(&b, "gen=%d state=%s", m.Gen, m.State)
	if m.Run != "" {
		fmt.Fprintf(&b, " run=%s", m.Run)
	}
	if m.TTL > 0 {
		fmt.Fprintf(&b, " ttl=%d", int64((m.TTL+time.Second-1)/time.Second))
	}
	if m.GraceUntil != nil {
		fmt.Fprintf(&b, " grace-until=%s", m.GraceUntil.UTC().Format(time.RFC3339))
	}
	b.WriteString(markerClose)
	return b.String()
}

// StripMarker returns the user's part of a description.
func StripMarker(desc string) string {
	if i := strings.LastIndex(desc, markerOpen); i >= 0 {
		if _, ok := ParseMarker(desc); ok {
			return strings.TrimSpace(desc[:i])
		}
	}
	return desc
}

// WithMarker puts m at the end of the user's description, cutting the
// user's part (never the marker) to fit Astro's 500-character limit.
func WithMarker(desc string, m Marker) string {
	user := StripMarker(desc)
	mk := m.String()
	room := maxDescription - len(mk) - 1
	if len(user) > room {
		user = truncateRunes(user, room)
	}
	if user == "" {
		return mk
	}
	return user + " " + mk
}

func truncateRunes(s string, n int) string {
	if n <= 0 {
		return ""
	}
	for len(s) > n {
		_, size := lastRune(s)
		s = s[:len(s)-size]
	}
	return strings.TrimSpace(s)
}

func lastRune(s string) (rune, int) {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i]&0xC0 != 0x80 {
			return rune(s[i]), len(s) - i
		}
	}
	return 0, 1
}
