package rotation

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/astro-ci/astro-ci/internal/astro"
	"github.com/astro-ci/astro-ci/internal/target"
)

// Existing says what Create does when its scope already has a token of the
// requested name.
type Existing int

const (
	// RefuseExisting: an *ExistsError naming the command that rotates it.
	RefuseExisting Existing = iota
	// KeepExisting: do nothing and report the existing token (previews,
	// token create --skip-existing).
	KeepExisting
)

// CreateRequest is a new token and where its value goes.
type CreateRequest struct {
	Token   astro.CreateTokenRequest
	Targets []target.Target
	DryRun  bool
	// Preflighted: the caller already proved the targets writable.
	Preflighted bool
	Existing    Existing
	// Fresh: the token's Deployment or Workspace was created by this run a
	// moment ago, so no token of it can exist yet and the first look-up is
	// skipped. (The look after the create still happens: it is what makes
	// concurrent creates converge.)
	Fresh bool
}

// CreateOutcome of Create.
type CreateOutcome struct {
	Token   *TokenInfo     `json:"token,omitempty"`
	Existed bool           `json:"existed,omitempty"` // the token was there already (KeepExisting)
	Yielded *Yield         `json:"yielded,omitempty"` // a concurrent run creates it
	DryRun  bool           `json:"dryRun,omitempty"`
	Plan    []string       `json:"plan,omitempty"`
	Targets []TargetResult `json:"targets,omitempty"`
}

// ExistsError says that a token of that name exists in that scope already.
type ExistsError struct {
	ID, Name string
	Scope    astro.Scope
	// Concurrent: a run creating it at the same time is writing it now.
	Concurrent bool
}

func (e *ExistsError) Error() string {
	how := fmt.Sprintf("to give its targets a new value, rotate it: astro-ci token rotate --token-id %s --target …; to leave it as it is, pass --skip-existing", e.ID)
	if e.Concurrent {
		return fmt.Sprintf("another run is creating a %s token named %q right now (%s); this run created nothing that remains. %s", strings.ToLower(string(e.Scope)), e.Name, e.ID, how)
	}
	return fmt.Sprintf("a %s token named %q already exists (%s): astro-ci does not create a second one. %s", strings.ToLower(string(e.Scope)), e.Name, e.ID, how)
}

// Create makes a token and writes its value to every target: plan,
// preflight, create (reconciled if the answer is lost), prove and look
// again, decide, write, commit, finish. Its tokens of one name in one scope
// form a group that follows the lineage rules (lineage.go), so a rerun after
// a kill, or two creates at once, converge to one current token, and
// earlier pending ones are deleted once it is current.
func (e *Engine) Create(ctx context.Context, req CreateRequest) (*CreateOutcome, error) {
	r := e.begin(ctx)
	defer r.end()
	out := &CreateOutcome{DryRun: req.DryRun}
	err := r.create(req, out)
	return out, r.explain(err)
}

