package secret

import (
	"io"
	"strings"
	"testing"
)

// BenchmarkRedactorWriter measures the cost of scrubbing every output line
// with a handful of known values (the usual run holds 2 to 5).
func BenchmarkRedactorWriter(b *testing.B) {
	r := NewRedactor()
	for _, v := range []string{val, "another-secret-value-123", "github_pat_11AAAAAAA0fakefakefake", "glpat-fakefakefake0001"} {
		r.Add(New(v))
	}
	line := []byte(strings.Repeat("created token clx (ci admin), pending until every target holds it ", 2) + "\n")
	w := r.Writer(io.Discard)
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	for b.Loop() {
		_, _ = w.Write(line)
	}
}
