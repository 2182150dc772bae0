package rotation

import (
	"context"
	"errors"
	"fmt"

	"github.com/astro-ci/astro-ci/internal/astro"
	"github.com/astro-ci/astro-ci/internal/target"
)

// CreateRequest is a new token and where its value goes.
type CreateRequest struct {
	Token   astro.CreateTokenRequest
	Targets []target.Target
	DryRun  bool
	// Preflighted: the caller already proved the targets writable.
	Preflighted bool
}

// CreateOutcome of Create.
type CreateOutcome struct {
	Token   *TokenInfo     `json:"token,omitempty"`
	DryRun  bool           `json:"dryRun,omitempty"`
	Plan    []string       `json:"plan,omitempty"`
	Targets []TargetResult `json:"targets,omitempty"`
}

// Create makes a token and writes its value to every target: preflight,
// create (reconciled if the answer is lost), test, write, commit. The token
// carries a marker so later rotations and listings know astro-ci manages
// it, and whether its value reached every target (current) or not (pending).
func (e *Engine) Create(ctx context.Context, req CreateRequest) (*CreateOutcome, error) {
	out := &CreateOutcome{DryRun: req.DryRun}
	if req.DryRun {
		exp := "never expires"
		if req.Token.ExpiryDays > 0 {
			exp = fmt.Sprintf("expires in %d days", req.Token.ExpiryDays)
		}
		out.Plan = []string{
			fmt.Sprintf("create %s token %q with role %s (%s)", req.Token.Scope, req.Token.Name, req.Token.Role, exp),
			fmt.Sprintf("write its value to %d target(s)", len(req.Targets)),
		}
		for _, t := range req.Targets {
			out.Targets = append(out.Targets, TargetResult{Target: t.String(), Status: "would-write"})
		}
		return out, nil
	}
	if !req.Preflighted {
		if err := e.preflight(ctx, req.Targets, nil); err != nil {
			return out, err
		}
	}
	// Pending until every target holds the value, like a rotation's token:
	// a later run knows a pending token's value may be nowhere.
	mk := Marker{Gen: 0, State: Pending, Run: e.nonce()}
	body := req.Token
	body.Description = WithMarker(body.Description, mk)
	like := &astro.Token{Scope: body.Scope, Roles: []astro.Role{{EntityType: string(body.Scope), EntityID: body.EntityID}}}
	nt, err := e.createReconciled(ctx, body, like, mk.Run)
	if err != nil {
		return out, err
	}
	e.Log.Secret(nt.Value)
	out.Token = &TokenInfo{ID: nt.ID, Name: nt.Name, Scope: string(nt.Scope), EntityID: body.EntityID, ExpiresAt: nt.EndAt}
	e.Log.Infof("created token %s (%s)", nt.ID, nt.Name)

	drop := func(cause error) error {
		if derr := e.Astro.DeleteToken(ctx, nt.ID); derr != nil && !astro.IsNotFound(derr) {
			return errors.Join(cause, fmt.Errorf("also failed to delete the new token %s, whose value no target holds: %w", nt.ID, derr))
		}
		e.Log.Infof("deleted the new token %s: no target holds its value", nt.ID)
		return cause
	}
	c, err := e.Reauth(nt.Value)
	if err != nil {
		return out, drop(err)
	}
	if err := e.test(ctx, c, nt.ID); err != nil {
		return out, drop(err)
	}
	var o Outcome
	werr := e.write(ctx, &o, Request{Targets: req.Targets}, nt.Value)
	out.Targets = o.Targets
	if werr != nil {
		written := 0
		for _, t := range o.Targets {
			if t.Status == "written" {
				written++
			}
		}
		if written == 0 {
			return out, drop(werr)
		}
		return out, fmt.Errorf("%w; the token is in the targets marked written. To put a value in every target, rotate it: astro-ci token rotate --token-id %s plus every --target", werr, nt.ID)
	}
	mk.State = Current
	if _, err := e.Astro.UpdateToken(ctx, nt.ID, astro.UpdateTokenRequest{Name: nt.Name, Description: WithMarker(req.Token.Description, mk)}); err != nil {
		return out, fmt.Errorf("every target holds token %s, but marking it current failed: %w", nt.ID, err)
	}
	return out, nil
}
