// Package echo bounds user- and event-supplied text before it is repeated in
// an error or a log line. Branch names, refs, target addresses, flag and
// environment values come from whoever can push, open a pull request or edit
// a CI file; a 5 MB ref must not become a 5 MB log line (or annotation), and
// a value with a newline must not forge a second one. Every place that echoes
// such input uses Quote.
package echo

import (
	"fmt"
	"strconv"
	"unicode/utf8"
)

// Max is how many bytes of the quoted form Quote keeps, about: a few hundred
// characters are enough to recognise a value, few enough for any log.
const Max = 200

// Quote returns s as a Go-quoted string (so control characters and
// invalid UTF-8 are escaped and it stays on one line). A longer s is cut at
// a character boundary, marked with "…" inside the quotes, and followed by
// its length: "refs/heads/aaaa…" (5242880 bytes). The result is at most
// about Max+40 bytes whatever s is.
func Quote(s string) string {
	q := strconv.Quote(s)
	if len(q) <= Max+2 {
		return q
	}
	// Escapes make the quoted form up to 10 times as long as the raw bytes
	// (\U0010ffff for 4 bytes, \x00 for 1): shrink the raw prefix until
	// its quoted form fits.
	n := min(len(s), Max)
	for {
		n = runeStart(s, n)
		q = strconv.Quote(s[:n])
		if len(q) <= Max+2 || n == 0 {
			break
		}
		n = n * 3 / 4
	}
	return fmt.Sprintf("%s…\" (%d bytes)", q[:len(q)-1], len(s))
}

// Cut is Quote without the quotes, for a message that is itself long: at
// most max bytes of s are kept (at a character boundary), followed by
// "… (N bytes)". Control characters are kept as they are: use it only on
// text the program composed (which Quote'd any input it contains).
func Cut(s string, max int) string {
	if len(s) <= max {
		return s
	}
	return fmt.Sprintf("%s… (%d bytes)", s[:runeStart(s, max)], len(s))
}

// runeStart moves n back to the start of the character it falls in.
func runeStart(s string, n int) int {
	for n > 0 && n < len(s) && !utf8.RuneStart(s[n]) {
		n--
	}
	return n
}
