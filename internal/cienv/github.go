package cienv

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"reflect"
	"strings"

	"github.com/astro-ci/astro-ci/internal/report/echo"
)

// GitHub Actions: https://docs.github.com/en/actions/reference/variables-reference
// (GITHUB_EVENT_NAME, GITHUB_EVENT_PATH, GITHUB_REF, GITHUB_SHA, GITHUB_REPOSITORY)
// and https://docs.github.com/en/webhooks/webhook-events-and-payloads (payloads).

// ghPayload holds the fields of the event payloads astro-ci reads; the rest is
// ignored. One struct serves every event: a field absent from an event's
// payload stays zero.
type ghPayload struct {
	Ref          string  `json:"ref"`           // create/delete: short name; push, workflow_dispatch: full ref
	RefType      string  `json:"ref_type"`      // create/delete: "branch" or "tag"
	MasterBranch string  `json:"master_branch"` // create: the default branch
	Before       string  `json:"before"`        // push
	After        string  `json:"after"`         // push
	Created      *bool   `json:"created"`       // push
	Deleted      *bool   `json:"deleted"`       // push
	Action       string  `json:"action"`        // pull_request
	Number       int     `json:"number"`        // pull_request
	PullRequest  *ghPR   `json:"pull_request"`  // pull_request
	Repository   *ghRepo `json:"repository"`
}

type ghPR struct {
	Number int      `json:"number"`
	Head   ghPRSide `json:"head"`
	Base   ghPRSide `json:"base"`
	Merged bool     `json:"merged"`
}

type ghPRSide struct {
	Ref  string  `json:"ref"`
	SHA  string  `json:"sha"`
	Repo *ghRepo `json:"repo"` // null when the fork was deleted
}

type ghRepo struct {
	FullName      string `json:"full_name"`
	DefaultBranch string `json:"default_branch"`
	MasterBranch  string `json:"master_branch"`
}

// PayloadError is a GitHub event payload that could not be read or lacks a
// field the event needs.
type PayloadError struct {
	Path  string // GITHUB_EVENT_PATH
	Event string // GITHUB_EVENT_NAME
	Field string // JSON path of the field at fault ("pull_request.head.ref"); empty for the whole file
	Err   error
}

func (e *PayloadError) Error() string {
	where := fmt.Sprintf("GitHub %s event payload %s (GITHUB_EVENT_PATH)", e.Event, echo.Quote(e.Path))
	if e.Field != "" {
		return fmt.Sprintf("%s: field %s: %v", where, e.Field, e.Err)
	}
	return fmt.Sprintf("%s: %v", where, e.Err)
}

func (e *PayloadError) Unwrap() error { return e.Err }

var errMissing = errors.New("missing or empty")

// readPayload reads and decodes GITHUB_EVENT_PATH. With required false an
// unset GITHUB_EVENT_PATH yields a nil payload; a set path must be readable and
// valid either way.
func readPayload(env map[string]string, readFile func(string) ([]byte, error), event string, required bool) (*ghPayload, error) {
	path := env["GITHUB_EVENT_PATH"]
	if path == "" {
		if !required {
			return nil, nil
		}
		return nil, fmt.Errorf("GitHub %s event: GITHUB_EVENT_PATH is not set; the event payload is needed to tell what happened", event)
	}
	data, err := readFile(path)
	if err != nil {
		// The path is in the PayloadError already (bounded); the
		// file system's error would repeat it in full.
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = fmt.Errorf("%s: %w", pe.Op, pe.Err)
		}
		return nil, &PayloadError{Path: path, Event: event, Err: fmt.Errorf("cannot read: %w", err)}
	}
	// json.Unmarshal accepts "null" (and leaves the struct empty); the payload
	// must be an object.
	if t := bytes.TrimLeft(data, " \t\r\n"); len(t) == 0 || t[0] != '{' {
		return nil, &PayloadError{Path: path, Event: event, Err: errors.New("not a JSON object")}
	}
	var p ghPayload
	if err := json.Unmarshal(data, &p); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return nil, &PayloadError{Path: path, Event: event, Field: te.Field, Err: fmt.Errorf("expected %s, got JSON %s", jsonKind(te.Type), te.Value)}
		}
		return nil, &PayloadError{Path: path, Event: event, Err: fmt.Errorf("invalid JSON: %w", err)}
	}
	return &p, nil
}

