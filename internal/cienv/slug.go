package cienv

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
)

const (
	// SlugHashLen is the number of hex digits of the hash suffix.
	SlugHashLen = 6
	// MinSlugMax is the smallest max Slug accepts: room for "b-" and the hash.
	MinSlugMax = 2 + SlugHashLen
)

// Slug turns a branch name into a name made of [a-z0-9-] — no leading,
// trailing or doubled "-" — at most max bytes long, for systems that allow
// fewer characters than git (preview Deployment names).
//
// The readable part: ASCII letters lower-cased, digits kept, every run of
// other bytes (including every byte of a non-ASCII character) becomes one "-",
// and "-" is trimmed from both ends. "feature/x" → "feature-x", "fix/x" →
// "fix-x".
//
// Distinct branches must get distinct slugs (otherwise one branch's preview
// is overwritten or deleted by another's). So the readable part alone is
// returned only when it determines the branch — when the branch consists of
// lower-case ASCII letters and digits in "/"-separated components
// ([a-z0-9]+(/[a-z0-9]+)*), its readable part fits in max, and that part
// does not end in "-" followed by SlugHashLen hex digits (the shape of a hash
// suffix). Every other branch — upper case ("feature/X" vs "feature/x"), any
// other separator ("feature-x", "feature_x", "feature.x" vs "feature/x"),
// non-ASCII, or too long — gets "-" and the first SlugHashLen hex digits of
// SHA-256(branch) appended, its readable part cut (and "-"-trimmed) so the
// whole fits in max. An empty readable part (e.g. "日本") becomes "b".
//
// So two slugs can only be equal when both carry a hash suffix and the
// 24-bit hash prefixes collide: unlikely by accident (about one in 16.7
// million per pair with the same readable prefix), but not resistant to
// someone who creates branches on purpose. Whatever is keyed by a slug
// should also record the full branch name and check it.
//
// Note that "-" in a branch name counts as lossy: "fix-typo" →
// "fix-typo-<hash>". Either "/" or "-" can map to "-" losslessly, not both,
// and "/" is the usual separator of branch namespaces.
//
// Slug is deterministic and total over any string (valid branch or not). It
// panics if max < MinSlugMax, a programming error.
func Slug(branch string, max int) string {
	if max < MinSlugMax {
		panic(fmt.Sprintf("cienv.Slug: max %d is less than %d", max, MinSlugMax))
	}
	readable := make([]byte, 0, len(branch))
	plain := branch != "" // [a-z0-9]+(/[a-z0-9]+)*
	sep := false
	for i := 0; i < len(branch); i++ {
		c := branch[i]
		switch {
		case 'a' <= c && c <= 'z' || '0' <= c && c <= '9':
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
			plain = false
		default:
			if c != '/' || i == 0 || i == len(branch)-1 || branch[i-1] == '/' {
				plain = false
			}
			sep = true
			continue
		}
		if sep && len(readable) > 0 {
			readable = append(readable, '-')
		}
		sep = false
		readable = append(readable, c)
	}
	if plain && len(readable) <= max && !hashShaped(readable) {
		return string(readable)
	}
	sum := sha256.Sum256([]byte(branch))
	suffix := hex.EncodeToString(sum[:])[:SlugHashLen]
	room := max - 1 - SlugHashLen
	if len(readable) > room {
		readable = readable[:room]
		for len(readable) > 0 && readable[len(readable)-1] == '-' {
			readable = readable[:len(readable)-1]
		}
	}
	if len(readable) == 0 {
		readable = append(readable, 'b')
	}
	return string(readable) + "-" + suffix
}

// hashShaped reports whether s ends in "-" and SlugHashLen lower-case hex
// digits, like a slug with a hash suffix.
func hashShaped(s []byte) bool {
	n := len(s)
	if n < SlugHashLen+1 || s[n-SlugHashLen-1] != '-' {
		return false
	}
	for _, c := range s[n-SlugHashLen:] {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
