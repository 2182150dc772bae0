package kill

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
)

// Fault is one way a request goes wrong, the same for all three services.
type Fault struct{ Kind string }

// Fault kinds.
const (
	F500        = "500"
	F502        = "502"
	F503        = "503"
	F504        = "504"
	F429        = "429+Retry-After"
	FSecondary  = "secondary-rate-limit"
	FResetFirst = "reset-before-apply"
	FResetAfter = "reset-after-apply"
	FTruncated  = "truncated-body"
	FGarbage    = "garbage-body"
	FHang       = "hang"
)

// faultKinds in matrix order.
var faultKinds = []string{F500, F502, F503, F504, F429, FSecondary, FResetFirst, FResetAfter, FTruncated, FGarbage, FHang}

// applies: the fake applies the request before the fault shapes the answer.
func (f Fault) applies() bool {
	return f.Kind == FResetAfter || f.Kind == FTruncated || f.Kind == FGarbage
}

// proxyPage is what a load balancer in front of an API answers a 502, 503
// or 504 with: not the API's JSON.
const proxyPage = "<html>\r\n<head><title>%d %s</title></head>\r\n<body>\r\n<center><h1>%d %s</h1></center>\r\n</body>\r\n</html>\r\n"

// answer writes the fault's answer. rec is the fake's answer when the fault
// applies the request first.
func (f Fault) answer(w http.ResponseWriter, r *http.Request, p *proxy, rec *httptest.ResponseRecorder) {
	switch f.Kind {
	case F500:
		jsonError(w, http.StatusInternalServerError, "Internal Server Error")
	case F502, F503, F504:
		code, _ := strconv.Atoi(f.Kind)
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(code)
		fmt.Fprintf(w, proxyPage, code, http.StatusText(code), code, http.StatusText(code))
	case F429:
		w.Header().Set("Retry-After", "1")
		jsonError(w, http.StatusTooManyRequests, "Too Many Requests")
	case FSecondary:
		// GitHub's words and header (docs.github.com, "Rate limits for the
		// REST API", § Exceeding the rate limit); the other services get the
		// same answer, which for them is a plain 403.
		w.Header().Set("Retry-After", "1")
		w.Header().Set("X-RateLimit-Remaining", "4000")
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprint(w, `{"message":"You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID.","documentation_url":"https://docs.github.com/free-pro-team@latest/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits","status":"403"}`)
	case FResetFirst, FResetAfter:
		reset(w)
	case FTruncated:
		body := rec.Body.Bytes()
		for k, vs := range rec.Header() {
			w.Header()[k] = vs
		}
		code := rec.Code
		if code == http.StatusNoContent || len(body) < 8 {
			// Nothing to cut: promise a body and cut that.
			code, body = okIfEmpty(code), []byte(`{"id":"cut-off-answer-of-a-promised-length"}`)
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(code)
		_, _ = w.Write(body[:len(body)/2])
		_ = http.NewResponseController(w).Flush()
		reset(w)
	case FGarbage:
		for k, vs := range rec.Header() {
			w.Header()[k] = vs
		}
		w.Header().Del("Content-Length")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(okIfEmpty(rec.Code))
		_, _ = w.Write([]byte("<html><body>\x00\xff upstream sent garbage {\"id\": </body>"))
	case FHang:
		// Hold until the client gives up (or the world ends), then close.
		select {
		case <-r.Context().Done():
		case <-p.done:
		}
		panic(http.ErrAbortHandler)
	default:
		panic("unknown fault " + f.Kind)
	}
}

// okIfEmpty: a 204 cannot carry a body; a garbage or cut-off one comes
// with a 200 (a proxy's page instead of the API's empty answer).
func okIfEmpty(code int) int {
	if code == http.StatusNoContent {
		return http.StatusOK
	}
	return code
}

func jsonError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	fmt.Fprintf(w, `{"message":%q,"statusCode":%d}`, msg, code)
}

// reset closes the connection with a TCP reset (no answer, or the rest of
// one, ever arrives).
func reset(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}
