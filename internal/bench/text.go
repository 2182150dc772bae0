package bench

import "strings"

func splitLines(s string) []string { return strings.Split(strings.TrimRight(s, "\n"), "\n") }

func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}
