package secret

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

const val = "eyJhbGciOiJIUzI1NiJ9.payload-part.signature-part"

func TestValueNeverFormats(t *testing.T) {
	t.Parallel()
	v := New(val)
	type holder struct {
		Token Value
		Ptr   *Value
	}
	h := holder{Token: v, Ptr: &v}
	outputs := []string{
		fmt.Sprint(v), fmt.Sprintf("%v %s %q %x %X %#v %+v %d", v, v, v, v, v, v, v, v),
		fmt.Sprintf("%v %+v %#v", h, h, &h), v.String(), v.GoString(),
	}
	b, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	outputs = append(outputs, string(b))
	var logBuf bytes.Buffer
	slog.New(slog.NewJSONHandler(&logBuf, nil)).Info("x", "token", v)
	outputs = append(outputs, logBuf.String())
	for _, o := range outputs {
		if strings.Contains(o, val) || strings.Contains(o, "payload-part") {
			t.Errorf("value leaked: %s", o)
		}
	}
	if v.Reveal() != val {
		t.Fatal("Reveal lost the value")
	}
}

func TestValueUnmarshal(t *testing.T) {
	t.Parallel()
	var s struct {
		Token Value `json:"token"`
	}
	if err := json.Unmarshal([]byte(`{"token":"`+val+`"}`), &s); err != nil {
		t.Fatal(err)
	}
	if s.Token.Reveal() != val || !s.Token.Equal(New(val)) || s.Token.IsZero() {
		t.Fatal("unmarshal did not keep the value")
	}
}

func TestRedactorWriter(t *testing.T) {
	t.Parallel()
	other := "another-secret-value-123"
	tests := []struct {
		name   string
		writes []string
	}{
		{"one write", []string{"token=" + val + "\n"}},
		{"split across writes", []string{"token=" + val[:10], val[10:30], val[30:] + " end\n"}},
		{"no trailing newline", []string{"x " + val}},
		{"two values", []string{other + " and " + val + "\n"}},
		{"long line without newline", []string{strings.Repeat("a", 70000) + val[:20], val[20:]}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := NewRedactor()
			r.Add(New(val), New(other), New("short"))
			var out bytes.Buffer
			w := r.Writer(&out)
			for _, s := range tt.writes {
				n, err := w.Write([]byte(s))
				if err != nil || n != len(s) {
					t.Fatalf("Write = %d, %v", n, err)
				}
			}
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
			got := out.String()
			if strings.Contains(got, val) || strings.Contains(got, other) {
				t.Fatalf("value leaked: %q", got[max(0, len(got)-200):])
			}
			if !strings.Contains(got, Redacted) {
				t.Fatalf("nothing redacted: %q", got)
			}
		})
	}
}

func TestRedactorIgnoresShortValues(t *testing.T) {
	t.Parallel()
	r := NewRedactor()
	r.Add(New("abc"), New(""))
	if got := r.Scrub("abc def"); got != "abc def" {
		t.Fatalf("short value scrubbed: %q", got)
	}
}

func TestRedactorLongestFirst(t *testing.T) {
	t.Parallel()
	r := NewRedactor()
	r.Add(New("secret-part"), New("secret-part-and-more"))
	if got := r.Scrub("x secret-part-and-more y"); got != "x "+Redacted+" y" {
		t.Fatalf("got %q", got)
	}
}
