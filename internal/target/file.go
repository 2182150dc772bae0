package target

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/astro-ci/astro-ci/internal/secret"
)

// FileStore writes a value to a local file: mode 0600, written to a temporary
// file in the same directory and renamed over the target, so a reader sees the
// old value or the new one, never half of one. It refuses symlinks, which
// could redirect a credential somewhere the user did not intend.
type FileStore struct{}

var _ Store = FileStore{}

func fileErr(op string, t Target, err error, hint string) error {
	return &Error{Op: op, Target: t.String(), Err: err, Hint: hint}
}

func checkNotSymlink(op string, t Target) error {
	fi, err := os.Lstat(t.Path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fileErr(op, t, err, "")
	case fi.Mode()&fs.ModeSymlink != 0:
		return fileErr(op, t, errors.New("it is a symbolic link"), "astro-ci does not write credentials through symlinks; name the real file")
	case !fi.Mode().IsRegular():
		return fileErr(op, t, errors.New("it is not a regular file"), "")
	}
	return nil
}

// Preflight checks the directory exists and accepts a new file, by creating
// and removing a scratch file next to the target.
func (FileStore) Preflight(_ context.Context, t Target, _ Proof) error {
	if err := checkNotSymlink("preflight", t); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(t.Path), ".astro-ci-preflight-*")
	if err != nil {
		return fileErr("preflight", t, err, "the directory must exist and be writable by this user")
	}
	name := f.Name()
	_ = f.Close()
	return os.Remove(name)
}

// Put replaces the file atomically.
func (FileStore) Put(_ context.Context, t Target, v secret.Value) (err error) {
	if err := checkNotSymlink("write", t); err != nil {
		return err
	}
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	tmp := filepath.Join(filepath.Dir(t.Path), ".astro-ci-"+hex.EncodeToString(rnd[:]))
	// O_EXCL: never follow or reuse something an attacker placed at tmp.
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fileErr("write", t, err, "the directory must exist and be writable by this user")
	}
	defer func() {
		if err != nil {
			_ = os.Remove(tmp)
		}
	}()
	if _, err = f.WriteString(v.Reveal()); err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fileErr("write", t, err, "")
	}
	if err = os.Rename(tmp, t.Path); err != nil {
		return fileErr("write", t, err, "")
	}
	return nil
}

// Delete removes the file; a missing file is fine.
func (FileStore) Delete(_ context.Context, t Target) error {
	if err := checkNotSymlink("delete", t); err != nil {
		return err
	}
	if err := os.Remove(t.Path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fileErr("delete", t, err, "")
	}
	return nil
}
