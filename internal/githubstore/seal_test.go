package githubstore

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"

	"golang.org/x/crypto/nacl/box"

	"github.com/astro-ci/astro-ci/internal/secret"
	"github.com/astro-ci/astro-ci/internal/target"
)

// fixedRand is a reader of one repeated byte: the sealed box's ephemeral
// key, and so the whole ciphertext, is then fixed.
func fixedRand(b byte) *bytes.Reader { return bytes.NewReader(bytes.Repeat([]byte{b}, 64)) }

func TestSealRoundTrip(t *testing.T) {
	t.Parallel()
	pub, priv, err := box.GenerateKey(fixedRand(1))
	if err != nil {
		t.Fatal(err)
	}
	pubB64 := base64.StdEncoding.EncodeToString(pub[:])
	for _, value := range []string{"", "x", secretValue, strings.Repeat("é", 5000)} {
		enc, err := seal(pubB64, secret.New(value), fixedRand(2))
		if err != nil {
			t.Fatalf("seal: %v", err)
		}
		// A sealed box adds a 32-byte ephemeral key and a 16-byte tag.
		if want := base64.StdEncoding.EncodedLen(len(value) + 48); len(enc) != want {
			t.Errorf("len(ciphertext) = %d, want %d", len(enc), want)
		}
		again, _ := seal(pubB64, secret.New(value), fixedRand(2))
		if again != enc {
			t.Error("same key, value and randomness gave different ciphertexts")
		}
		ct, err := base64.StdEncoding.DecodeString(enc)
		if err != nil {
			t.Fatalf("ciphertext is not standard base64: %v", err)
		}
		plain, ok := box.OpenAnonymous(nil, ct, pub, priv)
		if !ok || string(plain) != value {
			t.Errorf("OpenAnonymous = %q, %v; want the value back", plain, ok)
		}
	}
	// Known answer: pins the construction (X25519, blake2b nonce,
	// XSalsa20-Poly1305) for a fixed key and randomness.
	enc, _ := seal(pubB64, secret.New("hello"), fixedRand(2))
	if enc != knownHello {
		t.Errorf("seal(hello) = %q, want %q", enc, knownHello)
	}
}

const knownHello = "zo060cy2M+x7cMF4FKXHbs0CloUFDTRHRboFhw5YfVk+8lYShqRidGiaBDqRdEMh9D608YE="

func TestSealRejectsBadKeys(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, key, want string
	}{
		{"not base64", "%%%", "not base64"},
		{"short", base64.StdEncoding.EncodeToString(make([]byte, 31)), "31 bytes long, want a 32-byte"},
		{"long", base64.StdEncoding.EncodeToString(make([]byte, 33)), "33 bytes long"},
		{"empty", "", "0 bytes long"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := seal(tc.key, secret.New(secretValue), fixedRand(3))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.want)
			}
			if strings.Contains(err.Error(), secretValue) {
				t.Error("error contains the value")
			}
		})
	}
	t.Run("randomness fails", func(t *testing.T) {
		t.Parallel()
		pub, _, _ := box.GenerateKey(fixedRand(1))
		_, err := seal(base64.StdEncoding.EncodeToString(pub[:]), secret.New("v"), bytes.NewReader(nil))
		if err == nil {
			t.Fatal("no error with an empty randomness source")
		}
	})
}

// constRand is an endless reader of one byte.
type constRand byte

func (c constRand) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(c)
	}
	return len(p), nil
}

// TestStoreSealsWithInjectedRand: go-github is the client, the fake opens
// the sealed box; a fixed Rand makes the ciphertext and the canary name
// reproducible.
func TestStoreSealsWithInjectedRand(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	s := f.store(t, func(c *Config) { c.Rand = constRand(9) })
	tg := mustParse(t, "github://o/r/secrets/SEALED")
	for range 2 {
		if err := s.Put(t.Context(), tg, secret.New(secretValue)); err != nil {
			t.Fatal(err)
		}
	}
	if v, _ := f.fake.RepoSecret("o", "r", "SEALED"); v != secretValue {
		t.Fatalf("the fake decrypted %q", v)
	}
	if err := s.Preflight(t.Context(), tg, target.Proof{}); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.puts) != 3 {
		t.Fatalf("%d PUTs, want 3", len(f.puts))
	}
	a, b := f.puts[0], f.puts[1]
	if len(a.EncryptedValue) != base64.StdEncoding.EncodedLen(len(secretValue)+48) || a.EncryptedValue != b.EncryptedValue || a.KeyID == "" {
		t.Errorf("ciphertexts %q and %q: want equal, %d characters", a.EncryptedValue, b.EncryptedValue, base64.StdEncoding.EncodedLen(len(secretValue)+48))
	}
	if want := "/repos/o/r/actions/secrets/ASTRO_CI_PREFLIGHT_09090909"; f.puts[2].Path != want {
		t.Errorf("canary PUT %s, want %s", f.puts[2].Path, want)
	}
	if f.fake.DecryptFailures() != 0 {
		t.Error("decrypt failures")
	}
}