func (r *run) create(req CreateRequest, out *CreateOutcome) error {
	e := r.e
	r.out = &Outcome{}
	r.creating = true
	body := req.Token
	like := &astro.Token{Name: body.Name, Scope: body.Scope, Roles: []astro.Role{{EntityType: string(body.Scope), EntityID: body.EntityID}}}
	group := func(all []astro.Token) lineage {
		l := lineage{id: body.Name, at: r.serverNow()}
		for _, t := range all {
			if t.Name == body.Name && t.Scope == body.Scope && (body.Scope == astro.ScopeOrganization || t.EntityID() == body.EntityID) {
				m, marked := ParseMarker(t.Description)
				l.members = append(l.members, member{tok: t, marker: m, marked: marked})
			}
		}
		l.sort()
		return l
	}
	r.group = group
	list := func(c Astro) (lineage, error) {
		all, err := c.ListTokens(r.ctx, scopeFilter(like))
		if err != nil {
			return lineage{}, fmt.Errorf("listing the tokens of the scope to see whether %q exists: %w", body.Name, err)
		}
		return group(all), nil
	}
	exists := func(m *member, concurrent bool) error {
		info := infoOf(&m.tok)
		out.Token = &info
		if req.Existing == KeepExisting {
			out.Existed = true
			if concurrent {
				out.Yielded = &Yield{To: m.tok.ID, Reason: "another run is creating this token at the same time"}
			}
			e.Log.Infof("token %s (%s) exists; kept as it is", m.tok.ID, m.tok.Name)
			return nil
		}
		return &ExistsError{ID: m.tok.ID, Name: m.tok.Name, Scope: m.tok.Scope, Concurrent: concurrent}
	}

	// 1. Plan: is there one already, or a run creating it?
	var (
		l   lineage
		err error
	)
	if !req.Fresh {
		r.stage = "looking for a token of that name"
		if l, err = list(r.astro); err != nil {
			return err
		}
		if l, _, err = r.settle(l, nil); err != nil {
			return err
		}
		if live := l.live(); live != nil {
			return exists(live, false)
		}
	}
	if req.DryRun {
		exp := "never expires"
		if body.ExpiryDays > 0 {
			exp = fmt.Sprintf("expires in %d days", body.ExpiryDays)
		}
		out.Plan = []string{
			fmt.Sprintf("create %s token %q with role %s (%s)", body.Scope, body.Name, body.Role, exp),
			fmt.Sprintf("write its value to %d target(s)", len(req.Targets)),
		}
		for _, t := range req.Targets {
			out.Targets = append(out.Targets, TargetResult{Target: t.String(), Status: "would-write"})
		}
		return nil
	}

	// 2. Preflight, by write where a store can: nothing else holds the value.
	if !req.Preflighted {
		r.stage = "proving the targets writable"
		if err := <-r.preflight(req.Targets, false); err != nil {
			return err
		}
	}

	// 3. Create, pending.
	r.stage = "creating the token"
	// One generation more than any create of this name the plan saw: a rerun
	// after a failure comes after the failed run's token in the lineage
	// order, even within the same second.
	mk := Marker{State: Pending, Run: e.nonce(), TTL: r.ttl()}
	if len(l.members) > 0 {
		mk.Gen = l.nextGen()
	}
	r.userDesc = body.Description
	body.Description = WithMarker(body.Description, mk)
	nt, err := r.createReconciled(body, like, mk.Run)
	if err != nil {
		return err
	}
	r.own, r.ownMarker = nt, mk
	out.Token = &TokenInfo{ID: nt.ID, Name: nt.Name, Scope: string(nt.Scope), EntityID: req.Token.EntityID, ExpiresAt: nt.EndAt}
	e.Log.Infof("created token %s (%s)", nt.ID, nt.Name)

	// 4. Prove the value and look again.
	r.stage = "proving the new value"
	if _, l, err = r.prove(nt, nil, list); err != nil {
		return r.discard(err)
	}

	// 5. Decide.
	r.stage = "waiting for another run creating the same token"
	l, newer, err := r.settle(l, nt)
	if err != nil {
		return r.discard(err)
	}
	if newer != nil {
		if derr := r.dropOwn(); derr != nil {
			e.Log.Warnf("%v", derr)
		}
		return exists(newer, true)
	}
	if live := l.live(); live != nil && live.tok.ID != nt.ID && before(&live.tok, nt) {
		// A token of that name appeared while this run waited.
		if derr := r.dropOwn(); derr != nil {
			e.Log.Warnf("%v", derr)
		}
		return exists(live, true)
	}

	// Unfinished creates newer than this run's that their runs stopped (a
	// failed run in the same generation, say): after this run has written
	// every target no target holds them, so it deletes them too.
	quiet := l.stragglersAfter(nt)

	// 6. Write.
	r.stage = "writing the token's value to the targets"
	r.writing = true
	werr := r.write(req.Targets, nt.Value)
	out.Targets = r.out.Targets
	if werr != nil {
		return r.abandon(fmt.Errorf("%w; the token is in the targets marked written. Rerun the same command to write every target (it replaces this token)", werr))
	}

	// 7. Commit.
	r.stage = "marking the token current"
	commit := mk
	commit.State = Current
	if err := r.mark(commit); err != nil {
		return fmt.Errorf("every target holds token %s, but marking it current failed: %w", nt.ID, err)
	}
	r.committed = true

	// 8. Finish: earlier, unfinished creates of this token.
	var errs []error
	for _, m := range l.members {
		wasQuiet := slices.ContainsFunc(quiet, func(q member) bool { return q.tok.ID == m.tok.ID })
		if m.tok.ID == nt.ID || !m.marked || !before(&m.tok, nt) && !wasQuiet {
			continue
		}
		if err := r.astro.DeleteToken(r.ctx, m.tok.ID); err != nil && !astro.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("deleting token %s, left %s by an earlier run: %w", m.tok.ID, m.marker.State, err))
			continue
		}
		e.Log.Infof("deleted token %s, left %s by an earlier run", m.tok.ID, m.marker.State)
	}
	return errors.Join(errs...)
}
