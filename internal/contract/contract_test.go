package contract

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// collector gathers reported violations; report may be called from server
// goroutines.
type collector struct {
	mu   sync.Mutex
	errs []error
}

func (c *collector) report(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.errs = append(c.errs, err)
}

func (c *collector) list() []error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]error(nil), c.errs...)
}

// answer is a canned response.
type answer struct {
	status int
	ctype  string // "" leaves Content-Type unset
	body   string
	header map[string]string
}

func (a answer) handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if a.ctype != "" {
			w.Header().Set("Content-Type", a.ctype)
		}
		for k, v := range a.header {
			w.Header().Set(k, v)
		}
		w.WriteHeader(a.status)
		_, _ = io.WriteString(w, a.body)
	})
}

func jsonAnswer(status int, body string) answer {
	return answer{status: status, ctype: "application/json", body: body}
}

// exchange sends one request through v's middleware to h and returns what
// was reported and what the client got.
func exchange(t *testing.T, v *Validator, h http.Handler, method, target, auth, ctype, body string) ([]error, *httptest.ResponseRecorder) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, target, rd)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	var c collector
	rec := httptest.NewRecorder()
	v.Middleware(h, c.report).ServeHTTP(rec, req)
	return c.list(), rec
}

// checkErrs compares reported violations with the wanted substrings, one
// want per violation, in any order; " && " separates substrings that must
// all be in the same violation.
func checkErrs(t *testing.T, got []error, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("got %d violations, want %d:\n%s", len(got), len(want), joinErrs(got))
		return
	}
	used := make([]bool, len(got))
	for _, w := range want {
		found := false
		for i, err := range got {
			if !used[i] && containsAll(err.Error(), strings.Split(w, " && ")) {
				used[i], found = true, true
				break
			}
		}
		if !found {
			t.Errorf("no violation mentions %q; got:\n%s", w, joinErrs(got))
		}
	}
	for _, err := range got {
		var v *Violation
		if !errors.As(err, &v) {
			t.Errorf("reported error %T is not a *Violation: %v", err, err)
		}
	}
}

