package recovery

import (
	"io"
	"strings"
	"testing"

	"filippo.io/age"
	"filippo.io/age/armor"

	"github.com/astro-ci/astro-ci/internal/secret"
)

func TestSealDecryptsForEachRecipient(t *testing.T) {
	t.Parallel()
	a, _ := age.GenerateX25519Identity()
	b, _ := age.GenerateX25519Identity()
	s, err := Parse(a.Recipient().String() + ", " + b.Recipient().String())
	if err != nil {
		t.Fatal(err)
	}
	blob, err := s.Seal(secret.New("the-token-value-123"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(blob, "-----BEGIN AGE ENCRYPTED FILE-----") || strings.Contains(blob, "the-token-value-123") {
		t.Fatalf("blob: %s", blob)
	}
	for _, id := range []*age.X25519Identity{a, b} {
		r, err := age.Decrypt(armor.NewReader(strings.NewReader(blob)), id)
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := io.ReadAll(r); string(got) != "the-token-value-123" {
			t.Fatalf("decrypted %q", got)
		}
	}
}

func TestParseRejects(t *testing.T) {
	t.Parallel()
	for _, in := range []string{"", " , ", "age1notakey", "ssh-ed25519 AAAA"} {
		if _, err := Parse(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}
