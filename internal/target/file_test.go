package target

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/astro-ci/astro-ci/internal/secret"
)

// jwt builds a value shaped like an Astro API token: a JSON header with
// alg, a JSON payload with permissions, a signature; n varies it.
func jwt(n int) string {
	enc := base64.RawURLEncoding
	h := enc.EncodeToString([]byte(`{"alg":"RS256","kid":"k1","typ":"JWT"}`))
	p := enc.EncodeToString(fmt.Appendf(nil, `{"apiTokenId":"tok%d","permissions":["organizationId:org1"],"iat":%d}`, n, 1700000000+n))
	s := enc.EncodeToString(bytes.Repeat([]byte{byte(n), 0xfe, 0x01}, 86))
	return h + "." + p + "." + s
}

func TestCheckTokenContent(t *testing.T) {
	t.Parallel()
	tok := jwt(1)
	enc := base64.RawURLEncoding
	part := func(s string) string { return enc.EncodeToString([]byte(s)) }
	sig := part("signature-bytes")
	ok := map[string]string{
		"bare token (what astro-ci writes)": tok,
		"trailing newline (echo > file)":    tok + "\n",
		"trailing CRLF (Windows editors)":   tok + "\r\n",
		"minimal header and payload":        part(`{"alg":"HS256"}`) + "." + part(`{}`) + "." + sig,
	}
	for name, c := range ok {
		if err := CheckTokenContent([]byte(c)); err != nil {
			t.Errorf("%s: refused: %v", name, err)
		}
	}
	bad := map[string]string{
		"empty":                      "",
		"only a newline":             "\n",
		"passwd":                     "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n",
		"two tokens":                 tok + "\n" + jwt(2) + "\n",
		"token and a comment":        tok + "\n# rotated by hand\n",
		"two trailing newlines":      tok + "\n\n",
		"leading space":              " " + tok,
		"trailing space":             tok + " ",
		"KEY=token (dotenv)":         "ASTRO_API_TOKEN=" + tok,
		"shell script":               "#!/bin/sh\necho hi\n",
		"JSON":                       `{"token":"` + tok + `"}`,
		"two parts":                  part(`{"alg":"HS256"}`) + "." + part(`{}`),
		"four parts":                 tok + "." + sig,
		"empty signature":            part(`{"alg":"HS256"}`) + "." + part(`{}`) + ".",
		"padded base64":              part(`{"alg":"HS256"}`) + "==." + part(`{}`) + "." + sig,
		"header not JSON":            part(`alg=HS256`) + "." + part(`{}`) + "." + sig,
		"header without alg":         part(`{"typ":"JWT"}`) + "." + part(`{}`) + "." + sig,
		"header alg not a string":    part(`{"alg":1}`) + "." + part(`{}`) + "." + sig,
		"header is an array":         part(`["alg"]`) + "." + part(`{}`) + "." + sig,
		"payload not an object":      part(`{"alg":"HS256"}`) + "." + part(`"x"`) + "." + sig,
		"header with trailing bytes": part(`{"alg":"HS256"} x`) + "." + part(`{}`) + "." + sig,
		"dots only":                  "..",
		"version string":             "1.2.3",
		"NUL byte":                   tok[:10] + "\x00" + tok[11:],
		"too large":                  part(`{"alg":"HS256"}`) + "." + strings.Repeat("A", MaxTokenFileSize) + "." + sig,
	}
	for name, c := range bad {
		err := CheckTokenContent([]byte(c))
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		// The reason never quotes the content.
		if len(c) >= 8 && strings.Contains(err.Error(), strings.TrimSpace(c)) {
			t.Errorf("%s: the reason quotes the content: %v", name, err)
		}
	}
}

// FuzzCheckTokenContent: the check never panics, accepts only one line of
// at most MaxTokenFileSize bytes with three dot-separated base64url parts,
// and accepts whatever FileStore.Put writes.
func FuzzCheckTokenContent(f *testing.F) {
	for _, s := range []string{jwt(1), jwt(2) + "\n", jwt(3) + "\r\n", "", "a.b.c", "root:x:0:0::/:/bin/sh\n", "e30.e30.e30", "eyJhbGciOiJIUzI1NiJ9.e30.c2ln"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if CheckTokenContent(b) != nil {
			return
		}
		line := bytes.TrimSuffix(bytes.TrimSuffix(b, []byte("\n")), []byte("\r"))
		if len(b) > MaxTokenFileSize || bytes.ContainsAny(line, " \t\r\n\x00") || bytes.Count(line, []byte(".")) != 2 {
			t.Fatalf("accepted %q", b)
		}
		// What is accepted with a newline is accepted bare, which is how
		// Put writes it.
		if err := CheckTokenContent(line); err != nil {
			t.Fatalf("accepted %q but not its bare line: %v", b, err)
		}
	})
}