func containsAll(s string, subs []string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

func joinErrs(errs []error) string {
	var b strings.Builder
	for _, e := range errs {
		fmt.Fprintf(&b, "  - %v\n", e)
	}
	return b.String()
}

func astro(t testing.TB) *Validator {
	t.Helper()
	v, err := Astro()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func gitHub(t testing.TB) *Validator {
	t.Helper()
	v, err := GitHub()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

const (
	bearer   = "Bearer test-token"
	jsonType = "application/json"

	astroError = `{"message":"nope","requestId":"req-1","statusCode":400}`
	astroToken = `{"createdAt":"2024-01-02T03:04:05Z","description":"d","id":"tok1","kind":"STANDARD",` +
		`"name":"ci","scope":"ORGANIZATION","shortToken":"abc","startAt":"2024-01-02T03:04:05Z","updatedAt":"2024-01-02T03:04:05Z"}`
	astroDeployment = `{"airflowVersion":"2.10.0","apiUrl":"https://x","astroRuntimeVersion":"12.0.0",` +
		`"createdAt":"2024-01-02T03:04:05Z","createdBy":{"id":"u1"},"id":"dep1","imageRepository":"img","imageTag":"t",` +
		`"isCicdEnforced":false,"isDagDeployEnabled":true,"name":"d","namespace":"ns","organizationId":"o1",` +
		`"runtimeVersion":"12.0.0","schedulerCpu":"1","schedulerMemory":"2Gi","schedulerReplicas":1,"status":"HEALTHY",` +
		`"uiUrl":"https://x","updatedAt":"2024-01-02T03:04:05Z","updatedBy":{"id":"u1"},"webServerAirflowApiUrl":"https://x",` +
		`"webServerCpu":"1","webServerIngressHostname":"x","webServerMemory":"2Gi","webServerUrl":"https://x","workspaceId":"w1"}`
)

func TestAstroRequests(t *testing.T) {
	v := astro(t)
	// A declared error answer isolates request violations.
	h := jsonAnswer(400, astroError).handler()
	tests := []struct {
		name, method, target, auth, ctype, body string
		want                                    []string
	}{
		{name: "valid list", method: "GET", target: "/v1/organizations", auth: bearer},
		{name: "valid list with query", method: "GET", target: "/v1/organizations/o1/deployments?limit=10&sorts=name:asc&workspaceIds=w1&workspaceIds=w2", auth: bearer},
		{name: "valid create token", method: "POST", target: "/v1/organizations/o1/tokens", auth: bearer, ctype: jsonType,
			body: `{"name":"ci","role":"ORGANIZATION_MEMBER","scope":"ORGANIZATION","tokenExpiryPeriodInDays":30}`},
		{name: "valid update token", method: "POST", target: "/v1/organizations/o1/tokens/t1", auth: bearer, ctype: jsonType,
			body: `{"name":"ci","description":"a property called description"}`},
		{name: "valid rotate without body", method: "POST", target: "/v1/organizations/o1/tokens/t1/rotate", auth: bearer},
		{name: "valid delete", method: "DELETE", target: "/v1/organizations/o1/tokens/t1", auth: bearer},
		{name: "valid charset in content type", method: "POST", target: "/v1/organizations/o1/tokens/t1/roles", auth: bearer,
			ctype: "application/json; charset=utf-8", body: `{"roles":[{"entityId":"o1","entityType":"ORGANIZATION","role":"ORGANIZATION_OWNER"}]}`},

		{name: "unknown path", method: "GET", target: "/v1/organizations/o1/clusters", auth: bearer,
			want: []string{"no matching operation was found"}},
		{name: "wrong method", method: "PUT", target: "/v1/organizations/o1/tokens", auth: bearer,
			want: []string{"method not allowed"}},
		{name: "outside base path", method: "GET", target: "/organizations", auth: bearer,
			want: []string{`not under the API's base path "/v1"`}},
		{name: "missing auth", method: "GET", target: "/v1/organizations",
			want: []string{"missing Authorization header"}},
		{name: "wrong auth scheme", method: "GET", target: "/v1/organizations", auth: "Basic dXNlcjpwYXNz",
			want: []string{`got scheme "Basic"`}},
		{name: "empty bearer", method: "GET", target: "/v1/organizations", auth: "Bearer ",
			want: []string{`Authorization header must be <scheme> <credentials> with scheme bearer, got scheme "Bearer"`}},
		{name: "missing required field", method: "POST", target: "/v1/organizations/o1/tokens", auth: bearer, ctype: jsonType,
			body: `{"role":"ORGANIZATION_MEMBER","scope":"ORGANIZATION"}`,
			want: []string{`property "name" is missing`}},
		{name: "wrong enum", method: "POST", target: "/v1/organizations/o1/tokens", auth: bearer, ctype: jsonType,
			body: `{"name":"ci","role":"ORGANIZATION_MEMBER","scope":"GALAXY"}`,
			want: []string{`Error at "/scope": value is not one of the allowed values`}},
		{name: "wrong type", method: "POST", target: "/v1/organizations/o1/tokens", auth: bearer, ctype: jsonType,
			body: `{"name":7,"role":"ORGANIZATION_MEMBER","scope":"ORGANIZATION"}`,
			want: []string{`Error at "/name": value must be a string`}},
		{name: "out of range", method: "POST", target: "/v1/organizations/o1/tokens", auth: bearer, ctype: jsonType,
			body: `{"name":"ci","role":"ORGANIZATION_MEMBER","scope":"ORGANIZATION","tokenExpiryPeriodInDays":0}`,
			want: []string{`Error at "/tokenExpiryPeriodInDays": number must be at least 1`}},
		{name: "missing required body", method: "POST", target: "/v1/organizations/o1/tokens", auth: bearer,
			want: []string{"request body has an error: value is required but missing"}},
		{name: "body not JSON", method: "POST", target: "/v1/organizations/o1/tokens", auth: bearer, ctype: jsonType,
			body: `{"name":`,
			want: []string{"request body has an error: failed to decode request body"}},
		{name: "wrong content type", method: "POST", target: "/v1/organizations/o1/tokens", auth: bearer, ctype: "text/plain",
			body: `{"name":"ci","role":"ORGANIZATION_MEMBER","scope":"ORGANIZATION"}`,
			want: []string{`header Content-Type has unexpected value "text/plain"`}},
		{name: "body where none is declared", method: "GET", target: "/v1/organizations", auth: bearer, ctype: jsonType,
			body: `{}`,
			want: []string{"request body not allowed for this request"}},
		{name: "bad query parameter", method: "GET", target: "/v1/organizations/o1/deployments?limit=ten", auth: bearer,
			want: []string{`parameter "limit" in query has an error`}},
		{name: "bad query enum", method: "GET", target: "/v1/organizations/o1/deployments?sorts=size:asc", auth: bearer,
			want: []string{`parameter "sorts" in query has an error`}},
		{name: "all problems reported", method: "GET", target: "/v1/organizations/o1/deployments?limit=ten", ctype: jsonType, body: `{}`,
			want: []string{"missing Authorization header", `parameter "limit" in query has an error`, "request body not allowed"}},
		{name: "all body problems reported", method: "POST", target: "/v1/organizations/o1/tokens", auth: bearer, ctype: jsonType,
			body: `{"role":"ORGANIZATION_MEMBER","scope":"GALAXY"}`,
			want: []string{`request body has an error && property "name" is missing && "/scope": value is not one of the allowed values`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			errs, rec := exchange(t, v, h, tc.method, tc.target, tc.auth, tc.ctype, tc.body)
			checkErrs(t, errs, tc.want)
			for _, err := range errs {
				var viol *Violation
				if errors.As(err, &viol) && (viol.Response || viol.Method != tc.method || viol.Status != 400) {
					t.Errorf("violation %+v: want a request violation of %s answered 400", viol, tc.method)
				}
			}
			if rec.Code != 400 || rec.Body.String() != astroError {
				t.Errorf("client got %d %q, want the handler's answer", rec.Code, rec.Body.String())
			}
		})
	}
}

// Astro's deployment requests are oneOf with a discriminator on "type".
func TestAstroDeploymentDiscriminator(t *testing.T) {
	v := astro(t)
	h := jsonAnswer(200, astroDeployment).handler()
	const create = "/v1/organizations/o1/deployments"
	const update = "/v1/organizations/o1/deployments/d1"
	const updateStandard = `"environmentVariables":[{"key":"A","value":"b","isSecret":false}],"executor":"ASTRO",` +
		`"isCicdEnforced":true,"isDagDeployEnabled":true,"isHighAvailability":false,"name":"d","schedulerSize":"SMALL","workspaceId":"w1"`
	tests := []struct {
		name, method, target, body string
		want                       []string
	}{
		{name: "create standard", method: "POST", target: create,
			body: `{"type":"STANDARD","name":"d","workspaceId":"w1","cloudProvider":"AWS","region":"us-east-1",` +
				`"executor":"ASTRO","isCicdEnforced":true,"isDagDeployEnabled":true,"isHighAvailability":false,"schedulerSize":"SMALL",` +
				`"defaultTaskPodCpu":"0.25","defaultTaskPodMemory":"0.5Gi","resourceQuotaCpu":"10","resourceQuotaMemory":"20Gi",` +
				`"environmentVariables":[{"key":"A","value":"b","isSecret":false}],"description":"a property called description"}`},
		{name: "create dedicated", method: "POST", target: create,
			body: `{"type":"DEDICATED","name":"d","workspaceId":"w1","clusterId":"c1"}`},
		// Type may be omitted on create (see relaxOptionalDiscriminators).
		{name: "create without type", method: "POST", target: create,
			body: `{"name":"d","workspaceId":"w1","cloudProvider":"GCP","region":"us-east4"}`},
		{name: "create without type missing name", method: "POST", target: create,
			body: `{"workspaceId":"w1"}`,
			want: []string{`without "type", the value matches none of the alternatives && CreateStandardDeploymentRequest: Error at "/name": property "name" is missing`}},
		{name: "create unknown type", method: "POST", target: create,
			body: `{"type":"GALAXY","name":"d","workspaceId":"w1"}`,
			want: []string{`discriminator property "type" has invalid value`}},
		// The discriminator selects the branch: STANDARD's cloudProvider
		// enum applies, although the other branches would accept any value.
		{name: "create standard bad cloud provider", method: "POST", target: create,
			body: `{"type":"STANDARD","name":"d","workspaceId":"w1","cloudProvider":"MARS"}`,
			want: []string{`value is not one of the allowed values`}},
		{name: "create dedicated ignores standard-only field", method: "POST", target: create,
			body: `{"type":"DEDICATED","name":"d","workspaceId":"w1","cloudProvider":"MARS"}`},
		{name: "create standard missing workspace", method: "POST", target: create,
			body: `{"type":"STANDARD","name":"d"}`,
			want: []string{`property "workspaceId" is missing`}},
		{name: "create standard bad executor", method: "POST", target: create,
			body: `{"type":"STANDARD","name":"d","workspaceId":"w1","executor":"LOCAL"}`,
			want: []string{`value is not one of the allowed values`}},
		{name: "update standard", method: "POST", target: update, body: `{"type":"STANDARD",` + updateStandard + `}`},
		// Every update branch requires type, so the relaxation does not apply.
		{name: "update without type", method: "POST", target: update, body: `{` + updateStandard + `}`,
			want: []string{`input does not contain the discriminator property "type"`}},
		{name: "update standard missing field", method: "POST", target: update,
			body: `{"type":"STANDARD","name":"d","workspaceId":"w1"}`,
			want: []string{`property "executor" is missing`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			errs, _ := exchange(t, v, h, tc.method, tc.target, bearer, jsonType, tc.body)
			checkErrs(t, errs, tc.want)
		})
	}
}

func TestAstroResponses(t *testing.T) {
	v := astro(t)
	const token = "/v1/organizations/o1/tokens/t1"
	tests := []struct {
		name, method, target string
		answer               answer
		want                 []string
	}{
		{name: "valid token", method: "GET", target: token, answer: jsonAnswer(200, astroToken)},
		{name: "valid error", method: "GET", target: token, answer: jsonAnswer(404, `{"message":"no such token","requestId":"r","statusCode":404}`)},
		{name: "valid error with charset", method: "GET", target: token,
			answer: answer{status: 404, ctype: "application/json; charset=utf-8", body: `{"message":"m","requestId":"r","statusCode":404}`}},
		{name: "valid delete", method: "DELETE", target: token, answer: answer{status: 204}},
		{name: "valid deployment", method: "GET", target: "/v1/organizations/o1/deployments/d1", answer: jsonAnswer(200, astroDeployment)},
		{name: "valid list", method: "GET", target: "/v1/organizations/o1/tokens",
			answer: jsonAnswer(200, `{"limit":20,"offset":0,"totalCount":1,"tokens":[`+astroToken+`]}`)},

		{name: "undeclared status", method: "GET", target: token, answer: jsonAnswer(418, astroError),
			want: []string{"status is not supported"}},
		{name: "undeclared success status", method: "DELETE", target: token, answer: jsonAnswer(200, astroToken),
			want: []string{"status is not supported"}},
		{name: "missing required field", method: "GET", target: token,
			answer: jsonAnswer(200, strings.Replace(astroToken, `"id":"tok1",`, "", 1)),
			want:   []string{`property "id" is missing`}},
		{name: "missing required nested field", method: "GET", target: "/v1/organizations/o1/tokens",
			answer: jsonAnswer(200, `{"limit":20,"offset":0,"totalCount":1,"tokens":[{"id":"x"}]}`),
			want:   []string{`response body doesn't match schema && "/tokens/0/createdAt": property "createdAt" is missing`}},
		{name: "wrong type", method: "GET", target: token,
			answer: jsonAnswer(200, strings.Replace(astroToken, `"id":"tok1"`, `"id":5`, 1)),
			want:   []string{`Error at "/id": value must be a string`}},
		{name: "wrong enum", method: "GET", target: token,
			answer: jsonAnswer(200, strings.Replace(astroToken, `"kind":"STANDARD"`, `"kind":"SUPER"`, 1)),
			want:   []string{`Error at "/kind": value is not one of the allowed values`}},
		{name: "error out of range", method: "GET", target: token,
			answer: jsonAnswer(404, `{"message":"m","requestId":"r","statusCode":200}`),
			want:   []string{`Error at "/statusCode": number must be at least 400`}},
		{name: "wrong content type", method: "GET", target: token,
			answer: answer{status: 200, ctype: "text/plain", body: astroToken},
			want:   []string{`response header Content-Type has unexpected value: "text/plain"`}},
		// net/http would send a sniffed text/plain.
		{name: "no content type", method: "GET", target: token,
			answer: answer{status: 200, body: astroToken},
			want:   []string{`unexpected value: "text/plain; charset=utf-8"`}},
		{name: "not JSON", method: "GET", target: token, answer: jsonAnswer(200, `{"id":`),
			want: []string{"failed to decode response body"}},
		{name: "empty body", method: "GET", target: token, answer: jsonAnswer(200, ""),
			want: []string{"failed to decode response body"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			errs, rec := exchange(t, v, tc.answer.handler(), tc.method, tc.target, bearer, "", "")
			checkErrs(t, errs, tc.want)
			for _, err := range errs {
				var viol *Violation
				if errors.As(err, &viol) && (!viol.Response || viol.Status != tc.answer.status) {
					t.Errorf("violation %+v: want a response violation with status %d", viol, tc.answer.status)
				}
			}
			// The client gets the handler's response unchanged.
			if rec.Code != tc.answer.status || rec.Body.String() != tc.answer.body {
				t.Errorf("client got %d %q, want %d %q", rec.Code, rec.Body.String(), tc.answer.status, tc.answer.body)
			}
		})
	}
}

func TestHandlerSeesRequestUnchanged(t *testing.T) {
	v := astro(t)
	const body = `{"name":"ci","role":"ORGANIZATION_MEMBER","scope":"ORGANIZATION"}`
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, err := io.ReadAll(r.Body)
		if err != nil || string(got) != body {
			t.Errorf("handler read %q, %v; want %q", got, err, body)
		}
		// Defaults (limit=20) must not be injected into the request.
		if q := r.URL.RawQuery; q != "x=1" {
			t.Errorf("handler saw query %q", q)
		}
		if r.URL.Path != "/v1/organizations/o1/tokens" {
			t.Errorf("handler saw path %q", r.URL.Path)
		}
		w.Header().Set("Content-Type", jsonType)
		_, _ = io.WriteString(w, astroToken)
	})
	errs, rec := exchange(t, v, h, "POST", "/v1/organizations/o1/tokens?x=1", bearer, jsonType, body)
	checkErrs(t, errs, nil)
	if rec.Code != 200 || rec.Body.String() != astroToken {
		t.Errorf("client got %d %q", rec.Code, rec.Body.String())
	}
}

func TestFaultHeaderSkipsResponseValidation(t *testing.T) {
	v := astro(t)
	fault := answer{status: 502, ctype: "text/html", body: "<html>Bad Gateway</html>", header: map[string]string{FaultHeader: "proxy-502"}}
	errs, rec := exchange(t, v, fault.handler(), "GET", "/v1/organizations", bearer, "", "")
	checkErrs(t, errs, nil)
	if rec.Code != 502 || rec.Header().Get(FaultHeader) != "proxy-502" || rec.Body.String() != fault.body {
		t.Errorf("client got %d %v %q, want the fault unchanged", rec.Code, rec.Header(), rec.Body.String())
	}

	// The same answer without the header is a violation.
	fault.header = nil
	errs, _ = exchange(t, v, fault.handler(), "GET", "/v1/organizations", bearer, "", "")
	checkErrs(t, errs, []string{"status is not supported"})

	// Request violations are still reported.
	fault.header = map[string]string{FaultHeader: "1"}
	errs, _ = exchange(t, v, fault.handler(), "GET", "/v1/organizations", "", "", "")
	checkErrs(t, errs, []string{"missing Authorization header"})
}

func TestHijackedResponseSkipped(t *testing.T) {
	v := astro(t)
	var c collector
	hijacked := make(chan bool, 2)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Start an invalid answer, then drop the connection.
		w.Header().Set("Content-Type", "text/plain")
		conn, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Errorf("hijack: %v", err)
			hijacked <- false
			return
		}
		_, _ = buf.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\ngarbage")
		_ = buf.Flush()
		_ = conn.Close()
		hijacked <- true
	})
	srv := httptest.NewServer(v.Middleware(h, c.report))
	defer srv.Close()

	for _, auth := range []string{bearer, ""} {
		req, _ := http.NewRequest("GET", srv.URL+"/v1/organizations", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := srv.Client().Do(req)
		if err == nil {
			_, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		if err == nil {
			t.Error("client got a complete response from a dropped connection")
		}
		if !<-hijacked {
			t.Fatal("handler could not hijack")
		}
	}
	srv.Close() // waits for handlers, hence for reports
	// Only the second request's own violation, without a status.
	errs := c.list()
	checkErrs(t, errs, []string{"missing Authorization header"})
	if len(errs) == 1 && !strings.Contains(errs[0].Error(), "not answered") {
		t.Errorf("violation %v should say the request was not answered", errs[0])
	}
}

func TestStreamingPassesThrough(t *testing.T) {
	v := astro(t)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", jsonType)
		_, _ = io.WriteString(w, astroToken[:10])
		if err := http.NewResponseController(w).Flush(); err != nil {
			t.Errorf("flush: %v", err)
		}
		_, _ = io.WriteString(w, astroToken[10:])
	})
	errs, rec := exchange(t, v, h, "GET", "/v1/organizations/o1/tokens/t1", bearer, "", "")
	checkErrs(t, errs, nil)
	if !rec.Flushed || rec.Body.String() != astroToken {
		t.Errorf("flushed=%v body=%q", rec.Flushed, rec.Body.String())
	}
}

