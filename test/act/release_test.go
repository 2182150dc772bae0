package act

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// releaseArchive packs binary as goreleaser's default tar.gz does: the binary
// at the top level, next to the README.
func releaseArchive(binary []byte) ([]byte, error) {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, f := range []struct {
		name string
		mode int64
		body []byte
	}{
		{"README.md", 0o644, []byte("# astro-ci\n")},
		{"astro-ci", 0o755, binary},
	} {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: f.mode, Size: int64(len(f.body)), Typeflag: tar.TypeReg}); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.body); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := gz.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// checksums is a goreleaser checksums.txt: "<sha256>  <file>" per line.
func checksums(files map[string][]byte) []byte {
	var b strings.Builder
	for name, body := range files {
		fmt.Fprintf(&b, "%s  %s\n", sha256Hex(body), name)
	}
	return []byte(b.String())
}

// tampered returns a copy of b with one byte changed in the middle.
func tampered(b []byte) []byte {
	c := bytes.Clone(b)
	c[len(c)/2] ^= 0xff
	return c
}

// releaseServer serves a GitHub-releases-like tree: <tag>/<file>. It counts
// requests per path.
type releaseServer struct {
	*httptest.Server
	mu    sync.Mutex
	files map[string][]byte
	hits  map[string]int
}

func newReleaseServer(t testing.TB, files map[string][]byte) *releaseServer {
	rs := &releaseServer{files: files, hits: map[string]int{}}
	rs.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := strings.TrimPrefix(r.URL.Path, "/")
		rs.mu.Lock()
		rs.hits[p]++
		body, ok := rs.files[p]
		rs.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = w.Write(body)
	}))
	t.Cleanup(rs.Close)
	return rs
}

func (rs *releaseServer) count(path string) int {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return rs.hits[path]
}

// release lays out one release: the archive for platform ("linux_amd64")
// and its checksums.txt, which lists another platform too; mutate may change
// the files after the checksums are made.
func release(tag, platform string, archive []byte, mutate func(files map[string][]byte)) map[string][]byte {
	v := strings.TrimPrefix(tag, "v")
	name := "astro-ci_" + v + "_" + platform + ".tar.gz"
	files := map[string][]byte{tag + "/" + name: archive}
	files[tag+"/checksums.txt"] = checksums(map[string][]byte{name: archive, "astro-ci_" + v + "_windows_arm64.zip": []byte("other")})
	if mutate != nil {
		mutate(files)
	}
	return files
}
