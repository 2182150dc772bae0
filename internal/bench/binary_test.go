package bench

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// Issue 13 (start-up: binary ≤ 12 MB, a fast start). Nothing may make
// reflection by method name reachable. text/template's field evaluation
// calls reflect.Value.MethodByName; once a template can run (cobra's
// SetVersionTemplate did it), the linker must keep every exported method of
// every type that reaches an interface — go-github's and client-go's
// hundreds of API services — and the binary grows from 10.3 to 15.2 MiB.
// The linker's dependency dump names the culprit.
func TestLeanBinary(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("-short: builds the binary")
	}
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	bin := filepath.Join(t.TempDir(), "astro-ci")
	cmd := exec.Command("go", "build", "-o", bin, "-ldflags=-dumpdep", "./cmd/astro-ci")
	cmd.Dir = root
	// Without TestMain's SSL_CERT_FILE (httptest's certificate), which would
	// make the go command distrust the module proxy should it fetch.
	env := slices.DeleteFunc(cmd.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "SSL_CERT_FILE=") })
	cmd.Env = append(env, "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%.2000s", err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, "<ReflectMethod>") {
			t.Errorf("reflection by method name is reachable, so the linker keeps every exported method: %s", line)
		}
	}

	// Start-up: no package of astro-ci does real work before main. Every
	// run pays for its package initialisers, a command that makes no
	// request too.
	run := exec.Command(bin, "version")
	run.Env = append(run.Environ(), "GODEBUG=inittrace=1")
	trace, err := run.CombinedOutput()
	if err != nil {
		t.Fatalf("astro-ci version: %v\n%s", err, trace)
	}
	// init github.com/astro-ci/astro-ci/internal/target @19 ms, 3.9 ms clock, 352400 bytes, 4708 allocs
	for _, line := range strings.Split(string(trace), "\n") {
		f := strings.Fields(line)
		if len(f) < 10 || f[0] != "init" || !strings.HasPrefix(f[1], "github.com/astro-ci/") {
			continue
		}
		if bytes, _ := strconv.Atoi(f[7]); bytes > 64<<10 {
			t.Errorf("package %s allocates %d bytes at start-up", f[1], bytes)
		}
	}
}
