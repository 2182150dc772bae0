//go:build unix

package deploy

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// lstat is the FileInfo the walk of BuildTarball would have seen for p.
func lstat(t *testing.T, p string) fs.FileInfo {
	t.Helper()
	info, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	return info
}

func TestOpenSameRefusesADifferentFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"a.py": "a", "b.py": "b"})
	f, err := openSame(filepath.Join(dir, "a.py"), lstat(t, filepath.Join(dir, "b.py")))
	if err == nil {
		f.Close()
	}
	if !errors.Is(err, errChanged) {
		t.Errorf("a.py opened as the b.py the walk saw: %v", err)
	}
}

// A FIFO swapped in after the walk: a plain open would wait for a writer
// forever (and no --deadline interrupts it). The timeout below only keeps
// a regression from hanging the test run.
func TestOpenSameRefusesAFIFOWithoutBlocking(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := filepath.Join(dir, "a.py")
	writeTree(t, dir, map[string]string{"a.py": "a"})
	info := lstat(t, p)
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(p, 0o644); err != nil {
		t.Skip("no mkfifo:", err)
	}
	type result struct {
		f   *os.File
		err error
	}
	done := make(chan result, 1)
	go func() {
		f, err := openSame(p, info)
		done <- result{f, err}
	}()
	var r result
	select {
	case r = <-done:
	case <-time.After(30 * time.Second):
		// Release the blocked open: a writer lets it return.
		if w, err := os.OpenFile(p, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			defer w.Close()
		}
		t.Fatal("openSame blocked on a FIFO")
	}
	if r.err == nil {
		r.f.Close()
	}
	if !errors.Is(r.err, errChanged) {
		t.Errorf("FIFO: %v", r.err)
	}
}

// A link swapped in for the very file the walk saw: following it would
// pass os.SameFile, so only not following links refuses it.
func TestOpenSameRefusesASymlink(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"real.py": "x", "link.py": "->real.py"})
	f, err := openSame(filepath.Join(dir, "link.py"), lstat(t, filepath.Join(dir, "real.py")))
	if err == nil {
		f.Close()
	}
	if !errors.Is(err, errChanged) {
		t.Errorf("symlink followed: %v", err)
	}
}

func TestOpenSameOpensTheFileTheWalkSaw(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := filepath.Join(dir, "a.py")
	writeTree(t, dir, map[string]string{"a.py": "print(1)\n"})
	f, err := openSame(p, lstat(t, p))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil || string(b) != "print(1)\n" {
		t.Errorf("read %q, %v", b, err)
	}
}
