package githubdeploy

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/google/go-github/v60/github"
)

// Comment is the content of the preview's pull request comment.
type Comment struct {
	// Key identifies the preview (the marker's branch hash): the comment
	// carrying <!-- astro-ci:preview:<Key> --> is the one kept up to date.
	Key                string
	Name               string // the preview Deployment's name
	Status             string // "deployed", "deploying", "deleted", "failed", ...
	URL                string // the Airflow UI
	Commit             string // the last deployed commit
	CommitURL          string
	ImageBuildRequired bool
	BuildCommand       string // what a Docker-capable job runs, when ImageBuildRequired
}

var keyRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// Marker is the hidden line that identifies the comment of key.
func Marker(key string) string { return "<!-- astro-ci:preview:" + key + " -->" }

// maxCommentPages bounds the search for the existing comment.
const maxCommentPages = 10

// mdCode renders s as inline code that cannot break out of its backticks
// or the table cell.
func mdCode(s string) string {
	s = strings.NewReplacer("`", "'", "|", "\\|", "\n", " ", "\r", " ").Replace(s)
	return "`" + s + "`"
}

// Body renders the comment.
func (c Comment) Body() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n### Astro preview %s\n\n| | |\n|---|---|\n", Marker(c.Key), mdCode(c.Name))
	fmt.Fprintf(&b, "| Status | %s |\n", mdCode(c.Status))
	if c.URL != "" && strings.HasPrefix(c.URL, "https://") {
		fmt.Fprintf(&b, "| Airflow UI | [open](%s) |\n", strings.NewReplacer("(", "%28", ")", "%29", " ", "%20", "|", "%7C").Replace(c.URL))
	}
	if c.Commit != "" {
		commit := mdCode(c.Commit)
		if strings.HasPrefix(c.CommitURL, "https://") {
			commit = "[" + commit + "](" + strings.NewReplacer("(", "%28", ")", "%29", " ", "%20", "|", "%7C").Replace(c.CommitURL) + ")"
		}
		fmt.Fprintf(&b, "| Last deployed commit | %s |\n", commit)
	}
	if c.ImageBuildRequired {
		b.WriteString("| Image build required | yes |\n\n")
		b.WriteString("Files outside `dags/` changed since the base's image was built, and this preview runs the base's image: build and deploy an image from a job with Docker")
		if c.BuildCommand != "" {
			fmt.Fprintf(&b, ":\n\n```sh\n%s\n```\n", strings.ReplaceAll(c.BuildCommand, "```", "'''"))
		} else {
			b.WriteString(".\n")
		}
	} else {
		b.WriteString("| Image build required | no |\n")
	}
	return b.String()
}

// UpsertComment creates the preview's comment on pull request pr, or
// updates the one carrying its marker.
func (c *Client) UpsertComment(ctx context.Context, pr int, cm Comment) (Outcome, error) {
	if !keyRE.MatchString(cm.Key) {
		return Outcome{}, fmt.Errorf("comment key %q must be 1 to 64 letters, digits, '.', '_' or '-'", cm.Key)
	}
	marker := Marker(cm.Key)
	body := cm.Body()
	var found int64
	opts := &github.IssueListCommentsOptions{ListOptions: github.ListOptions{PerPage: 100}}
	for range maxCommentPages {
		cs, res, err := c.gh.Issues.ListComments(ctx, c.repo.Owner, c.repo.Name, pr, opts)
		if err != nil {
			if w, ok := missingPermission(err, "read the pull request's comments", "pull-requests: write"); ok {
				return Outcome{Warning: w}, nil
			}
			return Outcome{}, describe(fmt.Sprintf("listing the comments of pull request #%d", pr), err)
		}
		for _, x := range cs {
			if strings.HasPrefix(x.GetBody(), marker) {
				found = x.GetID()
			}
		}
		if res.NextPage == 0 {
			break
		}
		opts.Page = res.NextPage
	}
	if found != 0 {
		_, _, err := c.gh.Issues.EditComment(ctx, c.repo.Owner, c.repo.Name, found, &github.IssueComment{Body: &body})
		if err == nil {
			return Outcome{CommentID: found}, nil
		}
		// A 403 here is a comment someone else wrote with our marker (a
		// token that may not comment at all failed above, or fails below):
		// write our own.
		if _, forbidden := missingPermission(err, "", ""); !forbidden {
			return Outcome{}, describe("updating the preview comment", err)
		}
	}
	created, _, err := c.gh.Issues.CreateComment(ctx, c.repo.Owner, c.repo.Name, pr, &github.IssueComment{Body: &body})
	if err != nil {
		if w, ok := missingPermission(err, "comment on the pull request", "pull-requests: write"); ok {
			return Outcome{Warning: w}, nil
		}
		return Outcome{}, describe(fmt.Sprintf("commenting on pull request #%d", pr), err)
	}
	return Outcome{CommentID: created.GetID()}, nil
}
