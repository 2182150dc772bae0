package astrofake

import (
	"crypto/md5"
	"crypto/subtle"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// The blob endpoint that CreateDeploy's dagsUploadUrl points at: a stand-in
// for Azure Blob Storage's Put Blob (code-deploys.md A.4 and "For a fake").
//
//	PUT /astrofake-blob/{org}/{deployment}/{deploy}.tar.gz?sv=…&sr=b&sp=cw&se=…&sig=…
//
// Like Azure it wants x-ms-blob-type: BlockBlob (missing: 400
// MissingRequiredHeader; another type: 400 InvalidHeaderValue), a valid
// signature (else 403 AuthenticationFailed, and no message quotes it) and
// an unexpired se; it answers 201 with x-ms-version-id, ETag, Content-MD5
// and x-ms-request-id, errors as Azure's XML with x-ms-error-code. Once
// the deploy is finalized its URL takes no more writes (403, inferred).

const (
	blobPrefix   = "/astrofake-blob/"
	azureVersion = "2023-11-03"
	// maxBlobBytes bounds one upload (Azure's Put Blob takes up to 5000
	// MiB; a fake needs less).
	maxBlobBytes = 256 << 20
)

type azureError struct {
	XMLName xml.Name `xml:"Error"`
	Code    string   `xml:"Code"`
	Message string   `xml:"Message"`
}

func (s *Server) serveBlob(w http.ResponseWriter, r *http.Request) {
	reqID := s.nextRequestID()
	entry := Request{Method: r.Method, Path: r.URL.Path, Route: "PutBlob", RequestID: reqID}
	// The query carries the signature: it stays out of the request log.
	defer func() { s.logRequest(entry) }()
	w.Header().Set("x-ms-request-id", reqID)
	w.Header().Set("x-ms-version", azureVersion)
	fail := func(status int, code, msg string) {
		entry.Status = status
		w.Header().Set("x-ms-error-code", code)
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(status)
		b, _ := xml.Marshal(azureError{Code: code, Message: msg + "\nRequestId:" + reqID + "\nTime:" + s.now().UTC().Format(time.RFC3339Nano)})
		_, _ = w.Write(append([]byte(xml.Header), b...))
	}
	if r.Method != http.MethodPut {
		fail(http.StatusMethodNotAllowed, "UnsupportedHttpVerb", "The resource doesn't support the specified HTTP verb.")
		return
	}
	rest := strings.TrimPrefix(r.URL.Path, blobPrefix)
	parts := strings.Split(strings.TrimSuffix(rest, ".tar.gz"), "/")
	q := r.URL.Query()
	bt, hasBT := r.Header["X-Ms-Blob-Type"]
	switch {
	case !hasBT:
		fail(http.StatusBadRequest, "MissingRequiredHeader", "An HTTP header that's mandatory for this request is not specified: x-ms-blob-type.")
		return
	case len(bt) != 1 || bt[0] != "BlockBlob":
		fail(http.StatusBadRequest, "InvalidHeaderValue", "The value for one of the HTTP headers is not in the correct format: x-ms-blob-type.")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxBlobBytes))
	if err != nil {
		fail(http.StatusRequestEntityTooLarge, "RequestBodyTooLarge", fmt.Sprintf("The request body is too large and exceeds the maximum permissible limit of %d bytes.", maxBlobBytes))
		return
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	var dp *deploy
	if len(parts) == 3 && strings.HasSuffix(rest, ".tar.gz") {
		if x, ok := s.codeLocked().deploys[parts[2]]; ok && x.orgID == parts[0] && x.deploymentID == parts[1] {
			dp = x
		}
	}
	sig := q.Get("sig")
	authFail := "Server failed to authenticate the request. Make sure the value of Authorization header is formed correctly including the signature."
	switch {
	case dp == nil || dp.sig == "" || sig == "" || subtle.ConstantTimeCompare([]byte(sig), []byte(dp.sig)) != 1:
		fail(http.StatusForbidden, "AuthenticationFailed", authFail)
		return
	case !s.clock().Before(dp.sigExpires):
		fail(http.StatusForbidden, "AuthenticationFailed", "Signed expiry time has to be after signed start time.")
		return
	case dp.status != "INITIALIZED":
		fail(http.StatusForbidden, "AuthorizationPermissionMismatch", "This request is not authorized to perform this operation using this permission.")
		return
	}
	s.code.blobSeq++
	now := s.now().UTC()
	version := now.Format("2006-01-02T15:04:05") + fmt.Sprintf(".%07dZ", s.code.blobSeq%10_000_000)
	dp.versions = append(dp.versions, blobVersion{id: version, data: body})
	sum := md5.Sum(body)
	h := w.Header()
	h.Set("ETag", fmt.Sprintf("\"0x%X\"", now.UnixNano()))
	h.Set("Last-Modified", now.Format(http.TimeFormat))
	h.Set("Content-MD5", base64.StdEncoding.EncodeToString(sum[:]))
	h.Set("x-ms-version-id", version)
	h.Set("x-ms-request-server-encrypted", "true")
	entry.Status = http.StatusCreated
	w.WriteHeader(http.StatusCreated)
}
