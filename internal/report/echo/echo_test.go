package echo

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestQuote(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"feature/x", `"feature/x"`},
		{"", `""`},
		{"a\nb", `"a\nb"`},
		{strings.Repeat("a", Max), `"` + strings.Repeat("a", Max) + `"`},
		{"refs/heads/" + strings.Repeat("a", 5<<20), `"refs/heads/` + strings.Repeat("a", Max-len("refs/heads/")) + `…" (5242891 bytes)`},
	}
	for _, tt := range tests {
		if got := Quote(tt.in); got != tt.want {
			t.Errorf("Quote(%.40q…) = %.300q, want %.300q", tt.in, got, tt.want)
		}
	}
}

func TestQuoteIsBoundedWhateverTheInput(t *testing.T) {
	t.Parallel()
	for _, in := range []string{
		strings.Repeat("\x00", 1<<20),
		strings.Repeat("\U0010ffff", 1<<18),
		strings.Repeat("é", 1<<18),
		strings.Repeat("\xff", 1<<18),
		strings.Repeat("a\n", 1<<18),
	} {
		got := Quote(in)
		if len(got) > Max+40 || strings.ContainsAny(got, "\n\r") || !utf8.ValidString(got) {
			t.Errorf("Quote of %d bytes: %d bytes: %.80q", len(in), len(got), got)
		}
	}
}

func TestCut(t *testing.T) {
	t.Parallel()
	if got := Cut("short", 10); got != "short" {
		t.Fatal(got)
	}
	if got := Cut("ééééé", 3); got != "é… (10 bytes)" {
		t.Fatal(got)
	}
}

func FuzzQuote(f *testing.F) {
	f.Add("feature/x")
	f.Add(strings.Repeat("\x00é", 300))
	f.Fuzz(func(t *testing.T, s string) {
		got := Quote(s)
		if len(got) > Max+40 || !utf8.ValidString(got) || strings.ContainsAny(got, "\n\r") {
			t.Fatalf("Quote(%q) = %q", s, got)
		}
	})
}
