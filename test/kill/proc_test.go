package kill

import (
	"bytes"
	"os"
	"os/exec"
	"sort"
	"sync"
	"syscall"
	"time"
)

// proc is one run of the binary.
type proc struct {
	cmd            *exec.Cmd
	stdout, stderr lockedBuffer
	dir            string // its working directory (dotenv) and GITHUB_* files
	start          time.Time
	exited         chan struct{}
	code           int
	elapsed        time.Duration
	// signalled: what the test sent ("SIGKILL", "SIGTERM"), if anything.
	signalled string
}

// lockedBuffer collects a stream; safe to read while the process runs.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startProc starts the binary in dir with exactly env (nothing inherited:
// a test running inside GitHub Actions must not make the binary think it is).
func startProc(dir string, args []string, env map[string]string) (*proc, error) {
	p := &proc{dir: dir, exited: make(chan struct{})}
	p.cmd = exec.Command(binary, args...)
	p.cmd.Dir = dir
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	p.cmd.Stdin = nil
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	p.cmd.Env = []string{"HOME=" + dir, "TMPDIR=" + os.TempDir()}
	for _, k := range keys {
		p.cmd.Env = append(p.cmd.Env, k+"="+env[k])
	}
	p.start = time.Now()
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		_ = p.cmd.Wait() // the exit code is in ProcessState
		p.elapsed = time.Since(p.start)
		p.code = p.cmd.ProcessState.ExitCode()
		close(p.exited)
	}()
	return p, nil
}

// kill sends SIGKILL and waits for the process to end.
func (p *proc) kill() {
	p.signalled = "SIGKILL"
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
}

// waitFor waits until the process ends or limit passes; then it sends
// SIGTERM, as GitHub and GitLab do to cancel a job, and after grace more
// SIGKILL. It reports whether the process ended on its own within limit,
// and within grace after the SIGTERM.
func (p *proc) waitFor(limit, grace time.Duration) (inTime, afterTerm bool) {
	select {
	case <-p.exited:
		return true, true
	case <-time.After(limit):
	}
	p.signalled = "SIGTERM"
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		return false, true
	case <-time.After(grace):
	}
	p.kill()
	p.signalled = "SIGTERM, then SIGKILL"
	return false, false
}

func (p *proc) output() string { return p.stdout.String() + p.stderr.String() }
