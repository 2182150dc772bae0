package secret

import (
	"bytes"
	"io"
	"sort"
	"strings"
	"sync"
)

// minRedactLen keeps the redactor from scrubbing short, common strings: token
// values are long JWTs, anything shorter than this is not a credential we hold.
const minRedactLen = 8

// maxPending bounds how much of an unterminated line a Writer holds back.
const maxPending = 64 * 1024

// Redactor knows every secret value the process has seen and replaces each
// occurrence with Redacted in everything written through its writers and in
// strings passed to Scrub. One Redactor serves the whole run.
type Redactor struct {
	mu     sync.RWMutex
	values []string // longest first, so a value that contains another is scrubbed whole
}

// NewRedactor returns an empty redactor.
func NewRedactor() *Redactor { return &Redactor{} }

// Add registers values; empty and very short ones are ignored.
func (r *Redactor) Add(vals ...Value) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, v := range vals {
		s := v.Reveal()
		if len(s) < minRedactLen || r.hasLocked(s) {
			continue
		}
		r.values = append(r.values, s)
	}
	sort.SliceStable(r.values, func(i, j int) bool { return len(r.values[i]) > len(r.values[j]) })
}

func (r *Redactor) hasLocked(s string) bool {
	for _, v := range r.values {
		if v == s {
			return true
		}
	}
	return false
}

// Scrub returns s with every known value replaced.
func (r *Redactor) Scrub(s string) string {
	if r == nil {
		return s
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, v := range r.values {
		if strings.Contains(s, v) {
			s = strings.ReplaceAll(s, v, Redacted)
		}
	}
	return s
}

// maxKnownLen is the length of the longest registered value.
func (r *Redactor) maxKnownLen() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if len(r.values) == 0 {
		return 0
	}
	return len(r.values[0])
}

// Writer returns a writer that scrubs what passes through it before handing
// it to w. It holds back an incomplete last line, so a value split across two
// Write calls is still caught; Flush (or a newline) releases it.
func (r *Redactor) Writer(w io.Writer) *Writer { return &Writer{r: r, w: w} }

// Writer is a line-buffered scrubbing writer; safe for concurrent use.
type Writer struct {
	r   *Redactor
	w   io.Writer
	mu  sync.Mutex
	buf []byte
}

// Write buffers p and writes out every complete line, scrubbed. It reports
// len(p) on success as io.Writer requires.
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	var out string
	if i := bytes.LastIndexByte(w.buf, '\n'); i >= 0 {
		out = w.r.Scrub(string(w.buf[:i+1]))
		w.buf = append(w.buf[:0], w.buf[i+1:]...)
	} else if len(w.buf) > maxPending {
		// A very long line with no end yet: scrub it whole, then release all
		// but a tail that could still be the start of a value that the next
		// Write completes.
		scrubbed := w.r.Scrub(string(w.buf))
		cut := len(scrubbed) - w.r.maxKnownLen()
		if cut <= 0 {
			return len(p), nil
		}
		out = scrubbed[:cut]
		w.buf = append(w.buf[:0], scrubbed[cut:]...)
	} else {
		return len(p), nil
	}
	if _, err := io.WriteString(w.w, out); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Flush writes whatever is buffered.
func (w *Writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) == 0 {
		return nil
	}
	out := w.r.Scrub(string(w.buf))
	w.buf = w.buf[:0]
	_, err := io.WriteString(w.w, out)
	return err
}
