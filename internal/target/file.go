package target

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/astro-ci/astro-ci/internal/secret"
)

// FileStore writes a value to a local file: mode 0600, written to a
// temporary file in the same directory and renamed over the target, so a
// reader sees the old value or the new one, never half of one.
//
// It never replaces or deletes a file astro-ci did not write: an existing
// file must hold exactly one token value (CheckTokenContent), whatever its
// path, or every operation is refused before anything changes. CI jobs
// often run as root, so "the OS would not let us" is no protection.
//
// It refuses a symbolic link in any component of the path. The path is
// walked from the file system root (or, for a relative path, from the
// working directory) one directory at a time through os.Root handles:
// each component is Lstat'ed, opened, and the opened directory must be the
// one Lstat saw, so a component swapped for a link while astro-ci checks
// is caught, and every later step (check, create, rename, remove) happens
// relative to the directory handle that was checked, not to a path that
// could be redirected in between. What remains is inherent to a shared
// directory: whoever may write there can replace the file between the
// content check and the rename; the rename then replaces their entry in
// that same, checked directory and never writes through a link.
type FileStore struct{}

var _ Store = FileStore{}

// MaxTokenFileSize bounds a token file: larger files are not astro-ci's,
// and no more than this (plus one byte) is ever read to decide.
const MaxTokenFileSize = 16 << 10

// ownHint is what to do about a file that is not a token file.
const ownHint = "astro-ci replaces only a file it wrote, which holds one Astro API token and nothing else; this one was left as it is: name a new file, or move this one away if it is yours to replace"

// CheckTokenContent says why b is not the content of a token file, or nil
// when it is: one Astro API token as astro-ci writes it (a JWT: three
// base64url parts joined by dots, no padding, whose header is a JSON object
// with an "alg" string and whose payload is a JSON object), optionally
// followed by one "\n" or "\r\n" (echo "$TOKEN" > file), at most
// MaxTokenFileSize bytes, nothing else. Preview tokens are Deployment API
// tokens of the same shape. The reason never quotes b.
func CheckTokenContent(b []byte) error {
	switch {
	case len(b) == 0:
		return errors.New("it is empty")
	case len(b) > MaxTokenFileSize:
		return fmt.Errorf("it is larger than %d KiB", MaxTokenFileSize>>10)
	}
	line := b
	if l, ok := bytes.CutSuffix(line, []byte("\n")); ok {
		line, _ = bytes.CutSuffix(l, []byte("\r"))
	}
	if len(line) == 0 {
		return errors.New("it holds no token")
	}
	if bytes.ContainsAny(line, "\r\n") {
		return errors.New("it holds more than one line")
	}
	parts := bytes.Split(line, []byte("."))
	if len(parts) != 3 {
		return errors.New("it is not an Astro API token (three base64url parts joined by dots)")
	}
	var decoded [3][]byte
	for i, p := range parts {
		if len(p) == 0 || bytes.ContainsFunc(p, func(r rune) bool { return !isBase64URL(r) }) {
			return errors.New("it is not an Astro API token (three base64url parts joined by dots)")
		}
		d, err := base64.RawURLEncoding.DecodeString(string(p))
		if err != nil {
			return errors.New("it is not an Astro API token (a part is not base64url)")
		}
		decoded[i] = d
	}
	var header struct {
		Alg any `json:"alg"`
	}
	if !jsonObject(decoded[0], &header) {
		return errors.New("it is not an Astro API token (its header is not a JSON object)")
	}
	if alg, ok := header.Alg.(string); !ok || alg == "" {
		return errors.New("it is not an Astro API token (its header names no algorithm)")
	}
	var payload map[string]any
	if !jsonObject(decoded[1], &payload) {
		return errors.New("it is not an Astro API token (its payload is not a JSON object)")
	}
	return nil
}

func isBase64URL(r rune) bool {
	return r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_'
}

// jsonObject decodes b, which must be exactly one JSON object, into v.
func jsonObject(b []byte, v any) bool {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] != '{' {
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if dec.Decode(v) != nil {
		return false
	}
	_, err := dec.Token()
	return err == io.EOF
}

func fileErr(op string, t Target, err error, hint string) error {
	return &Error{Op: op, Target: t.String(), Err: err, Hint: hint}
}

