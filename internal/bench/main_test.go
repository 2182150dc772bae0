package bench

import (
	"encoding/pem"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
)

// TestMain makes this test binary trust httptest's certificate (every
// httptest TLS server has the same one) the way a runner trusts a real
// forge's: through the system roots, which crypto/x509 reads once from
// SSL_CERT_FILE. So the CLI's own production transport, not a test client,
// talks to the TLS fakes (TestConnectionsPerSlot).
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "astro-ci-bench-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	srv := httptest.NewTLSServer(nil)
	file := filepath.Join(dir, "httptest.pem")
	err = os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600)
	srv.Close()
	if err == nil {
		err = os.Setenv("SSL_CERT_FILE", file)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}
