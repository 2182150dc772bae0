package kill

import (
	"fmt"
	"io"
	"maps"
	"regexp"
	"strings"

	"filippo.io/age"
	"filippo.io/age/armor"

	"github.com/astro-ci/astro-ci/internal/astrofake"
	"github.com/astro-ci/astro-ci/internal/preview"
	"github.com/astro-ci/astro-ci/internal/rotation"
	"github.com/astro-ci/astro-ci/internal/sandbox"
)

// scenario is one command the harnesses drive, set up in a fresh world.
type scenario struct {
	name string
	// everyPoint: the short form still covers every kill point (overlap
	// rotation); the others are sampled.
	everyPoint bool
	setup      func(w *world) *job
}

// job is a scenario set up in one world: the command line, where its value
// goes, and what convergence means for it.
type job struct {
	args    []string
	env     map[string]string
	targets []target
	// seeded: the targets hold the current value before the run.
	seeded bool
	// inPlace: Astro's rotate kills the old value; the recovery blob is what
	// survives a kill between the rotate's answer and the last write.
	inPlace  bool
	recovery *age.X25519Identity
	// rotated: the token an in-place rotation rotates, and its value before.
	rotatedID, oldValue string
	// rerunEnv is the environment of the rerun: the next job reads the
	// credential from where the last run wrote it.
	rerunEnv func() map[string]string
	// lineage lists the live tokens that must end as exactly one.
	lineage func() []astrofake.TokenInfo
	// extra checks of convergence (previews: one Deployment).
	extra func() []string
	// exists: a rerun may refuse because the killed run finished (token
	// create refuses a name that exists); converged all the same.
	exists *regexp.Regexp
}

// done: the interrupted run finished its work (a token of the lineage is
// current), so a rerun that refuses with exists is right.
func (j *job) done() bool {
	if j.exists == nil {
		return false
	}
	for _, t := range j.lineage() {
		if m, ok := rotation.ParseMarker(t.Description); !ok || m.State == rotation.Current {
			return true
		}
	}
	return false
}

func (j *job) addrs() []string {
	var out []string
	for _, t := range j.targets {
		out = append(out, "--target", t.addr)
	}
	return out
}

// credentialFrom: the rerun's ASTRO_API_TOKEN is what t holds, as the
// next CI job reads it from the secret or variable the last run wrote.
func (j *job) credentialFrom(t target) func() map[string]string {
	return func() map[string]string {
		env := maps.Clone(j.env)
		if v, ok := t.read(); ok {
			env["ASTRO_API_TOKEN"] = v
		}
		return env
	}
}

var scenarios = []scenario{
	{name: "rotate-overlap", everyPoint: true, setup: setupOverlap},
	{name: "rotate-overlap-self", everyPoint: true, setup: setupOverlapSelf},
	{name: "rotate-inplace", setup: setupInPlace},
	{name: "token-create", setup: setupCreate},
	{name: "preview-create", setup: setupPreview},
}

func forgeTargets(w *world, name string) []target {
	return []target{w.fileTarget(strings.ToLower(name)), w.ghTarget(name), w.glTarget(name, "")}
}

// seededJob: a job whose targets (named name in each forge, and a file)
// hold v already.
func seededJob(w *world, name, v string) *job {
	j := &job{targets: forgeTargets(w, name), seeded: true}
	for _, t := range j.targets {
		w.seed(t, v)
	}
	return j
}

// setupOverlap: the admin credential rotates deploy-bot (a Workspace token
// expiring in 3 days) by overlap; its value is in a file, a GitHub
// repository secret and a GitLab project variable. GitHub Actions.
func setupOverlap(w *world) *job {
	j := seededJob(w, "DEPLOY_TOKEN", w.deployValue())
	j.env = w.env(github, "{rundir}")
	j.env["ASTRO_API_TOKEN"] = w.adminValue()
	j.args = append([]string{"token", "rotate", "--token-id", w.deployID()}, j.addrs()...)
	j.rerunEnv = func() map[string]string { return j.env }
	j.lineage = func() []astrofake.TokenInfo { return w.liveTokens("deploy-bot") }
	return j
}

// setupOverlapSelf: ASTRO_API_TOKEN rotates itself by overlap, the default
// of a schedule; the next job reads ASTRO_API_TOKEN from the GitHub secret.
func setupOverlapSelf(w *world) *job {
	j := seededJob(w, "ASTRO_API_TOKEN", w.adminValue())
	j.env = w.env(github, "{rundir}")
	j.env["ASTRO_API_TOKEN"] = w.adminValue()
	j.args = append([]string{"token", "rotate"}, j.addrs()...)
	j.rerunEnv = j.credentialFrom(j.targets[1])
	j.lineage = func() []astrofake.TokenInfo { return w.liveTokens("astro-ci admin") }
	return j
}