// fileDir is the checked directory that holds a target, and its name there.
type fileDir struct {
	root *os.Root
	name string
}

func (d fileDir) Close() { _ = d.root.Close() }

// errNoDir: a directory on the path does not exist.
var errNoDir = errors.New("no such directory")

// openDir walks t.Path's directories component by component and returns a
// handle on the last one. Every component must be a real directory, not a
// symbolic link. A missing directory is errNoDir (wrapped).
func openDir(op string, t Target) (fileDir, error) {
	p := filepath.Clean(t.Path)
	dir, name := filepath.Split(p)
	if name == "" || name == "." || name == ".." {
		return fileDir{}, fileErr(op, t, errors.New("the path names a directory, not a file"), "name a file, e.g. file:///run/secrets/astro-token")
	}
	start := "."
	if filepath.IsAbs(p) {
		start = filepath.VolumeName(p) + string(filepath.Separator)
		dir = strings.TrimPrefix(dir, start)
	}
	cur, err := os.OpenRoot(start)
	if err != nil {
		return fileDir{}, fileErr(op, t, err, "")
	}
	walked := start
	for _, c := range strings.Split(filepath.Clean(dir), string(filepath.Separator)) {
		if c == "" || c == "." {
			continue
		}
		if c == ".." {
			_ = cur.Close()
			return fileDir{}, fileErr(op, t, errors.New("the path climbs out of the working directory (..)"), "name the file by an absolute path")
		}
		walked = filepath.Join(walked, c)
		next, err := openComponent(cur, c, walked)
		_ = cur.Close()
		if err != nil {
			return fileDir{}, fileErr(op, t, err, componentHint(err, walked))
		}
		cur = next
	}
	return fileDir{root: cur, name: name}, nil
}

// errSymlink: a component of the path is a symbolic link.
var errSymlink = errors.New("it is a symbolic link")

func componentHint(err error, walked string) string {
	switch {
	case errors.Is(err, errSymlink):
		h := "astro-ci does not write credentials through symbolic links: name the real path"
		if real, rerr := filepath.EvalSymlinks(walked); rerr == nil {
			h += fmt.Sprintf(" (%s resolves to %s)", walked, real)
		}
		return h
	case errors.Is(err, errNoDir):
		return "the directory must exist and be writable by this user"
	}
	return ""
}

// openComponent opens directory c of parent, refusing a link, a
// non-directory, and a swap between the check and the open.
func openComponent(parent *os.Root, c, walked string) (*os.Root, error) {
	fi, err := parent.Lstat(c)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("directory %s: %w", walked, errNoDir)
	case err != nil:
		return nil, fmt.Errorf("directory %s: %w", walked, unwrapPath(err))
	case fi.Mode()&fs.ModeSymlink != 0:
		return nil, fmt.Errorf("path component %s: %w", walked, errSymlink)
	case !fi.IsDir():
		return nil, fmt.Errorf("path component %s is not a directory", walked)
	}
	next, err := parent.OpenRoot(c)
	if err != nil {
		return nil, fmt.Errorf("directory %s: %w", walked, unwrapPath(err))
	}
	nfi, err := next.Stat(".")
	if err != nil || !os.SameFile(fi, nfi) {
		_ = next.Close()
		return nil, fmt.Errorf("path component %s changed while astro-ci checked it: %w", walked, errSymlink)
	}
	return next, nil
}