func TestPanickingHandlerStillReports(t *testing.T) {
	v := astro(t)
	var c collector
	h := http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) })
	req := httptest.NewRequest("GET", "/v1/organizations", nil)
	func() {
		defer func() {
			if r := recover(); r != http.ErrAbortHandler {
				t.Errorf("recovered %v, want the handler's panic", r)
			}
		}()
		v.Middleware(h, c.report).ServeHTTP(httptest.NewRecorder(), req)
	}()
	checkErrs(t, c.list(), []string{"missing Authorization header"})
}

const (
	ghToken     = "token ghs_test"
	ghSecretPut = `{"encrypted_value":"c2VjcmV0IHZhbHVl","key_id":"568250167242549743"}`
	ghSecret    = `{"name":"ASTRO_API_TOKEN","created_at":"2024-01-02T03:04:05Z","updated_at":"2024-01-02T03:04:05Z"}`
	ghNotFound  = `{"message":"Not Found","documentation_url":"https://docs.github.com/rest","status":"404"}`
)

func TestGitHubExchanges(t *testing.T) {
	v := gitHub(t)
	const secret = "/repos/o/r/actions/secrets/ASTRO_API_TOKEN"
	tests := []struct {
		name, method, target, auth, body string
		answer                           answer
		want                             []string
	}{
		{name: "put secret created", method: "PUT", target: secret, auth: ghToken, body: ghSecretPut, answer: jsonAnswer(201, `{}`)},
		{name: "put secret updated", method: "PUT", target: secret, auth: ghToken, body: ghSecretPut, answer: answer{status: 204}},
		{name: "enterprise prefix", method: "PUT", target: "/api/v3" + secret, auth: ghToken, body: ghSecretPut, answer: answer{status: 204}},
		{name: "bearer", method: "GET", target: secret, auth: "Bearer ghs_test", answer: jsonAnswer(200, ghSecret)},
		{name: "environment secret", method: "PUT", target: "/repos/o/r/environments/prod/secrets/S", auth: ghToken, body: ghSecretPut, answer: answer{status: 204}},
		{name: "org secret", method: "PUT", target: "/orgs/o/actions/secrets/S", auth: ghToken,
			body: `{"encrypted_value":"c2VjcmV0","key_id":"k","visibility":"selected","selected_repository_ids":[1,2]}`, answer: answer{status: 204}},
		{name: "org secret repositories", method: "PUT", target: "/orgs/o/actions/secrets/S/repositories", auth: ghToken,
			body: `{"selected_repository_ids":[1,2]}`, answer: answer{status: 204}},
		{name: "public key", method: "GET", target: "/repos/o/r/actions/secrets/public-key", auth: ghToken,
			answer: jsonAnswer(200, `{"key_id":"568250167242549743","key":"aGVsbG8="}`)},
		{name: "dependabot public key", method: "GET", target: "/repos/o/r/dependabot/secrets/public-key", auth: ghToken,
			answer: jsonAnswer(200, `{"key_id":"1","key":"aGVsbG8="}`)},
		{name: "list secrets", method: "GET", target: "/repos/o/r/actions/secrets?per_page=100&page=2", auth: ghToken,
			answer: jsonAnswer(200, `{"total_count":1,"secrets":[`+ghSecret+`]}`)},
		{name: "delete secret", method: "DELETE", target: secret, auth: ghToken, answer: answer{status: 204}},
		// Undocumented but real error answers (see addErrorFallback).
		{name: "missing secret", method: "GET", target: secret, auth: ghToken, answer: jsonAnswer(404, ghNotFound)},
		{name: "server error", method: "GET", target: secret, auth: ghToken, answer: jsonAnswer(503, `{"message":"unavailable"}`)},
		{name: "declared not found", method: "GET", target: "/orgs/o", auth: ghToken, answer: jsonAnswer(404, ghNotFound)},

		{name: "missing auth", method: "GET", target: secret, answer: jsonAnswer(200, ghSecret),
			want: []string{"missing Authorization header"}},
		{name: "wrong auth scheme", method: "GET", target: secret, auth: "Basic eDp5", answer: jsonAnswer(200, ghSecret),
			want: []string{`got scheme "Basic"`}},
		{name: "unknown path", method: "GET", target: "/repos/o/r/actions/variables", auth: ghToken, answer: jsonAnswer(404, ghNotFound),
			want: []string{"no matching operation was found"}},
		{name: "wrong method", method: "POST", target: secret, auth: ghToken, body: ghSecretPut, answer: jsonAnswer(404, ghNotFound),
			want: []string{"method not allowed"}},
		{name: "missing key id", method: "PUT", target: secret, auth: ghToken, body: `{"encrypted_value":"c2VjcmV0"}`, answer: answer{status: 204},
			want: []string{`property "key_id" is missing`}},
		{name: "value not base64", method: "PUT", target: secret, auth: ghToken, body: `{"encrypted_value":"not base64!","key_id":"k"}`,
			answer: answer{status: 204},
			want:   []string{`Error at "/encrypted_value": string doesn't match the regular expression`}},
		{name: "wrong visibility", method: "PUT", target: "/orgs/o/actions/secrets/S", auth: ghToken,
			body: `{"encrypted_value":"c2VjcmV0","key_id":"k","visibility":"public"}`, answer: answer{status: 204},
			want: []string{`Error at "/visibility": value is not one of the allowed values`}},
		{name: "integer path parameter", method: "POST", target: "/app/installations/abc/access_tokens", auth: "Bearer jwt",
			answer: jsonAnswer(201, `{"token":"ghs_x","expires_at":"2024-01-02T03:04:05Z"}`),
			want:   []string{`parameter "installation_id" in path has an error`}},
		{name: "created body not empty", method: "PUT", target: secret, auth: ghToken, body: ghSecretPut, answer: jsonAnswer(201, `{"ok":true}`),
			want: []string{`property "ok" is unsupported`}},
		{name: "public key missing key", method: "GET", target: "/repos/o/r/actions/secrets/public-key", auth: ghToken,
			answer: jsonAnswer(200, `{"key_id":"1"}`),
			want:   []string{`property "key" is missing`}},
		{name: "error body not JSON", method: "GET", target: secret, auth: ghToken, answer: answer{status: 404, ctype: "text/plain", body: "404 page not found"},
			want: []string{`unexpected value: "text/plain"`}},
		{name: "error body wrong type", method: "GET", target: secret, auth: ghToken, answer: jsonAnswer(404, `{"message":404}`),
			want: []string{`Error at "/message": value must be a string`}},
		{name: "undeclared success status", method: "GET", target: secret, auth: ghToken, answer: jsonAnswer(202, ghSecret),
			want: []string{"status is not supported"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctype := ""
			if tc.body != "" {
				ctype = jsonType
			}
			errs, _ := exchange(t, v, tc.answer.handler(), tc.method, tc.target, tc.auth, ctype, tc.body)
			checkErrs(t, errs, tc.want)
		})
	}
}

