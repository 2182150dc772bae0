package cli

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/astro-ci/astro-ci/internal/secret"
	"github.com/astro-ci/astro-ci/internal/target"
)

// targetDefaults: what a bare NAME target means in this CI job.
func (r *runner) targetDefaults() target.Defaults {
	d := target.Defaults{}
	switch {
	case r.cfg.GitHubActions:
		d.GitHubRepository = r.cfg.GitHubRepository
	case r.cfg.GitLabCI:
		d.GitLabProject = r.cfg.GitLabProjectID
	}
	return d
}

// parseTargets validates every address before anything happens.
func (r *runner) parseTargets(raws []string) ([]target.Target, error) {
	ts, err := target.ParseAll(raws, r.targetDefaults())
	if err != nil {
		return nil, usageError{err}
	}
	return ts, nil
}

// fanout returns the writer for targets with the stores this run has
// credentials for.
func (r *runner) fanout() (*target.Fanout, error) {
	if r.fan != nil {
		return r.fan, nil
	}
	stores, err := r.forgeStores()
	if err != nil {
		return nil, err
	}
	stores[target.File] = target.FileStore{}
	for k, v := range r.m.Stores {
		stores[k] = v
	}
	// One fan-out per run: stores cache public keys and app tokens.
	r.fan = &target.Fanout{Stores: stores, Sleep: r.sleep, Now: r.now, Infof: r.rep.Infof}
	return r.fan, nil
}

// putOptions are target put's flags.
type putOptions struct{ targets listFlag }

func (o *putOptions) validate(given) error {
	if len(o.targets) == 0 {
		return usagef("target put: give at least one --target")
	}
	return nil
}

func (b *builder) targetPutCmd() *cobra.Command {
	o := &putOptions{}
	c := &cobra.Command{
		Use:   "put --target T... < value",
		Short: "Write a value read from stdin to targets (finishes an interrupted write-back)",
		Long: `Put writes the value read from stdin to every target, after proving each writable. This is how
an operator finishes a write-back that failed after an in-place rotation, from the recovery
blob the rotation printed. The value is never an argument.

Target forms: file:///abs/path (a file, mode 0600, replaced atomically);
github://OWNER/REPO/secrets/NAME, github://OWNER/REPO/environments/ENV/secrets/NAME,
github://orgs/ORG/secrets/NAME, github://OWNER/REPO/dependabot/secrets/NAME;
gitlab://GROUP/PROJECT/variables/KEY[?environment_scope=S], gitlab://groups/GROUP/variables/KEY;
or a bare NAME: that secret or variable of the repository or project the job runs for.`,
		Example: `  age -d -i key.txt recovery.age | astro-ci target put --target github://acme/dags/secrets/ASTRO_API_TOKEN`,
	}
	targetFlag(c, &o.targets, "where to write the value read from stdin (repeatable)")
	return b.leaf(c, o, func() error { return b.r.targetPut(o) })
}

// targetPut writes a value read from stdin to targets: how an operator
// finishes a write-back that failed after an in-place rotation.
func (r *runner) targetPut(o *putOptions) error {
	ts, err := r.parseTargets(o.targets)
	if err != nil {
		return err
	}
	v, err := readSecretStdin(r.m.Stdin)
	if err != nil {
		return err
	}
	r.rep.Secret(v)
	f, err := r.fanout()
	if err != nil {
		return err
	}
	if err := target.Err(f.Preflight(r.ctx, ts, target.Proof{})); err != nil {
		return fmt.Errorf("preflight failed, nothing was written: %w", err)
	}
	res := f.Put(r.ctx, ts, v)
	r.printTargetResults(res)
	return target.Err(res)
}

func (r *runner) printTargetResults(res []target.Result) {
	type row struct {
		Target string `json:"target"`
		Status string `json:"status"`
		Error  string `json:"error,omitempty"`
	}
	var rows []row
	for _, x := range res {
		rw := row{Target: x.Target.String(), Status: "written"}
		if x.Err != nil {
			rw.Status, rw.Error = "failed", x.Err.Error()
		}
		rows = append(rows, rw)
	}
	_ = r.rep.Result(struct {
		Targets []row `json:"targets"`
	}{rows}, func(w io.Writer) {
		for _, rw := range rows {
			fmt.Fprintf(w, "%-8s %s\n", rw.Status, rw.Target)
		}
	})
}

// readSecretStdin reads one value from stdin, trimming the trailing newline
// that echo and most tools add.
func readSecretStdin(in io.Reader) (secret.Value, error) {
	if in == nil {
		return secret.Value{}, usagef("no value on stdin")
	}
	b, err := io.ReadAll(io.LimitReader(in, 64<<10))
	if err != nil {
		return secret.Value{}, fmt.Errorf("reading stdin: %w", err)
	}
	s := strings.TrimRight(string(b), "\r\n")
	if s == "" {
		return secret.Value{}, usagef("no value on stdin: pipe the value in, e.g. age -d -i key.txt recovery.age | astro-ci target put --target ...")
	}
	return secret.New(s), nil
}