// unwrapPath drops the *PathError's own path, which is relative to a
// handle and would confuse the message.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// inspect says whether the file exists and, when it does, proves it is a
// regular file astro-ci may replace: not a link, not a directory, device,
// FIFO or socket, not larger than MaxTokenFileSize, holding one token.
func (d fileDir) inspect(op string, t Target) (exists bool, err error) {
	fi, err := d.root.Lstat(d.name)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	case err != nil:
		return false, fileErr(op, t, unwrapPath(err), "")
	case fi.Mode()&fs.ModeSymlink != 0:
		return true, fileErr(op, t, errSymlink, "astro-ci does not write credentials through symbolic links: name the real file")
	case !fi.Mode().IsRegular():
		return true, fileErr(op, t, fmt.Errorf("it is not a regular file (%s)", fileKind(fi.Mode())), ownHint)
	case fi.Size() > MaxTokenFileSize:
		return true, fileErr(op, t, fmt.Errorf("it holds something other than one Astro API token: it is larger than %d KiB", MaxTokenFileSize>>10), ownHint)
	}
	// Non-blocking, so a FIFO swapped in after the Lstat cannot hang the
	// open; the identity check below refuses it anyway.
	f, err := d.root.OpenFile(d.name, os.O_RDONLY|openNonblock, 0)
	if err != nil {
		return true, fileErr(op, t, unwrapPath(err), "")
	}
	defer f.Close()
	ffi, err := f.Stat()
	if err != nil || !os.SameFile(fi, ffi) || !ffi.Mode().IsRegular() {
		return true, fileErr(op, t, errors.New("the file changed while astro-ci checked it"), "run again; if it keeps changing, something else writes this path")
	}
	b, err := io.ReadAll(io.LimitReader(f, MaxTokenFileSize+1))
	if err != nil {
		return true, fileErr(op, t, err, "")
	}
	if why := CheckTokenContent(b); why != nil {
		return true, fileErr(op, t, fmt.Errorf("it holds something other than one Astro API token: %w", why), ownHint)
	}
	return true, nil
}

func fileKind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeDevice != 0:
		return "a device"
	}
	return "a special file"
}

func randomName(prefix string) string {
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	return prefix + hex.EncodeToString(rnd[:])
}

// open walks to t's directory and checks the file itself.
func open(op string, t Target) (fileDir, bool, error) {
	d, err := openDir(op, t)
	if err != nil {
		return fileDir{}, false, err
	}
	exists, err := d.inspect(op, t)
	if err != nil {
		d.Close()
		return fileDir{}, false, err
	}
	return d, exists, nil
}

// Preflight applies every check Put applies and proves the directory
// accepts a new file by creating and removing a scratch file in it.
// Nothing is created when a check fails.
func (FileStore) Preflight(_ context.Context, t Target, _ Proof) error {
	d, _, err := open("preflight", t)
	if err != nil {
		return err
	}
	defer d.Close()
	name := randomName(".astro-ci-preflight-")
	f, err := d.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fileErr("preflight", t, unwrapPath(err), "the directory must exist and be writable by this user")
	}
	_ = f.Close()
	if err := d.root.Remove(name); err != nil {
		return fileErr("preflight", t, unwrapPath(err), "")
	}
	return nil
}

// Put replaces the file atomically, after the checks.
func (FileStore) Put(_ context.Context, t Target, v secret.Value) (err error) {
	// Write only what a later Put would recognise as its own.
	if why := CheckTokenContent([]byte(v.Reveal())); why != nil {
		return fileErr("write", t, fmt.Errorf("the value is not an Astro API token: %v", why), "astro-ci writes only Astro API tokens to files")
	}
	d, _, err := open("write", t)
	if err != nil {
		return err
	}
	defer d.Close()
	tmp := randomName(".astro-ci-")
	// O_EXCL: never follow or reuse something placed at tmp.
	f, err := d.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fileErr("write", t, unwrapPath(err), "the directory must exist and be writable by this user")
	}
	defer func() {
		if err != nil {
			_ = d.root.Remove(tmp)
		}
	}()
	// The umask may only remove bits; make it exactly 0600 regardless.
	if err = f.Chmod(0o600); err == nil {
		if _, err = f.WriteString(v.Reveal()); err == nil {
			err = f.Sync()
		}
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fileErr("write", t, unwrapPath(err), "")
	}
	if err = d.root.Rename(tmp, d.name); err != nil {
		return fileErr("write", t, unwrapPath(err), "")
	}
	syncDir(d.root)
	return nil
}

// syncDir makes the rename durable where the OS allows syncing a
// directory (not on Windows, where the error is ignored).
func syncDir(r *os.Root) {
	if dir, err := r.Open("."); err == nil {
		_ = dir.Sync()
		_ = dir.Close()
	}
}

// Delete removes the file after the checks; a missing file (or
// directory) is fine.
func (FileStore) Delete(_ context.Context, t Target) error {
	d, exists, err := open("delete", t)
	if errors.Is(err, errNoDir) {
		return nil
	}
	if err != nil {
		return err
	}
	defer d.Close()
	if !exists {
		return nil
	}
	if err := d.root.Remove(d.name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fileErr("delete", t, unwrapPath(err), "")
	}
	syncDir(d.root)
	return nil
}
