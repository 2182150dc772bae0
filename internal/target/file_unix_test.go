//go:build unix

package target

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/astro-ci/astro-ci/internal/secret"
)

// TestFileStoreRefusesDevicesAndFIFOs: a FIFO would block a read forever
// and a device is never a token file; both are refused without being
// opened.
func TestFileStoreRefusesDevicesAndFIFOs(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s := FileStore{}
	for _, p := range []string{fifo, "/dev/null"} {
		if _, err := os.Lstat(p); err != nil {
			continue
		}
		tg := mustFileTarget(t, p)
		done := make(chan struct{})
		go func() {
			defer close(done)
			for op, run := range map[string]func() error{
				"preflight": func() error { return s.Preflight(ctx, tg, Proof{}) },
				"put":       func() error { return s.Put(ctx, tg, secret.New(jwt(1))) },
				"delete":    func() error { return s.Delete(ctx, tg) },
			} {
				if err := run(); err == nil || !strings.Contains(err.Error(), "not a regular file") {
					t.Errorf("%s %s: %v", p, op, err)
				}
			}
		}()
		select {
		case <-done:
		case <-ctx.Done():
			t.Fatalf("%s: an operation blocked", p)
		}
		if fi, err := os.Lstat(p); err != nil || fi.Mode().IsRegular() {
			t.Fatalf("%s was replaced", p)
		}
	}
}
