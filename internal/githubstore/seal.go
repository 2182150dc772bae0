package githubstore

import (
	"encoding/base64"
	"fmt"
	"io"
	"sync"

	"golang.org/x/crypto/nacl/box"

	"github.com/astro-ci/astro-ci/internal/secret"
)

// seal encrypts v for a GitHub secret store: a libsodium sealed box
// (crypto_box_seal) to the store's Curve25519 public key, base64 (standard
// alphabet, padded) as the API expects (github-secrets.md §1.1). The key is
// checked to be exactly 32 bytes: converting a short one would panic.
func seal(pubKeyB64 string, v secret.Value, rand io.Reader) (string, error) {
	raw, err := base64.StdEncoding.DecodeString(pubKeyB64)
	if err != nil {
		return "", fmt.Errorf("the public key GitHub returned is not base64: %w", err)
	}
	if len(raw) != 32 {
		return "", fmt.Errorf("the public key GitHub returned is %d bytes long, want a 32-byte Curve25519 key", len(raw))
	}
	var pk [32]byte
	copy(pk[:], raw)
	out, err := box.SealAnonymous(nil, []byte(v.Reveal()), &pk, rand)
	if err != nil {
		return "", fmt.Errorf("sealing the value: %w", err)
	}
	return base64.StdEncoding.EncodeToString(out), nil
}

// lockedReader serialises reads: the Store seals concurrently, and an
// injected reader (a fixed test stream) need not be safe for that.
type lockedReader struct {
	mu sync.Mutex
	r  io.Reader
}

func (l *lockedReader) Read(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return io.ReadFull(l.r, p)
}
