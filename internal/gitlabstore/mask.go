package gitlabstore

import (
	"strings"
	"unicode/utf8"
)

// maskable says why GitLab could not mask s, or "" when it can. The rule is
// the older, conservative Ci::Maskable one (\A[a-zA-Z0-9_+=/@:.~-]{8,}\z):
// every GitLab version accepts what it accepts, while newer versions would
// accept a few more characters that older ones reject with a 400. Astro
// tokens (JWTs) always pass. The reason names character classes, never the
// characters of s, so it is safe to print.
func maskable(s string) string {
	switch {
	case s == "":
		return "it is empty"
	case strings.ContainsAny(s, "\r\n"):
		return "it spans several lines"
	case strings.ContainsFunc(s, func(r rune) bool { return r == ' ' || r == '\t' }):
		return "it contains whitespace"
	case utf8.RuneCountInString(s) < 8:
		return "it is shorter than 8 characters"
	case strings.Contains(s, "$"):
		return "it contains '$', which GitLab would expand as a variable reference"
	}
	for _, r := range s {
		if !maskChar(r) {
			return "it contains a character outside A-Z a-z 0-9 and _ + = / @ : . ~ -"
		}
	}
	return ""
}

func maskChar(r rune) bool {
	switch {
	case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		return true
	}
	return strings.ContainsRune("_+=/@:.~-", r)
}
