package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"
)

// Main is astro-sandbox's command line:
//
//	astro-sandbox [serve] [-addr 127.0.0.1:0] [-env-file FILE]
//	astro-sandbox state   -url URL                  (what the fakes hold, values as fingerprints)
//	astro-sandbox check   -url URL -file FILE       (does the value in FILE authenticate with the fake Astro?)
//	astro-sandbox branch  -url URL add|delete NAME  (a branch of the fake GitHub repository comes or goes)
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	var err error
	switch cmd {
	case "serve":
		err = serve(ctx, args, stdout, stderr)
	case "state":
		err = state(args, stdout, stderr)
	case "check":
		err = check(args, stdout, stderr)
	case "branch":
		err = branch(args, stderr)
	default:
		err = fmt.Errorf("unknown command %q (serve, state, check, branch)", cmd)
	}
	if err != nil {
		fmt.Fprintln(stderr, "astro-sandbox:", err)
		return 1
	}
	return 0
}

func serve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:0", "listen address (loopback only)")
	envFile := fs.String("env-file", "", "write the environment for astro-ci to this file (mode 0600)")
	ready := fs.Duration("deployment-ready-after", 3*time.Second, "how long new Deployments stay CREATING")
	dagAfter := fs.Duration("dag-deploy-after", 0, "how long after a finalize a Deployment reports its new DAG bundle")
	imageCommit := fs.String("base-image-commit", "", "the commit production's image was built from (its image deploy's git.commitSha)")
	orphan := fs.Bool("seed-orphan-preview", false, "seed a 3-day-old preview of production whose branch ("+OrphanBranch+") is gone")
	if err := fs.Parse(args); err != nil {
		return err
	}
	host, _, err := net.SplitHostPort(*addr)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("-addr %s: the sandbox serves fake credentials and listens on loopback only", *addr)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	if *imageCommit != "" && !commitRE.MatchString(*imageCommit) {
		ln.Close()
		return fmt.Errorf("-base-image-commit %q is not a full commit SHA", *imageCommit)
	}
	base := "http://" + ln.Addr().String()
	sb := New(base, Options{DeploymentReadyAfter: *ready, DAGDeployAfter: *dagAfter, BaseImageCommit: *imageCommit, OrphanPreview: *orphan})
	srv := &http.Server{Handler: sb, ReadHeaderTimeout: 10 * time.Second}
	if *envFile != "" {
		f, err := os.OpenFile(*envFile+".tmp", os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
		if err != nil {
			return err
		}
		err = sb.WriteEnv(f)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Rename(*envFile+".tmp", *envFile)
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "astro-sandbox: serving fake Astro (%[1]s/v1), GitHub (%[1]s/github/api/v3) and GitLab (%[1]s/gitlab/api/v4) APIs; environment for astro-ci in %[2]s\n", base, *envFile)
	} else {
		fmt.Fprintf(stdout, "astro-sandbox: serving fake Astro API at %s/v1 (use -env-file to get credentials)\n", base)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		return srv.Shutdown(sctx)
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return err
	}
}

var commitRE = regexp.MustCompile(`^[0-9a-f]{40}$`)

func getJSON(url string, out any) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

func state(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("state", flag.ContinueOnError)
	fs.SetOutput(stderr)
	url := fs.String("url", os.Getenv("ASTRO_SANDBOX_URL"), "sandbox base URL")
	summary := fs.Bool("summary", false, "one line per forge secret instead of JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if !*summary {
		var st json.RawMessage
		if err := getJSON(*url+"/_sandbox/state", &st); err != nil {
			return err
		}
		_, err := fmt.Fprintln(stdout, string(st))
		return err
	}
	var st State
	if err := getJSON(*url+"/_sandbox/state", &st); err != nil {
		return err
	}
	names := map[string]string{}
	for _, t := range st.Tokens {
		names[t.ID] = t.Name
	}
	for _, list := range [][]SecretState{st.GitHubSecrets, st.GitLabVariables} {
		for _, v := range list {
			status := "INVALID in Astro"
			if v.Valid {
				status = "valid as " + names[v.TokenID]
			}
			fmt.Fprintf(stdout, "  %-64s %s  %s %s\n", v.Scope+" "+v.Name, v.Fingerprint, status, v.Note)
		}
	}
	var prodDigest string
	for _, d := range st.Deployments {
		if d.ID == DeploymentID {
			prodDigest = d.ImageDigest
		}
	}
	for _, d := range st.Deployments {
		if len(d.Deploys) == 0 || d.ID == DeploymentID {
			continue
		}
		last := d.Deploys[len(d.Deploys)-1]
		img := "Astro Runtime's own image"
		if d.ImageDigest != "" {
			img = "image " + d.ImageDigest[:min(len(d.ImageDigest), 19)]
			if d.ImageDigest == prodDigest {
				img += " (production's)"
			}
		}
		files := 0
		for _, f := range last.Files {
			if !strings.HasSuffix(f, "/") {
				files++
			}
		}
		fmt.Fprintf(stdout, "  %-40s %d deploys, last %s of %d files at %.7s, DAG bundle %s; %s\n", d.Name, len(d.Deploys), last.Type, files, last.CommitSHA, d.DagTarballVersion, img)
	}
	for _, g := range st.GitHubDeployments {
		fmt.Fprintf(stdout, "  GitHub deployment %d of %s (%s): %s\n", g.ID, g.Environment, g.Ref, strings.Join(g.States, " → "))
	}
	_, err := fmt.Fprintf(stdout, "  Astro: %d tokens, %d deployments\n", len(st.Tokens), len(st.Deployments))
	return err
}

func branch(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("branch", flag.ContinueOnError)
	fs.SetOutput(stderr)
	base := fs.String("url", os.Getenv("ASTRO_SANDBOX_URL"), "sandbox base URL")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 2 || (fs.Arg(0) != "add" && fs.Arg(0) != "delete") {
		return errors.New("usage: astro-sandbox branch [-url URL] add|delete NAME")
	}
	method := http.MethodPut
	if fs.Arg(0) == "delete" {
		method = http.MethodDelete
	}
	req, err := http.NewRequest(method, *base+"/_sandbox/github/branches/"+url.PathEscape(fs.Arg(1)), nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		return fmt.Errorf("branch %s: %s", fs.Arg(0), resp.Status)
	}
	return nil
}

func check(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	url := fs.String("url", os.Getenv("ASTRO_SANDBOX_URL"), "sandbox base URL")
	file := fs.String("file", "", "file holding a token value")
	if err := fs.Parse(args); err != nil {
		return err
	}
	b, err := os.ReadFile(*file)
	if err != nil {
		return err
	}
	resp, err := http.Post(*url+"/_sandbox/authenticates", "text/plain", strings.NewReader(string(b)))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var out struct {
		Valid       bool   `json:"valid"`
		TokenID     string `json:"tokenId"`
		Fingerprint string `json:"fingerprint"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return err
	}
	if !out.Valid {
		return fmt.Errorf("%s (%s) does not authenticate with the sandbox", *file, out.Fingerprint)
	}
	_, err = fmt.Fprintf(stdout, "%s: %s authenticates as token %s\n", *file, out.Fingerprint, out.TokenID)
	return err
}
