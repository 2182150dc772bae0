// Package kill proves astro-ci's promise that no value is ever lost, leaked
// or left dead in a target, whatever happens to the process or the network,
// against the real binary.
//
// The binary (go build ./cmd/astro-ci, once per test binary) runs as a
// subprocess against the sandbox (internal/sandbox: the Astro, GitHub and
// GitLab fakes on one httptest listener, on a settable clock) behind a
// middleware, the proxy, that numbers every request as the N-th call of its
// route and can, at one chosen call,
//
//   - hold it before the fake sees it, or after the fake applied it and
//     before the answer leaves (the answer is recorded with an
//     httptest.ResponseRecorder), and tell the test it is held: the kill
//     harness (kill_test.go) then SIGKILLs the process at that step boundary;
//   - answer with a fault (fault_test.go): 5xx, 429, GitHub's secondary rate
//     limit, a reset before or after the fake applied the request, a cut-off
//     or garbage body, a hang.
//
// No test hook lives in product code: every hold and fault is in the proxy,
// so the three services get the same kinds. Every token value the proxy sees
// in an answer, and every seeded credential, is then looked for in every
// byte the binary wrote (leaks_test.go).
//
// Figures (kill points survived, fault cases, bytes scanned) are logged by
// each family's parent test and written as JSON to $KILL_REPORT when set.
package kill

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// binary is the astro-ci built for this test binary.
var binary string

func TestMain(m *testing.M) {
	flag.Parse()
	figures.Short = testing.Short()
	// The subprocesses spend their time waiting on holds, retries and the
	// network, not on CPU: run more of them at once than GOMAXPROCS, unless
	// the caller chose -parallel.
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set {
		_ = flag.Set("test.parallel", fmt.Sprint(max(8, 4*runtime.GOMAXPROCS(0))))
	}
	dir, err := os.MkdirTemp("", "astro-ci-kill-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := func() int {
		defer os.RemoveAll(dir)
		binary = filepath.Join(dir, "astro-ci")
		c := exec.Command("go", "build", "-o", binary, "./cmd/astro-ci")
		c.Dir = filepath.Join("..", "..")
		c.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := c.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "go build ./cmd/astro-ci: %v\n%s", err, out)
			return 1
		}
		code := m.Run()
		if err := figures.write(os.Getenv("KILL_REPORT")); err != nil {
			fmt.Fprintln(os.Stderr, "KILL_REPORT:", err)
			if code == 0 {
				code = 1
			}
		}
		return code
	}()
	os.Exit(code)
}