// A small document exercising Load with an arbitrary base path.
const customDoc = `{
 "openapi": "3.0.3",
 "info": {"title": "t", "version": "1"},
 "servers": [{"url": "https://example.com/elsewhere"}],
 "paths": {
  "/things/{id}": {
   "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "integer"}}],
   "post": {
    "responses": {
     "202": {"description": ""},
     "4XX": {"description": "", "content": {"application/json": {"schema": {"type": "object", "required": ["error"]}}}}
    }
   }
  }
 }
}`

func TestLoadCustomDocument(t *testing.T) {
	path := filepath.Join(t.TempDir(), "doc.json")
	if err := os.WriteFile(path, []byte(customDoc), 0o644); err != nil {
		t.Fatal(err)
	}
	v, err := Load(path, "/api/")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, target string
		answer       answer
		want         []string
	}{
		{name: "accepted", target: "/api/things/1", answer: answer{status: 202}},
		{name: "path parameter from path item", target: "/api/things/x", answer: answer{status: 202},
			want: []string{`parameter "id" in path has an error`}},
		{name: "servers ignored", target: "/elsewhere/things/1", answer: answer{status: 202},
			want: []string{"not under the API's base path"}},
		{name: "prefix must end at a segment", target: "/apix/things/1", answer: answer{status: 202},
			want: []string{"not under the API's base path"}},
		{name: "body without declared content", target: "/api/things/1", answer: jsonAnswer(202, `{}`),
			want: []string{"declares no content"}},
		{name: "range status", target: "/api/things/1", answer: jsonAnswer(409, `{"error":"x"}`)},
		{name: "range status bad body", target: "/api/things/1", answer: jsonAnswer(409, `{}`),
			want: []string{`property "error" is missing`}},
		{name: "no security declared, none required", target: "/api/things/1", answer: answer{status: 500},
			want: []string{"status is not supported"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			errs, _ := exchange(t, v, tc.answer.handler(), "POST", tc.target, "", "", "")
			checkErrs(t, errs, tc.want)
		})
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := Load(filepath.Join(dir, "missing.json"), ""); err == nil {
		t.Error("Load of a missing file succeeded")
	}
	bad := filepath.Join(dir, "bad.json")
	// A response without description is invalid OpenAPI 3.0.
	doc := strings.Replace(customDoc, `"202": {"description": ""}`, `"202": {}`, 1)
	if err := os.WriteFile(bad, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(bad, ""); err == nil {
		t.Error("Load of an invalid document succeeded")
	}
	external := filepath.Join(dir, "external.json")
	doc = strings.Replace(customDoc, `{"type": "integer"}`, `{"$ref": "other.json#/x"}`, 1)
	if err := os.WriteFile(external, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(external, ""); err == nil {
		t.Error("Load followed an external reference")
	}
}

// recordingTB captures what Check reports.
type recordingTB struct {
	testing.TB
	mu   sync.Mutex
	msgs []string
}

func (r *recordingTB) Helper() {}
func (r *recordingTB) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, fmt.Sprintf(format, args...))
}