// detectGitHub maps GITHUB_EVENT_NAME and the payload to an Event. It returns
// the source of Event.Branch for error messages.
func detectGitHub(env map[string]string, readFile func(string) ([]byte, error)) (Event, string, error) {
	name := env["GITHUB_EVENT_NAME"]
	ev := Event{System: GitHub, EventName: name, Repository: env["GITHUB_REPOSITORY"]}
	if name == "" {
		return ev, "", errors.New("GITHUB_ACTIONS=true but GITHUB_EVENT_NAME is not set")
	}
	var required bool
	switch name {
	case "create", "delete", "push", "pull_request", "pull_request_target":
		required = true
	case "schedule", "workflow_dispatch":
	default:
		// The payload is not read: its shape is unknown and nothing in it matters.
		ev.Kind = Ignored
		ev.Reason = fmt.Sprintf("GitHub event %s is not a branch, schedule or manual event", echo.Quote(name))
		return ev, "", nil
	}
	p, err := readPayload(env, readFile, name, required)
	if err != nil {
		return ev, "", err
	}
	path := env["GITHUB_EVENT_PATH"]
	if sha := env["GITHUB_SHA"]; sha != "" && !isHex(sha) {
		return ev, "", fmt.Errorf("GITHUB_SHA %s is not a commit SHA", echo.Quote(sha))
	}
	fieldErr := func(field string, err error) error {
		return &PayloadError{Path: path, Event: name, Field: field, Err: err}
	}
	if p != nil && p.Repository != nil {
		// The payload's repository first: under nektos/act GITHUB_REPOSITORY
		// comes from the git remote (default "nektos/act"), the payload from
		// the event file. On GitHub both agree.
		if p.Repository.FullName != "" {
			ev.Repository = p.Repository.FullName
		}
		ev.DefaultBranch = firstNonEmpty(p.Repository.DefaultBranch, p.MasterBranch, p.Repository.MasterBranch)
	} else if p != nil {
		ev.DefaultBranch = p.MasterBranch
	}

	switch name {
	case "create", "delete":
		// Always the payload, never GITHUB_REF*: on delete GITHUB_REF is the
		// default branch (act: the local HEAD), and act sets GITHUB_REF to the
		// raw payload ref on create with GITHUB_REF_NAME/TYPE empty.
		if p.Ref == "" {
			return ev, "", fieldErr("ref", errMissing)
		}
		switch p.RefType {
		case "":
			return ev, "", fieldErr("ref_type", errMissing)
		case "tag":
			ev.Kind = Ignored
			ev.Reason = fmt.Sprintf("GitHub %s event for tag %s: previews are for branches", name, echo.Quote(p.Ref))
			return ev, "", nil
		case "branch":
		default:
			ev.Kind = Ignored
			ev.Reason = fmt.Sprintf("GitHub %s event for ref_type %s: previews are for branches", name, echo.Quote(p.RefType))
			return ev, "", nil
		}
		// The payload carries the short name (github/docs#37014); a
		// hand-written act payload may carry the full ref.
		ev.Branch = strings.TrimPrefix(p.Ref, "refs/heads/")
		if name == "create" {
			ev.Kind = BranchCreated
			ev.SHA = env["GITHUB_SHA"]
			ev.Reason = fmt.Sprintf("GitHub create event: branch %s created", echo.Quote(ev.Branch))
		} else {
			ev.Kind = BranchDeleted
			ev.Reason = fmt.Sprintf("GitHub delete event: branch %s deleted", echo.Quote(ev.Branch))
		}
		return ev, fmt.Sprintf("GitHub %s event payload %s field ref", name, echo.Quote(path)), nil

	case "push":
		if p.Ref == "" {
			return ev, "", fieldErr("ref", errMissing)
		}
		branch, ok := strings.CutPrefix(p.Ref, "refs/heads/")
		if !ok {
			ev.Kind = Ignored
			if tag, isTag := strings.CutPrefix(p.Ref, "refs/tags/"); isTag {
				ev.Reason = fmt.Sprintf("GitHub push of tag %s: previews are for branches", echo.Quote(tag))
			} else {
				ev.Reason = fmt.Sprintf("GitHub push to %s, which is not a branch", echo.Quote(p.Ref))
			}
			return ev, "", nil
		}
		ev.Branch = branch
		created := isZeroSHA(p.Before)
		if p.Created != nil {
			created = *p.Created
		}
		deleted := isZeroSHA(p.After)
		if p.Deleted != nil {
			deleted = *p.Deleted
		}
		switch {
		case created && deleted:
			return ev, "", fieldErr("created", errors.New("both created and deleted are true"))
		case deleted:
			ev.Kind = BranchDeleted
			ev.Reason = fmt.Sprintf("GitHub push deleted branch %s", echo.Quote(branch))
		case created:
			ev.Kind = BranchCreated
			ev.SHA = p.After
			ev.Reason = fmt.Sprintf("GitHub push created branch %s", echo.Quote(branch))
		default:
			ev.Kind = BranchUpdated
			ev.SHA = p.After
			ev.Reason = fmt.Sprintf("GitHub push to branch %s", echo.Quote(branch))
		}
		if ev.SHA != "" && !isHex(ev.SHA) {
			return ev, "", fieldErr("after", fmt.Errorf("%s is not a commit SHA", echo.Quote(ev.SHA)))
		}
		return ev, fmt.Sprintf("GitHub push event payload %s field ref", echo.Quote(path)), nil

	case "pull_request", "pull_request_target":
		return githubPullRequest(ev, p, path, fieldErr)

	case "schedule":
		ev.Kind = Schedule
		ev.SHA = env["GITHUB_SHA"]
		// Scheduled runs use the default branch; GITHUB_REF names it.
		if b, ok := strings.CutPrefix(env["GITHUB_REF"], "refs/heads/"); ok {
			ev.Branch = b
		}
		ev.Reason = "GitHub schedule"
		if ev.Branch != "" {
			ev.Reason += fmt.Sprintf(" on branch %s", echo.Quote(ev.Branch))
		}
		return ev, "GITHUB_REF", nil

	default: // workflow_dispatch
		ev.Kind = Manual
		ev.SHA = env["GITHUB_SHA"]
		ref, src := env["GITHUB_REF"], "GITHUB_REF"
		if p != nil && p.Ref != "" {
			ref, src = p.Ref, fmt.Sprintf("GitHub workflow_dispatch event payload %s field ref", echo.Quote(path))
		}
		switch {
		case strings.HasPrefix(ref, "refs/heads/"):
			ev.Branch = strings.TrimPrefix(ref, "refs/heads/")
		case ref == "" && env["GITHUB_REF_TYPE"] == "branch":
			ev.Branch, src = env["GITHUB_REF_NAME"], "GITHUB_REF_NAME"
		}
		if ev.Branch != "" {
			ev.Reason = fmt.Sprintf("GitHub workflow_dispatch on branch %s", echo.Quote(ev.Branch))
		} else if ref != "" {
			ev.Reason = fmt.Sprintf("GitHub workflow_dispatch on %s, which is not a branch", echo.Quote(ref))
		} else {
			ev.Reason = "GitHub workflow_dispatch"
		}
		return ev, src, nil
	}
}