func mustFileTarget(t *testing.T, path string) Target {
	t.Helper()
	tg, err := Parse("file://"+path, Defaults{})
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

// dirState is every entry of dir (recursively) with its mode and content,
// so a test can prove a refused operation changed nothing.
func dirState(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		s := fi.Mode().String()
		if fi.Mode().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			s += " " + string(b)
		}
		out[p] = s
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestFileStoreWritesAndReplacesItsOwnFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tg := mustFileTarget(t, filepath.Join(dir, "token"))
	s := FileStore{}
	ctx := context.Background()
	if err := s.Preflight(ctx, tg, Proof{}); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("preflight left files: %v", entries)
	}
	for i := range 3 {
		v := jwt(i)
		if err := s.Put(ctx, tg, secret.New(v)); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(tg.Path)
		if err != nil || string(b) != v {
			t.Fatalf("content %q, %v", b, err)
		}
		fi, _ := os.Stat(tg.Path)
		if fi.Mode().Perm() != 0o600 {
			t.Fatalf("mode %v", fi.Mode())
		}
		// What Put wrote passes its own check: the next rotation may
		// replace it.
		if err := s.Preflight(ctx, tg, Proof{}); err != nil {
			t.Fatalf("preflight of a file astro-ci wrote: %v", err)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Fatalf("temporary files left: %v", entries)
	}
	if err := s.Delete(ctx, tg); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, tg); err != nil {
		t.Fatalf("second delete: %v", err)
	}
	// A missing directory: preflight and put say it must exist, delete
	// has nothing to do.
	missing := mustFileTarget(t, filepath.Join(dir, "nope", "token"))
	if err := s.Preflight(ctx, missing, Proof{}); err == nil || !strings.Contains(err.Error(), "must exist") {
		t.Fatalf("missing dir: %v", err)
	}
	if err := s.Put(ctx, missing, secret.New(jwt(1))); err == nil || !strings.Contains(err.Error(), "must exist") {
		t.Fatalf("missing dir: %v", err)
	}
	if err := s.Delete(ctx, missing); err != nil {
		t.Fatalf("delete in a missing dir: %v", err)
	}
}

