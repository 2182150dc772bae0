package deploy

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// writeTree creates files (path → content) below dir; a content starting
// with "->" makes a symlink to the rest.
func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for p, c := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if target, ok := strings.CutPrefix(c, "->"); ok {
			if err := os.Symlink(target, full); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

type entry struct {
	name, link, body string
	typ              byte
	mode             int64
}

func readTarball(t *testing.T, b []byte) []entry {
	t.Helper()
	gz, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("not gzip: %v", err)
	}
	tr := tar.NewReader(gz)
	var out []entry
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(tr)
		if h.Uid != 0 || h.Gid != 0 || h.Uname != "" || h.Gname != "" {
			t.Errorf("%s: owner %d:%d %q %q", h.Name, h.Uid, h.Gid, h.Uname, h.Gname)
		}
		out = append(out, entry{name: h.Name, link: h.Linkname, body: string(body), typ: h.Typeflag, mode: h.Mode})
	}
}

func names(es []entry) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.name)
	}
	return out
}

func TestTarballHasExactlyTheDAGEntriesUnderDags(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		"etl.py": "dag", ".airflowignore": "scratch/\n", "sub/deep/ü nïcode.py": "x", "sub/helper.py": "h",
		".git/HEAD": "ref", "sub/.git": "gitdir: ../.git/modules/sub", "__pycache__/etl.cpython-312.pyc": "bin",
		"sub/__pycache__/h.pyc": "bin", "stale.pyc": "bin", "old.pyo": "bin", ".DS_Store": "mac",
		"link.py": "->sub/helper.py", "sublink": "->sub",
	})
	if err := os.Chmod(filepath.Join(dir, "sub/helper.py"), 0o750); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	st, err := BuildTarball(dir, TarOptions{}, &buf)
	if err != nil {
		t.Fatal(err)
	}
	got := readTarball(t, buf.Bytes())
	want := []string{"dags/", "dags/.airflowignore", "dags/etl.py", "dags/link.py", "dags/sub/", "dags/sub/deep/",
		"dags/sub/deep/ü nïcode.py", "dags/sub/helper.py", "dags/sublink"}
	if !slices.Equal(names(got), want) {
		t.Fatalf("entries\n%q\nwant\n%q", names(got), want)
	}
	byName := map[string]entry{}
	for _, e := range got {
		byName[e.name] = e
	}
	if e := byName["dags/link.py"]; e.typ != tar.TypeSymlink || e.link != "sub/helper.py" {
		t.Errorf("link.py %+v", e)
	}
	if e := byName["dags/sub/helper.py"]; e.mode != 0o755 || e.body != "h" {
		t.Errorf("helper.py %+v", e)
	}
	if e := byName["dags/etl.py"]; e.mode != 0o644 || e.body != "dag" || e.typ != tar.TypeReg {
		t.Errorf("etl.py %+v", e)
	}
	if st.Files != 6 || st.Bytes != int64(len("dag")+len("scratch/\n")+len("x")+len("h")) {
		t.Errorf("stats %+v", st)
	}
}

func TestTarballRefusesSymlinksLeavingTheDAGFolder(t *testing.T) {
	t.Parallel()
	outside := t.TempDir()
	writeTree(t, outside, map[string]string{"secret.txt": "no"})
	for name, target := range map[string]string{
		"relative up":      "../outside.py",
		"absolute outside": filepath.Join(outside, "secret.txt"),
		"sneaky":           "sub/../../x",
	} {
		dir := t.TempDir()
		writeTree(t, dir, map[string]string{"ok.py": "x", "bad.py": "->" + target})
		_, err := BuildTarball(dir, TarOptions{}, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "dags/bad.py") || !strings.Contains(err.Error(), "outside the DAG folder") {
			t.Errorf("%s: err = %v", name, err)
		}
	}
	// An absolute link inside the folder becomes relative.
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"a/b.py": "x"})
	writeTree(t, dir, map[string]string{"a/c.py": "->" + filepath.Join(dir, "a", "b.py")})
	var buf bytes.Buffer
	if _, err := BuildTarball(dir, TarOptions{}, &buf); err != nil {
		t.Fatal(err)
	}
	for _, e := range readTarball(t, buf.Bytes()) {
		if e.name == "dags/a/c.py" && e.link != "b.py" {
			t.Errorf("absolute inside link became %q", e.link)
		}
	}
}

func TestTarballRefusesAnEmptyFolderUnlessAllowed(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"__pycache__/x.pyc": "b", ".git/HEAD": "r", "empty/.keep.pyc": "b"})
	if _, err := BuildTarball(dir, TarOptions{}, io.Discard); !errors.Is(err, ErrEmptyDags) {
		t.Fatalf("err = %v", err)
	}
	var buf bytes.Buffer
	if _, err := BuildTarball(dir, TarOptions{AllowEmpty: true}, &buf); err != nil {
		t.Fatal(err)
	}
	if got := names(readTarball(t, buf.Bytes())); !slices.Equal(got, []string{"dags/", "dags/empty/"}) {
		t.Errorf("entries %q", got)
	}
}

func TestTarballIsBounded(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"a.py": strings.Repeat("a", 600), "b.py": strings.Repeat("b", 600)})
	if _, err := BuildTarball(dir, TarOptions{MaxBytes: 1000}, io.Discard); err == nil || !strings.Contains(err.Error(), "holds more than") {
		t.Errorf("size bound: %v", err)
	}
	if _, err := BuildTarball(dir, TarOptions{MaxFiles: 2}, io.Discard); err == nil || !strings.Contains(err.Error(), "more than 2 entries") {
		t.Errorf("entry bound: %v", err)
	}
}

func TestTarballRefusesSpecialFilesAndAMissingFolder(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"a.py": "x"})
	if err := syscall.Mkfifo(filepath.Join(dir, "pipe"), 0o644); err != nil {
		t.Skip("no mkfifo:", err)
	}
	if _, err := BuildTarball(dir, TarOptions{}, io.Discard); err == nil || !strings.Contains(err.Error(), "dags/pipe") {
		t.Errorf("fifo: %v", err)
	}
	if _, err := BuildTarball(filepath.Join(dir, "nope"), TarOptions{}, io.Discard); err == nil || !strings.Contains(err.Error(), "--dags-path") {
		t.Errorf("missing: %v", err)
	}
	if _, err := BuildTarball(filepath.Join(dir, "a.py"), TarOptions{}, io.Discard); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("a file: %v", err)
	}
}