func TestCheck(t *testing.T) {
	v := astro(t)
	rt := &recordingTB{TB: t}
	srv := httptest.NewServer(Check(rt, v, jsonAnswer(418, astroError).handler()))
	defer srv.Close()
	req, _ := http.NewRequest("GET", srv.URL+"/v1/organizations/o1/tokens/t1", nil)
	req.Header.Set("Authorization", bearer)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	srv.Close()
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if len(rt.msgs) != 1 {
		t.Fatalf("Check reported %q, want one failure", rt.msgs)
	}
	for _, want := range []string{"GET", "/v1/organizations/o1/tokens/t1", "418", "status is not supported"} {
		if !strings.Contains(rt.msgs[0], want) {
			t.Errorf("failure %q does not mention %q", rt.msgs[0], want)
		}
	}
}

func TestConcurrentUse(t *testing.T) {
	// Validators are loaded once, whichever goroutine gets there first.
	var wg sync.WaitGroup
	astros := make([]*Validator, 8)
	for i := range astros {
		wg.Go(func() { astros[i] = astro(t) })
	}
	wg.Wait()
	for _, a := range astros {
		if a != astros[0] {
			t.Fatal("Astro() returned different validators")
		}
	}

	v := astro(t)
	var c collector
	srv := httptest.NewServer(v.Middleware(jsonAnswer(200, astroToken).handler(), c.report))
	defer srv.Close()
	const n = 64
	for i := range n {
		wg.Go(func() {
			req, _ := http.NewRequest("POST", srv.URL+"/v1/organizations/o1/tokens", strings.NewReader(
				`{"name":"ci","role":"ORGANIZATION_MEMBER","scope":"ORGANIZATION"}`))
			req.Header.Set("Content-Type", jsonType)
			if i%2 == 0 { // every other request lacks its credentials
				req.Header.Set("Authorization", bearer)
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		})
	}
	wg.Wait()
	srv.Close()
	errs := c.list()
	if len(errs) != n/2 {
		t.Fatalf("got %d violations, want %d:\n%s", len(errs), n/2, joinErrs(errs))
	}
	for _, err := range errs {
		if !strings.Contains(err.Error(), "missing Authorization header") {
			t.Errorf("unexpected violation %v", err)
		}
	}
}

// The committed subsets must hold every operation their ops files list
// (catches an ops file edited without regenerating).
func TestSubsetsMatchOpsFiles(t *testing.T) {
	for _, tc := range []struct {
		ops string
		v   *Validator
	}{
		{"../tools/specsubset/astro.ops", astro(t)},
		{"../tools/specsubset/github.ops", gitHub(t)},
	} {
		f, err := os.Open(tc.ops)
		if err != nil {
			t.Fatal(err)
		}
		count := 0
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			line, _, _ := strings.Cut(sc.Text(), "#")
			fields := strings.Fields(line)
			if len(fields) == 0 {
				continue
			}
			count++
			if len(fields) != 2 {
				t.Errorf("%s: bad line %q", tc.ops, line)
				continue
			}
			item := tc.v.doc.Paths.Find(fields[1])
			if item == nil || item.GetOperation(fields[0]) == nil {
				t.Errorf("%s: %s %s is not in the committed subset; regenerate it", tc.ops, fields[0], fields[1])
			}
		}
		f.Close()
		total := 0
		for _, item := range tc.v.doc.Paths.Map() {
			total += len(item.Operations())
		}
		if total != count {
			t.Errorf("%s lists %d operations, the subset has %d; regenerate it", tc.ops, count, total)
		}
	}
}