// setupInPlace: Astro's rotate of deploy-bot with a second credential
// (ASTRO_CI_API_TOKEN, the admin) and a recovery recipient. GitLab CI.
func setupInPlace(w *world) *job {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		w.t.Fatal(err)
	}
	j := seededJob(w, "DEPLOY_TOKEN", w.deployValue())
	j.inPlace, j.recovery, j.rotatedID, j.oldValue = true, id, w.deployID(), w.deployValue()
	j.env = w.env(gitlab, "{rundir}")
	j.env["ASTRO_CI_API_TOKEN"] = w.adminValue()
	j.env["ASTRO_API_TOKEN"] = w.deployValue()
	j.args = append([]string{"token", "rotate", "--strategy", "rotate", "--token-id", w.deployID(), "--recovery-recipient", id.Recipient().String()}, j.addrs()...)
	j.rerunEnv = j.credentialFrom(j.targets[2])
	j.lineage = func() []astrofake.TokenInfo { return w.liveTokens("deploy-bot") }
	return j
}

// setupCreate: token create of a Workspace token into empty targets. Local.
func setupCreate(w *world) *job {
	j := &job{targets: forgeTargets(w, "KILL_BOT_TOKEN")}
	j.env = w.env(local, "{rundir}")
	j.env["ASTRO_API_TOKEN"] = w.adminValue()
	j.args = append([]string{"token", "create", "--name", "kill-bot", "--scope", "WORKSPACE", "--entity-id", sandbox.WorkspaceID,
		"--role", "WORKSPACE_OPERATOR", "--expiry-days", "30", "--description", "made by the kill harness"}, j.addrs()...)
	j.rerunEnv = func() map[string]string { return j.env }
	j.lineage = func() []astrofake.TokenInfo { return w.liveTokens("kill-bot") }
	// The killed run may have finished its work (the token is current and
	// in every target): the rerun then refuses to make a second one.
	j.exists = regexp.MustCompile(`already exists`)
	return j
}

const previewBranch = "feature/kill-safety"

// previewName and previewSlug as astro-ci derives them (a branch with a
// slash gets a hash suffix).
var previewName, previewSlug, _ = preview.Name("preview-", previewBranch)

// setupPreview: preview create of the production Deployment for a branch,
// its token to a file, a GitHub environment secret (the environment made
// for it) and a GitLab variable of the review environment. GitLab CI (so a
// dotenv file is written too).
func setupPreview(w *world) *job {
	j := &job{targets: []target{
		w.fileTarget(previewSlug + ".token"),
		w.ghEnvTarget("preview-"+previewSlug, "ASTRO_API_TOKEN"),
		w.glTarget("ASTRO_API_TOKEN", "review/"+previewSlug),
	}}
	j.env = w.env(gitlab, "{rundir}")
	j.env["ASTRO_API_TOKEN"] = w.adminValue()
	j.args = []string{"preview", "create", "--base-deployment", sandbox.DeploymentID, "--branch", previewBranch,
		"--token-target", "file://" + w.dir + "/{slug}.token",
		"--token-target", "github://" + ghRepo + "/environments/preview-{slug}/secrets/ASTRO_API_TOKEN?create_environment=true",
		"--token-target", "gitlab://" + glProject + "/variables/ASTRO_API_TOKEN?environment_scope=review/{slug}",
	}
	j.rerunEnv = func() map[string]string { return j.env }
	previews := func() []astrofake.DeploymentInfo {
		var out []astrofake.DeploymentInfo
		for _, d := range w.astro().Deployments() {
			if d.Name == previewName && !d.Deleted {
				out = append(out, d)
			}
		}
		return out
	}
	j.lineage = func() []astrofake.TokenInfo {
		var out []astrofake.TokenInfo
		for _, t := range w.astro().Tokens() {
			for _, d := range previews() {
				if t.Scope == "DEPLOYMENT" && t.EntityID == d.ID {
					out = append(out, t)
				}
			}
		}
		return out
	}
	j.extra = func() []string {
		if ds := previews(); len(ds) != 1 {
			return []string{fmt.Sprintf("%d preview Deployments named %s, want 1", len(ds), previewName)}
		}
		return nil
	}
	return j
}

// problems collects what a check found.
type problems []string

func (p *problems) add(format string, args ...any) { *p = append(*p, fmt.Sprintf(format, args...)) }