// githubPullRequest handles pull_request and pull_request_target (same payload).
func githubPullRequest(ev Event, p *ghPayload, path string, fieldErr func(string, error) error) (Event, string, error) {
	name := ev.EventName
	if p.Action == "" {
		return ev, "", fieldErr("action", errMissing)
	}
	pr := p.PullRequest
	if pr == nil {
		return ev, "", fieldErr("pull_request", errMissing)
	}
	ev.PullRequest = p.Number
	if ev.PullRequest == 0 {
		ev.PullRequest = pr.Number
	}
	if ev.PullRequest <= 0 {
		return ev, "", fieldErr("number", errMissing)
	}
	if pr.Head.Ref == "" {
		return ev, "", fieldErr("pull_request.head.ref", errMissing)
	}
	ev.Branch = pr.Head.Ref
	ev.SHA = pr.Head.SHA
	if ev.SHA != "" && !isHex(ev.SHA) {
		return ev, "", fieldErr("pull_request.head.sha", fmt.Errorf("%s is not a commit SHA", echo.Quote(ev.SHA)))
	}
	base := ev.Repository
	if pr.Base.Repo != nil && pr.Base.Repo.FullName != "" {
		base = pr.Base.Repo.FullName
	}
	if pr.Head.Repo == nil || pr.Head.Repo.FullName == "" {
		// The fork was deleted (head.repo is null): the source is unknown,
		// so it is treated as foreign.
		ev.FromFork = true
	} else {
		ev.HeadRepository = pr.Head.Repo.FullName
		// Repository names are case-insensitive on GitHub.
		ev.FromFork = !strings.EqualFold(ev.HeadRepository, base)
	}
	var action string
	switch p.Action {
	case "opened", "reopened":
		ev.Kind, action = BranchCreated, p.Action
	case "synchronize":
		ev.Kind, action = BranchUpdated, p.Action
	case "closed":
		ev.Kind, action = BranchDeleted, "closed (not merged)"
		if pr.Merged {
			action = "closed (merged)"
		}
		ev.SHA = "" // the head may be gone; nothing is built from it
	default:
		ev.Kind, action = Ignored, fmt.Sprintf("action %s", echo.Quote(p.Action))
	}
	what := fmt.Sprintf("GitHub %s #%d %s for branch %s", name, ev.PullRequest, action, echo.Quote(ev.Branch))
	switch {
	case ev.FromFork && ev.HeadRepository != "":
		what += fmt.Sprintf(" of fork %s", echo.Quote(ev.HeadRepository))
	case ev.FromFork:
		what += " of a deleted fork"
	}
	if ev.Kind == Ignored {
		what += ": only opened, reopened, synchronize and closed change a preview"
	}
	if name == "pull_request_target" {
		what += "; pull_request_target runs with the base repository's secrets and must not run the head's code"
	}
	ev.Reason = what
	return ev, fmt.Sprintf("GitHub %s event payload %s field pull_request.head.ref", name, echo.Quote(path)), nil
}

// jsonKind names the JSON type a Go type decodes from, for error messages.
func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		return "object"
	case reflect.Slice, reflect.Array:
		return "array"
	case reflect.Bool:
		return "boolean"
	case reflect.String:
		return "string"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "integer"
	case reflect.Float32, reflect.Float64:
		return "number"
	default:
		return t.String()
	}
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}
