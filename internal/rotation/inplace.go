package rotation

import (
	"context"
	"fmt"
	"time"

	"github.com/astro-ci/astro-ci/internal/astro"
)

// rotateInPlace uses Astro's rotate. Between its answer and the last write
// the new value exists only in this process (and in the recovery blob, when
// a recipient is set), which is why overlap is the default.
func (e *Engine) rotateInPlace(ctx context.Context, out *Outcome, tok *astro.Token, req Request) error {
	rt, err := e.Astro.RotateToken(ctx, tok.ID)
	if astro.IsUncertain(err) {
		rt, err = e.reconcileRotate(ctx, tok, out.Self, err)
	}
	if err != nil {
		return fmt.Errorf("rotating token %s: %w", tok.ID, err)
	}
	e.Log.Secret(rt.Value)
	out.Rotated = true
	out.New = &TokenInfo{ID: rt.ID, Name: rt.Name, Scope: string(rt.Scope), EntityID: tok.EntityID(), ExpiresAt: rt.EndAt}
	e.Log.Infof("rotated token %s in place; its old value no longer works", rt.ID)

	if req.Recovery != nil {
		blob, serr := req.Recovery.Seal(rt.Value)
		if serr != nil {
			e.Log.Warnf("could not encrypt the recovery copy: %v", serr)
		} else {
			out.Recovery = blob
			e.Log.Infof("recovery copy of the new value, encrypted to the recovery recipient (decrypt with: age -d -i KEYFILE):\n%s", blob)
		}
	}
	newClient, cerr := e.Reauth(rt.Value)
	if cerr == nil && out.Self {
		e.Astro = newClient
	}

	if err := e.write(ctx, out, req, rt.Value); err != nil {
		how := "rotate again and write every target: " + rerun(req)
		if out.Recovery != "" {
			how = "decrypt the recovery copy above and write it to each stale target: age -d -i KEYFILE recovery.age | astro-ci target put " + targetFlags(out) + " (or " + how + ")"
		}
		return fmt.Errorf("%w. The new value is in every target marked written; the old value no longer works. To finish: %s", err, how)
	}
	if cerr == nil {
		if err := e.test(ctx, newClient, rt.ID); err != nil {
			return err
		}
	}
	return nil
}

func targetFlags(out *Outcome) string {
	s := ""
	for _, t := range out.Targets {
		if t.Status != "written" {
			s += " --target '" + t.Target + "'"
		}
	}
	if s == "" {
		return s
	}
	return s[1:]
}

// reconcileRotate settles a rotate whose answer was lost. If it took effect,
// its value died with the response and no target holds it, so rotating
// again loses nothing; if it did not, rotating again is the first rotate.
// Either way one more rotate is right, but only a caller that can still
// authenticate can send it: when the engine rotated its own token and the
// rotate took effect, the credential is gone and the run must stop.
func (e *Engine) reconcileRotate(ctx context.Context, before *astro.Token, self bool, cause error) (*astro.Token, error) {
	e.Log.Warnf("%v; checking Astro before trying again", cause)
	now, err := e.Astro.GetToken(ctx, before.ID)
	switch {
	case err != nil && astro.IsUnauthorized(err) && self:
		return nil, fmt.Errorf("the rotate took effect but Astro's answer was lost, so the new value is unknown and the old one (in ASTRO_API_TOKEN) no longer works; create a new token in the Astro UI and store it in the targets: %w", cause)
	case err != nil:
		return nil, fmt.Errorf("cannot tell whether the rotate took effect (%v): %w", err, cause)
	case !sameTime(now.LastRotatedAt, before.LastRotatedAt):
		e.Log.Infof("the lost rotate took effect; no target holds its value, rotating again")
	default:
		e.Log.Infof("the lost rotate did not take effect; sending it again")
	}
	return e.Astro.RotateToken(ctx, before.ID)
}

func sameTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Equal(*b)
}