// afterKill checks the invariant right after a kill (or a failed run):
// every target that held a value still holds one Astro accepts, and a
// target written meanwhile holds one Astro accepts too. For an in-place
// rotation, see inPlaceAfterKill.
func (j *job) afterKill(w *world, out string) problems {
	if j.inPlace {
		return j.inPlaceAfterKill(w, out)
	}
	return j.targetsLive(w)
}

// targetsLive: the overlap and create invariant.
func (j *job) targetsLive(w *world) problems {
	var ps problems
	for _, h := range w.holdings(j.targets) {
		switch {
		case j.seeded && !h.ok:
			ps.add("%s lost its value", h.addr)
		case h.ok && !w.astro().Authenticates(h.value):
			ps.add("left dead: %s", w.describe(h))
		}
	}
	return ps
}

var ageBlock = regexp.MustCompile(`(?s)-----BEGIN AGE ENCRYPTED FILE-----.*?-----END AGE ENCRYPTED FILE-----`)

// recovered decrypts the recovery blob in out ("" when there is none).
func (j *job) recovered(w *world, out string, ps *problems) string {
	blob := ageBlock.FindString(out)
	if blob == "" {
		return ""
	}
	r, err := age.Decrypt(armor.NewReader(strings.NewReader(blob+"\n")), j.recovery)
	if err != nil {
		ps.add("the recovery blob does not decrypt with the recipient's key: %v", err)
		return ""
	}
	b, err := io.ReadAll(r)
	if err != nil {
		ps.add("reading the recovery blob: %v", err)
		return ""
	}
	w.learn(string(b), "the recovery blob")
	return string(b)
}

// inPlaceAfterKill: before Astro applied the rotate, every target holds the
// old, live value. After it, the old value is dead (the documented window):
// once the rotate's answer reached the process, the recovery blob must have
// been printed before any target write, and decrypt to the value Astro
// holds; every target holds the old value or that one.
func (j *job) inPlaceAfterKill(w *world, out string) problems {
	var ps problems
	tok, _ := w.astro().Token(j.rotatedID)
	hs := w.holdings(j.targets)
	if tok.LastRotatedAt.IsZero() {
		for _, h := range hs {
			if !h.ok || h.value != j.oldValue || !w.astro().Authenticates(h.value) {
				ps.add("not rotated yet, but %s", w.describe(h))
			}
		}
		return ps
	}
	answered := rotateAnswered(w.px.steps())
	plain := j.recovered(w, out, &ps)
	wrote := false
	for _, h := range hs {
		if h.ok && h.value != j.oldValue {
			wrote = true
		}
	}
	switch {
	case (answered || wrote) && plain == "":
		ps.add("the rotate's answer reached the run (a target written: %v), but no recovery blob was printed before the kill", wrote)
	case plain != "" && !w.astro().Authenticates(plain):
		ps.add("the recovery blob holds a value Astro does not accept")
	}
	for _, h := range hs {
		if h.ok && h.value != j.oldValue && h.value != plain {
			ps.add("%s holds neither the old value nor the recovered one: %s", h.addr, w.describe(h))
		}
	}
	return ps
}

// rotateAnswered: the answer of a rotate reached the run.
func rotateAnswered(seen []Seen) bool {
	for _, s := range seen {
		if strings.HasSuffix(s.Route, "/rotate") && s.Answered && s.Status == 200 {
			return true
		}
	}
	return false
}

// converged: every target holds the same value, Astro accepts it, and the
// lineage has exactly one live token, the one the targets hold.
func (j *job) converged(w *world) problems {
	var ps problems
	hs := w.holdings(j.targets)
	var want string
	for i, h := range hs {
		switch {
		case !h.ok:
			ps.add("not converged: %s is empty", h.addr)
		case !w.astro().Authenticates(h.value):
			ps.add("not converged: %s", w.describe(h))
		case i > 0 && h.value != want:
			ps.add("not converged: %s, but %s", w.describe(hs[0]), w.describe(h))
		}
		if i == 0 {
			want = h.value
		}
	}
	live := j.lineage()
	var ids []string
	for _, tk := range live {
		ids = append(ids, tk.ID)
	}
	if len(live) != 1 {
		ps.add("not converged: %d live tokens in the lineage (%s), want 1", len(live), strings.Join(ids, ", "))
	} else if id, _ := w.astro().TokenIDForValue(want); id != live[0].ID {
		ps.add("not converged: the targets hold token %s, the live one is %s", id, live[0].ID)
	}
	if j.extra != nil {
		ps = append(ps, j.extra()...)
	}
	return ps
}

// state describes what every target holds, without values.
func (j *job) state(w *world) string {
	var parts []string
	for _, h := range w.holdings(j.targets) {
		parts = append(parts, w.describe(h))
	}
	return strings.Join(parts, "; ")
}
