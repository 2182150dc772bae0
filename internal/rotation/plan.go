package rotation

import (
	"fmt"
	"time"

	"github.com/astro-ci/astro-ci/internal/astro"
)

// The dry-run plans: what a run would do, in the order it would do it.

func (r *run) planOverlap(tok *astro.Token, l lineage) []string {
	req := r.req
	exp := "never expires"
	if tok.ExpiryPeriodInDays != nil {
		exp = fmt.Sprintf("expiry %d days", *tok.ExpiryPeriodInDays)
	}
	p := []string{
		fmt.Sprintf("create a token named %q with the same scope (%s), roles and %s", tok.Name, tok.Scope, exp),
		"prove the new value authenticates",
		fmt.Sprintf("write the new value to %d target(s)", len(req.Targets)),
		"mark the new token current",
	}
	if req.Grace > 0 {
		p = append(p, fmt.Sprintf("keep token %s valid until %s; a later run deletes it", tok.ID, l.at.Add(req.Grace).Format(time.RFC3339)))
	} else {
		p = append(p, fmt.Sprintf("delete token %s", tok.ID))
	}
	for _, m := range l.members {
		if m.tok.ID != tok.ID && m.marked && !m.committed() && !m.mayWrite(l.at) {
			p = append(p, fmt.Sprintf("delete token %s, left %s by an earlier run", m.tok.ID, m.marker.State))
		}
	}
	return append(p, planFinish(l, l.at)...)
}

func planInPlace(tok *astro.Token, req Request) []string {
	p := []string{
		fmt.Sprintf("rotate token %s (%s) in place: same id and roles, the old value stops working at once", tok.ID, tok.Name),
		"prove the new value authenticates",
		fmt.Sprintf("write the new value to %d target(s)", len(req.Targets)),
	}
	if req.Recovery != nil {
		p = append(p[:1], append([]string{"print the new value encrypted to the recovery recipient before any write"}, p[1:]...)...)
	}
	return p
}

func planFinish(l lineage, now time.Time) []string {
	var p []string
	for _, m := range l.deletable(now) {
		p = append(p, fmt.Sprintf("delete superseded token %s (its grace period is over)", m.tok.ID))
	}
	return p
}
