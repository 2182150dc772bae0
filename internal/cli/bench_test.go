package cli

import (
	"bytes"
	"context"
	"testing"
)

// BenchmarkStartup is a whole run of a command that makes no request:
// configuration, flags, reporter. Start-up must stay in the microseconds.
func BenchmarkStartup(b *testing.B) {
	env := map[string]string{"GITHUB_ACTIONS": "true", "ASTRO_CI_FORMAT": "json"}
	var out bytes.Buffer
	for b.Loop() {
		out.Reset()
		if code := (Main{}).Run(context.Background(), []string{"version"}, env, &out, &out); code != 0 {
			b.Fatal(out.String())
		}
	}
}

// BenchmarkSelfRotation is an overlap self-rotation against the in-process
// fake (HTTP over loopback, contract-checked), for ratios between
// changes; absolute times are noisy here.
func BenchmarkSelfRotation(b *testing.B) {
	for b.Loop() {
		b.StopTimer()
		h := newHarness(b)
		h.admin()
		b.StartTimer()
		if r := h.run("", "token", "rotate", "--target", h.target("tok")); r.code != 0 {
			b.Fatal(r)
		}
	}
}
