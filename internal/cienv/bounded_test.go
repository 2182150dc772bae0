package cienv

import (
	"strings"
	"testing"
)

// huge is a 5 MB value, as a hostile event payload or variable can carry.
var huge = strings.Repeat("a", 5<<20)

// Every message Detect composes from such input stays short: the input is cut
// and its length said, so a 5 MB ref cannot become a 5 MB log line.
func TestHugeInputGivesShortMessages(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		env     map[string]string
		payload string
	}{
		"create ref":        {env: ghRun("create"), payload: `{"ref":"refs/heads/` + huge + `","ref_type":"branch"}`},
		"delete ref":        {env: ghRun("delete"), payload: `{"ref":"` + huge + `","ref_type":"branch"}`},
		"create ref_type":   {env: ghRun("create"), payload: `{"ref":"x","ref_type":"` + huge + `"}`},
		"push tag":          {env: ghRun("push"), payload: `{"ref":"refs/tags/` + huge + `"}`},
		"push other ref":    {env: ghRun("push"), payload: `{"ref":"refs/notes/` + huge + `"}`},
		"push branch":       {env: ghRun("push"), payload: `{"ref":"refs/heads/` + huge + `"}`},
		"pull request head": {env: ghRun("pull_request"), payload: `{"action":"opened","number":1,"pull_request":{"head":{"ref":"` + huge + `"}}}`},
		"pull request act":  {env: ghRun("pull_request"), payload: `{"action":"` + huge + `","number":1,"pull_request":{"head":{"ref":"x"}}}`},
		"pull request fork": {env: ghRun("pull_request"), payload: `{"action":"labeled","number":1,"pull_request":{"head":{"ref":"x","repo":{"full_name":"` + huge + `"}}}}`},
		"dispatch ref":      {env: ghRun("workflow_dispatch"), payload: `{"ref":"refs/tags/` + huge + `"}`},
		"event name":        {env: ghRun(huge), payload: `{}`},
		"sha":               {env: ghRun("create", "GITHUB_SHA", huge), payload: `{"ref":"x","ref_type":"branch"}`},
		"repository":        {env: ghRun("create", "GITHUB_REPOSITORY", huge+"\x01"), payload: `{"ref":"x","ref_type":"branch"}`},
		"event path":        {env: ghRun("create", "GITHUB_EVENT_PATH", "/"+huge), payload: `{}`},
		"gitlab branch":     {env: map[string]string{"GITLAB_CI": "true", "CI_PIPELINE_SOURCE": "push", "CI_COMMIT_BRANCH": huge}},
		"gitlab tag":        {env: map[string]string{"GITLAB_CI": "true", "CI_PIPELINE_SOURCE": "push", "CI_COMMIT_TAG": huge}},
		"gitlab source":     {env: map[string]string{"GITLAB_CI": "true", "CI_PIPELINE_SOURCE": huge}},
		"gitlab sha":        {env: map[string]string{"GITLAB_CI": "true", "CI_PIPELINE_SOURCE": "push", "CI_COMMIT_SHA": huge}},
		"gitlab mr":         {env: map[string]string{"GITLAB_CI": "true", "CI_PIPELINE_SOURCE": "push", "CI_MERGE_REQUEST_IID": huge}},
		"gitlab env":        {env: map[string]string{"GITLAB_CI": "true", "CI_PIPELINE_SOURCE": "push", "CI_COMMIT_BRANCH": "x", "CI_ENVIRONMENT_ACTION": "stop", "CI_ENVIRONMENT_NAME": huge}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ev, err := Detect(tt.env, files(map[string]string{evPath: tt.payload}), Options{})
			msg := ev.Reason
			if err != nil {
				msg = err.Error()
			}
			if len(msg) > 1024 {
				t.Fatalf("%d bytes: %.200s", len(msg), msg)
			}
		})
	}
	// The explicit branch and kind options are input too.
	for _, o := range []Options{{Branch: huge, Kind: BranchCreated}, {Kind: Kind(huge)}} {
		_, err := Detect(map[string]string{}, nil, o)
		if err == nil || len(err.Error()) > 1024 {
			t.Fatalf("%v", len(err.Error()))
		}
	}
	if _, err := ParseKind(huge); err == nil || len(err.Error()) > 1024 {
		t.Fatal("ParseKind")
	}
}