// TestFileStoreReplacesATokenFileSomeoneElseWrote: a file holding one token
// with a trailing newline (echo "$TOKEN" > file), readable by others, is a
// token file: it is replaced and becomes 0600.
func TestFileStoreReplacesATokenFileSomeoneElseWrote(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := filepath.Join(dir, "token")
	if err := os.WriteFile(p, []byte(jwt(7)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := (FileStore{}).Put(context.Background(), mustFileTarget(t, p), secret.New(jwt(8))); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(p)
	fi, _ := os.Stat(p)
	if string(b) != jwt(8) || fi.Mode().Perm() != 0o600 {
		t.Fatalf("content ok=%v mode %v", string(b) == jwt(8), fi.Mode())
	}
}

// TestFileStoreNeverReplacesAFileItDidNotWrite: `token rotate --target
// file:///etc/passwd` as root replaced /etc/passwd. A file that holds
// anything but one token is refused by preflight, put and delete, whatever
// its path, and nothing in its directory changes.
func TestFileStoreNeverReplacesAFileItDidNotWrite(t *testing.T) {
	t.Parallel()
	contents := map[string]string{
		"passwd":              "root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534::/:/usr/sbin/nologin\n",
		"empty":               "",
		"two tokens":          jwt(1) + "\n" + jwt(2) + "\n",
		"token and a comment": jwt(1) + "\n# mine\n",
		"config":              "[core]\n\tbare = false\n",
		"large":               strings.Repeat(jwt(1)+"\n", 4096),
	}
	ctx := context.Background()
	s := FileStore{}
	for name, content := range contents {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			p := filepath.Join(dir, "passwd")
			if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
			tg := mustFileTarget(t, p)
			before := dirState(t, dir)
			for op, run := range map[string]func() error{
				"preflight": func() error { return s.Preflight(ctx, tg, Proof{}) },
				"preflight with current": func() error {
					cur := secret.New(jwt(3))
					return s.Preflight(ctx, tg, Proof{Current: &cur, ByRead: true})
				},
				"put":    func() error { return s.Put(ctx, tg, secret.New(jwt(3))) },
				"delete": func() error { return s.Delete(ctx, tg) },
			} {
				err := run()
				if err == nil {
					t.Fatalf("%s: accepted a file astro-ci did not write", op)
				}
				msg := err.Error()
				if !strings.Contains(msg, p) || !strings.Contains(msg, "astro-ci replaces only a file it wrote") {
					t.Errorf("%s: message %q does not name the file or say what to do", op, msg)
				}
				var te *Error
				if !errors.As(err, &te) || te.Retryable {
					t.Errorf("%s: %T retryable=%v", op, err, te != nil && te.Retryable)
				}
				if after := dirState(t, dir); !mapsEqual(before, after) {
					t.Fatalf("%s changed the directory: %v → %v", op, before, after)
				}
			}
		})
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// TestFileStoreRefusesSymlinksInAnyComponent: a symlinked parent directory
// (or grandparent) is refused like a symlinked file, by every operation.
func TestFileStoreRefusesSymlinksInAnyComponent(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	real := filepath.Join(dir, "real", "sub")
	if err := os.MkdirAll(real, 0o755); err != nil {
		t.Fatal(err)
	}
	tokenFile := filepath.Join(real, "token")
	if err := os.WriteFile(tokenFile, []byte(jwt(1)), 0o600); err != nil {
		t.Fatal(err)
	}
	links := map[string]string{
		filepath.Join(dir, "linkdir"):        filepath.Join(dir, "real"),
		filepath.Join(dir, "real", "tok-ln"): tokenFile,
		filepath.Join(dir, "real", "rel"):    "sub",
		filepath.Join(dir, "dangling"):       filepath.Join(dir, "nowhere"),
	}
	for l, to := range links {
		if err := os.Symlink(to, l); err != nil {
			t.Skipf("symlinks unavailable: %v", err)
		}
	}
	paths := map[string]string{
		"symlinked grandparent":   filepath.Join(dir, "linkdir", "sub", "token"),
		"symlinked parent":        filepath.Join(dir, "real", "rel", "token"),
		"symlinked file":          filepath.Join(dir, "real", "tok-ln"),
		"dangling symlink":        filepath.Join(dir, "dangling"),
		"new file under a link":   filepath.Join(dir, "linkdir", "sub", "new-token"),
		"dir under dangling link": filepath.Join(dir, "dangling", "token"),
	}
	ctx := context.Background()
	s := FileStore{}
	before := dirState(t, dir)
	for name, p := range paths {
		tg := mustFileTarget(t, p)
		for op, run := range map[string]func() error{
			"preflight": func() error { return s.Preflight(ctx, tg, Proof{}) },
			"put":       func() error { return s.Put(ctx, tg, secret.New(jwt(2))) },
			"delete":    func() error { return s.Delete(ctx, tg) },
		} {
			err := run()
			if err == nil || !strings.Contains(err.Error(), "symbolic link") {
				t.Errorf("%s, %s: %v", name, op, err)
			}
		}
	}
	if after := dirState(t, dir); !mapsEqual(before, after) {
		t.Fatalf("a refused operation changed something: %v → %v", before, after)
	}
	// The real path works.
	if err := s.Put(ctx, mustFileTarget(t, tokenFile), secret.New(jwt(2))); err != nil {
		t.Fatal(err)
	}
}

func TestFileStoreRefusesWhatIsNotARegularFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	sub := filepath.Join(dir, "adir")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	notDir := filepath.Join(dir, "file")
	if err := os.WriteFile(notDir, []byte(jwt(1)), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	s := FileStore{}
	cases := map[string]struct{ path, want string }{
		"directory":                   {sub, "not a regular file"},
		"a file used as a directory":  {filepath.Join(notDir, "token"), "not a directory"},
		"the root":                    {string(filepath.Separator), "names a directory"},
		"above the working directory": {filepath.Join("..", "token"), "climbs out of the working directory"},
	}
	before := dirState(t, dir)
	for name, c := range cases {
		tg := mustFileTarget(t, c.path)
		for op, run := range map[string]func() error{
			"preflight": func() error { return s.Preflight(ctx, tg, Proof{}) },
			"put":       func() error { return s.Put(ctx, tg, secret.New(jwt(2))) },
			"delete":    func() error { return s.Delete(ctx, tg) },
		} {
			if err := run(); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%s, %s: %v, want %q", name, op, err, c.want)
			}
		}
	}
	if after := dirState(t, dir); !mapsEqual(before, after) {
		t.Fatalf("a refused operation changed something")
	}
}

// TestFileStorePutRefusesAValueItCouldNotRecogniseLater: Put writes only
// what its own check accepts, or a second rotation could not replace the
// file it wrote.
func TestFileStorePutRefusesAValueItCouldNotRecogniseLater(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tg := mustFileTarget(t, filepath.Join(dir, "token"))
	const v = "not-a-token-value-123"
	err := FileStore{}.Put(context.Background(), tg, secret.New(v))
	if err == nil || !strings.Contains(err.Error(), "not an Astro API token") || strings.Contains(err.Error(), v) {
		t.Fatalf("err = %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("files written: %v", entries)
	}
}

func TestFileStoreLeavesNoTemporaryFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := FileStore{}
	ctx := context.Background()
	var names []string
	for i := range 5 {
		p := filepath.Join(dir, fmt.Sprintf("t%d", i))
		names = append(names, filepath.Base(p))
		tg := mustFileTarget(t, p)
		if err := s.Preflight(ctx, tg, Proof{}); err != nil {
			t.Fatal(err)
		}
		if err := s.Put(ctx, tg, secret.New(jwt(i))); err != nil {
			t.Fatal(err)
		}
	}
	entries, _ := os.ReadDir(dir)
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if !slices.Equal(got, names) {
		t.Fatalf("directory holds %v, want %v", got, names)
	}
}
