// Package recovery seals a token value for an operator: age-encrypted to a
// recipient and ASCII-armored, so it can be printed in a CI log and later
// decrypted with `age -d -i KEYFILE`, and nothing else can read it.
package recovery

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"filippo.io/age"
	"filippo.io/age/armor"

	"github.com/astro-ci/astro-ci/internal/secret"
)

// Sealer encrypts values to one or more age recipients.
type Sealer struct {
	recipients []age.Recipient
	names      string
}

// Parse reads comma- or space-separated age recipients (age1… X25519 keys).
func Parse(s string) (*Sealer, error) {
	fields := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' })
	if len(fields) == 0 {
		return nil, fmt.Errorf("--recovery-recipient is empty")
	}
	sl := &Sealer{names: strings.Join(fields, ", ")}
	for _, f := range fields {
		r, err := age.ParseX25519Recipient(f)
		if err != nil {
			return nil, fmt.Errorf("--recovery-recipient %q is not an age public key (age1…, made with age-keygen): %v", f, err)
		}
		sl.recipients = append(sl.recipients, r)
	}
	return sl, nil
}

// String names the recipients.
func (s *Sealer) String() string { return s.names }

// Seal returns the armored ciphertext of v.
func (s *Sealer) Seal(v secret.Value) (string, error) {
	var buf bytes.Buffer
	aw := armor.NewWriter(&buf)
	w, err := age.Encrypt(aw, s.recipients...)
	if err != nil {
		return "", err
	}
	if _, err := io.WriteString(w, v.Reveal()); err != nil {
		return "", err
	}
	if err := w.Close(); err != nil {
		return "", err
	}
	if err := aw.Close(); err != nil {
		return "", err
	}
	return buf.String(), nil
}
