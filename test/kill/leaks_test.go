package kill

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
)

// scanLeaks looks for every value the world handed out (the token field of
// every create and rotate answer, GitLab variable values, the seeded
// credentials, whatever the test read from a target or a recovery blob) in
// everything every run wrote: stdout, stderr and every file in its
// directory (GITHUB_OUTPUT, GITHUB_STEP_SUMMARY, GITHUB_ENV, dotenv files).
// Target files live outside run directories: holding the value is their job.
func (w *world) scanLeaks() {
	secrets := w.secrets()
	w.mu.Lock()
	procs := append([]*proc(nil), w.procs...)
	w.mu.Unlock()
	var scanned int64
	for i, p := range procs {
		<-p.exited
		outputs := map[string]string{"stdout": p.stdout.String(), "stderr": p.stderr.String()}
		_ = filepath.WalkDir(p.dir, func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return nil //nolint:nilerr // an entry that cannot be read holds nothing to scan
			}
			b, rerr := os.ReadFile(path)
			if rerr == nil {
				outputs[filepath.Base(path)] = string(b)
			}
			return nil
		})
		github := strings.Contains(strings.Join(p.cmd.Env, "\n"), "GITHUB_ACTIONS=true")
		for name, out := range outputs {
			scanned += int64(len(out))
			out = dropMasks(out)
			if !github && strings.Contains(outputs[name], "::add-mask::") {
				w.t.Errorf("run %d (%s): %s has ::add-mask:: lines outside GitHub Actions, where nothing masks them", i+1, strings.Join(p.cmd.Args[1:3], " "), name)
			}
			for v, what := range secrets {
				if probe := leaked(out, v); probe != "" {
					w.t.Errorf("LEAK: run %d (%s): %s shows %s of %s", i+1, strings.Join(p.cmd.Args[1:3], " "), name, probe, what)
				}
			}
		}
	}
	figures.scanned(scanned, len(procs), len(secrets))
}

// leaked says which part of v is in out: the value, or (for a JWT) its
// payload or signature alone, which are as bad.
func leaked(out, v string) string {
	if len(v) < 16 {
		return ""
	}
	if strings.Contains(out, v) {
		return "the value"
	}
	if parts := strings.Split(v, "."); len(parts) == 3 {
		for i, name := range []string{"", "the JWT payload", "the JWT signature"} {
			if i > 0 && len(parts[i]) >= 16 && strings.Contains(out, parts[i]) {
				return name
			}
		}
	}
	return ""
}

// dropMasks removes ::add-mask:: lines: they carry the value on purpose, to
// the GitHub runner, which hides it everywhere else.
func dropMasks(out string) string {
	if !strings.Contains(out, "::add-mask::") {
		return out
	}
	var keep []string
	for _, l := range strings.Split(out, "\n") {
		if !strings.HasPrefix(l, "::add-mask::") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}

// figures are what RELIABILITY.md cites; each family adds its counts.
var figures = &tally{Kill: map[string]int{}, KillTotal: map[string]int{}}

type tally struct {
	mu sync.Mutex
	// Kill: kill points survived per scenario; KillTotal: how many the
	// scenario has (the short form samples).
	Kill      map[string]int `json:"killPointsSurvived"`
	KillTotal map[string]int `json:"killPointsEnumerated"`
	// Fault matrix. FaultReached: the cases whose fault the run reached
	// (a case that does not reach it fails); FaultSites: the (command,
	// route, call) sites the cases were at.
	FaultCases    int      `json:"faultCases"`
	FaultReached  int      `json:"faultCasesReached"`
	FaultSites    int      `json:"faultSites"`
	FaultKinds    []string `json:"faultKinds"`
	FaultRoutes   []string `json:"faultRoutes"`
	FaultCommands []string `json:"faultCommands"`
	FaultMatrix   string   `json:"faultMatrix"`
	// Canaries: preflight canary secrets and variables left after a rerun.
	Canaries int `json:"preflightCanariesLeft"`
	// Leak scan.
	BytesScanned int64 `json:"bytesScanned"`
	Runs         int   `json:"runsScanned"`
	Values       int   `json:"valuesLookedFor"`
	Short        bool  `json:"short"`
}

func (f *tally) scanned(n int64, runs, values int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.BytesScanned += n
	f.Runs += runs
	f.Values += values
}

func (f *tally) littered(c []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Canaries += len(c)
}

func (f *tally) survived(scenario string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Kill[scenario]++
}

// points sums the points survived of a family (kill, term).
func (f *tally) points(family string) (survived int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.pointsLocked(family)
}

func (f *tally) pointsLocked(family string) (survived int) {
	for k, n := range f.Kill {
		if strings.HasPrefix(k, family+" ") {
			survived += n
		}
	}
	return survived
}

func (f *tally) write(path string) error {
	if path == "" {
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	sort.Strings(f.FaultRoutes)
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	summary := fmt.Sprintf("kill points survived: %d\nSIGTERM points survived: %d\nfault cases: %d, %d reached (%d kinds at %d (route, call) sites of %d commands, %d distinct routes, %s)\nbytes scanned for leaks: %d in %d runs, for %d values\npreflight canaries left: %d\n",
		f.pointsLocked("kill"), f.pointsLocked("term"), f.FaultCases, f.FaultReached, len(f.FaultKinds), f.FaultSites, len(f.FaultCommands), len(f.FaultRoutes), f.FaultMatrix, f.BytesScanned, f.Runs, f.Values, f.Canaries)
	fmt.Print(summary)
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
