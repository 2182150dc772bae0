package gitlabfake

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

const goodValue = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"

// TestRawHTTP pins the wire details client-go hides: error bodies, auth
// variants, form bodies, routing.
func TestRawHTTP(t *testing.T) {
	t.Parallel()
	deploy := "/api/v4/projects/acme%2Fplatform%2Fdeploy/variables"
	tests := []struct {
		name        string
		seed        func(*Server)
		method      string
		path        string
		header      map[string]string
		contentType string
		body        string
		wantStatus  int
		wantBody    string // substring
	}{
		{name: "no token", method: "GET", path: deploy, wantStatus: 401, wantBody: `{"message":"401 Unauthorized"}`},
		{name: "unknown token", method: "GET", path: deploy, header: pt("nope"), wantStatus: 401, wantBody: `"401 Unauthorized"`},
		{name: "expired token", method: "GET", path: deploy, header: pt(tokExpired), wantStatus: 401, wantBody: `"error_description":"Token has expired."`},
		{name: "revoked token", method: "GET", path: deploy, header: pt(tokRevoked), wantStatus: 401, wantBody: `Token was revoked`},
		{name: "job token in JOB-TOKEN", method: "GET", path: deploy, header: map[string]string{"JOB-TOKEN": tokJob}, wantStatus: 401, wantBody: `"401 Unauthorized"`},
		{name: "job token in PRIVATE-TOKEN", method: "POST", path: deploy, header: pt(tokJob), contentType: "application/json", body: `{"key":"K","value":"v"}`, wantStatus: 401},
		{name: "bearer works", method: "GET", path: deploy, header: map[string]string{"Authorization": "Bearer " + tokMaint}, wantStatus: 200, wantBody: `[]`},
		{name: "private_token query works", method: "GET", path: deploy + "?private_token=" + tokMaint, wantStatus: 200},
		{name: "read_api may list", method: "GET", path: deploy, header: pt(tokReadAPI), wantStatus: 200},
		{name: "read_api may not create", method: "POST", path: deploy, header: pt(tokReadAPI), contentType: "application/json", body: `{"key":"K","value":"` + goodValue + `"}`, wantStatus: 403, wantBody: `"error":"insufficient_scope"`},
		{name: "read_user may not read", method: "GET", path: deploy, header: pt(tokUser), wantStatus: 403, wantBody: `insufficient_scope`},
		{name: "any scope may read itself", method: "GET", path: "/api/v4/personal_access_tokens/self", header: pt(tokUser), wantStatus: 200, wantBody: `"scopes":["read_user"]`},
		{name: "developer forbidden", method: "GET", path: deploy, header: pt(tokDev), wantStatus: 403, wantBody: `{"message":"403 Forbidden"}`},
		{name: "no role is not found", method: "GET", path: "/api/v4/projects/other%2Fsecret/variables", header: pt(tokMaint), wantStatus: 404, wantBody: `{"message":"404 Project Not Found"}`},
		{name: "unknown project", method: "GET", path: "/api/v4/projects/acme%2Fnope/variables", header: pt(tokMaint), wantStatus: 404, wantBody: `404 Project Not Found`},
		{name: "unescaped path is no route", method: "GET", path: "/api/v4/projects/acme/platform/deploy/variables", header: pt(tokMaint), wantStatus: 404, wantBody: `{"error":"404 Not Found"}`},
		{name: "group needs owner", method: "GET", path: "/api/v4/groups/acme%2Fplatform/variables", header: pt(tokMaint), wantStatus: 404, wantBody: `404 Group Not Found`},
		{name: "group owner by inheritance", method: "GET", path: "/api/v4/groups/acme%2Fplatform/variables", header: pt(tokOwner), wantStatus: 200},
		{name: "maintainer on group forbidden", method: "GET", path: "/api/v4/groups/acme/variables",
			seed: func(s *Server) {
				s.AddToken("glpat-gm", TokenPerms{Scopes: []string{"api"}, Roles: map[string]int{"acme": Maintainer}})
			},
			header: pt("glpat-gm"), wantStatus: 403, wantBody: `403 Forbidden`},
		{name: "project variable missing", method: "GET", path: deploy + "/NOPE", header: pt(tokMaint), wantStatus: 404, wantBody: `{"message":"404 Variable Not Found"}`},
		{name: "group variable missing", method: "GET", path: "/api/v4/groups/acme/variables/NOPE", header: pt(tokOwner), wantStatus: 404, wantBody: `{"message":"404 GroupVariable Not Found"}`},
		{name: "put missing", method: "PUT", path: deploy + "/NOPE", header: pt(tokMaint), contentType: "application/json", body: `{"value":"x"}`, wantStatus: 404, wantBody: `404 Variable Not Found`},
		{name: "delete missing", method: "DELETE", path: deploy + "/NOPE", header: pt(tokMaint), wantStatus: 404, wantBody: `404 Variable Not Found`},
		{name: "form-encoded create", method: "POST", path: deploy, header: pt(tokMaint), contentType: "application/x-www-form-urlencoded",
			body: "key=FORM&value=" + goodValue + "&masked=true&environment_scope=review%2Fx", wantStatus: 201, wantBody: `"environment_scope":"review/x"`},
		{name: "bad environment scope", method: "POST", path: deploy, header: pt(tokMaint), contentType: "application/json",
			body: `{"key":"K","value":"x","environment_scope":"a:b"}`, wantStatus: 400, wantBody: `"environment_scope":["can contain only letters, digits`},
		{name: "create needs key and value", method: "POST", path: deploy, header: pt(tokMaint), contentType: "application/json", body: `{}`, wantStatus: 400, wantBody: `key is missing, value is missing`},
		{name: "bad key", method: "POST", path: deploy, header: pt(tokMaint), contentType: "application/json", body: `{"key":"A-B","value":"x"}`, wantStatus: 400, wantBody: `{"message":{"key":["can contain only letters, digits and '_'."]}}`},
		{name: "long key", method: "POST", path: deploy, header: pt(tokMaint), contentType: "application/json", body: `{"key":"` + strings.Repeat("K", 256) + `","value":"x"}`, wantStatus: 400, wantBody: `is too long (maximum is 255 characters)`},
		{name: "unmaskable", method: "POST", path: deploy, header: pt(tokMaint), contentType: "application/json", body: `{"key":"K","value":"has space in it","masked":true}`, wantStatus: 400, wantBody: `{"message":{"value":["is invalid"]}}`},
		{name: "short masked", method: "POST", path: deploy, header: pt(tokMaint), contentType: "application/json", body: `{"key":"K","value":"short","masked":true}`, wantStatus: 400, wantBody: `is invalid`},
		{name: "dollar masked", method: "POST", path: deploy, header: pt(tokMaint), contentType: "application/json", body: `{"key":"K","value":"abc$defghij","masked":true}`, wantStatus: 400, wantBody: `is invalid`},
		{name: "bad bool", method: "POST", path: deploy, header: pt(tokMaint), contentType: "application/json", body: `{"key":"K","value":"x","protected":"maybe"}`, wantStatus: 400, wantBody: `protected is invalid`},
		{name: "bad type", method: "POST", path: deploy, header: pt(tokMaint), contentType: "application/json", body: `{"key":"K","value":"x","variable_type":"blob"}`, wantStatus: 400, wantBody: `variable_type does not have a valid value`},
		{name: "long description", method: "POST", path: deploy, header: pt(tokMaint), contentType: "application/json", body: `{"key":"K","value":"x","description":"` + strings.Repeat("d", 256) + `"}`, wantStatus: 400, wantBody: `description`},
		{name: "duplicate", method: "POST", path: deploy, header: pt(tokMaint), contentType: "application/json", body: `{"key":"DUP","value":"x"}`,
			seed: func(s *Server) { s.SetProjectVariable("acme/platform/deploy", Variable{Key: "DUP", Value: "y"}) }, wantStatus: 400, wantBody: `{"message":{"key":["(DUP) has already been taken"]}}`},
		{name: "same key other scope is fine", method: "POST", path: deploy, header: pt(tokMaint), contentType: "application/json", body: `{"key":"DUP2","value":"x","environment_scope":"production"}`,
			seed: func(s *Server) { s.SetProjectVariable("acme/platform/deploy", Variable{Key: "DUP2", Value: "y"}) }, wantStatus: 201},
		{name: "multiple scopes need a filter", method: "GET", path: deploy + "/MULTI", header: pt(tokMaint),
			seed: func(s *Server) {
				s.SetProjectVariable("acme/platform/deploy", Variable{Key: "MULTI", Value: "a"})
				s.SetProjectVariable("acme/platform/deploy", Variable{Key: "MULTI", Value: "b", EnvironmentScope: "review/x"})
			}, wantStatus: 409, wantBody: `{"message":"There are multiple variables with provided parameters. Please use 'filter[environment_scope]'"}`},
		{name: "delete with multiple scopes needs a filter", method: "DELETE", path: deploy + "/MULTI2", header: pt(tokMaint),
			seed: func(s *Server) {
				s.SetProjectVariable("acme/platform/deploy", Variable{Key: "MULTI2", Value: "a"})
				s.SetProjectVariable("acme/platform/deploy", Variable{Key: "MULTI2", Value: "b", EnvironmentScope: "review/x"})
			}, wantStatus: 409},
		{name: "filter picks one", method: "GET", path: deploy + "/MULTI3?filter%5Benvironment_scope%5D=review%2Fx", header: pt(tokMaint),
			seed: func(s *Server) {
				s.SetProjectVariable("acme/platform/deploy", Variable{Key: "MULTI3", Value: "aaaaaaaa"})
				s.SetProjectVariable("acme/platform/deploy", Variable{Key: "MULTI3", Value: "bbbbbbbb", EnvironmentScope: "review/x"})
			}, wantStatus: 200, wantBody: `"value":"bbbbbbbb"`},
		{name: "hidden value is null", method: "GET", path: deploy + "/HID", header: pt(tokMaint),
			seed: func(s *Server) {
				s.SetProjectVariable("acme/platform/deploy", Variable{Key: "HID", Value: goodValue, Hidden: true})
			},
			wantStatus: 200, wantBody: `"value":null,"hidden":true`},
		{name: "unmasking a hidden variable", method: "PUT", path: deploy + "/HID2", header: pt(tokMaint), contentType: "application/json", body: `{"masked":false}`,
			seed: func(s *Server) {
				s.SetProjectVariable("acme/platform/deploy", Variable{Key: "HID2", Value: goodValue, Hidden: true})
			},
			wantStatus: 400, wantBody: `Updating masked attribute is not allowed on updates for hidden variables.`},
		{name: "masked_and_hidden ignored on PUT", method: "PUT", path: deploy + "/PLAIN", header: pt(tokMaint), contentType: "application/json", body: `{"value":"` + goodValue + `","masked_and_hidden":true}`,
			seed:       func(s *Server) { s.SetProjectVariable("acme/platform/deploy", Variable{Key: "PLAIN", Value: "x"}) },
			wantStatus: 200, wantBody: `"hidden":false,"protected":false,"masked":false`},
		{name: "405", method: "PATCH", path: deploy, header: pt(tokMaint), wantStatus: 405, wantBody: `405 Not Allowed`},
		{name: "outside api", method: "GET", path: "/projects", header: pt(tokMaint), wantStatus: 404},
		{name: "numeric project id", method: "GET", path: "/api/v4/projects/1001/variables", header: pt(tokMaint), wantStatus: 200},
		{name: "group id as project id", method: "GET", path: "/api/v4/projects/101/variables", header: pt(tokOwner), wantStatus: 404, wantBody: `404 Project Not Found`},
		{name: "case-insensitive path", method: "GET", path: "/api/v4/projects/ACME%2Fweb/variables", header: pt(tokMaint), wantStatus: 200},
		{name: "invalid page", method: "GET", path: deploy + "?page=x", header: pt(tokMaint), wantStatus: 400, wantBody: `page is invalid`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			if tc.seed != nil {
				tc.seed(f.s)
			}
			status, _, body := f.do(t, tc.method, tc.path, tc.header, tc.contentType, tc.body)
			if status != tc.wantStatus {
				t.Fatalf("status = %d, want %d; body %s", status, tc.wantStatus, body)
			}
			if !strings.Contains(body, tc.wantBody) {
				t.Errorf("body = %s, want it to contain %s", body, tc.wantBody)
			}
		})
	}
}

func TestPutKeepsOmittedFieldsAndMovesScope(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.s.SetProjectVariable("acme/web", Variable{Key: "K", Value: goodValue, Protected: true, Raw: true, Description: "mine", VariableType: "file"})
	status, _, body := f.do(t, "PUT", "/api/v4/projects/acme%2Fweb/variables/K", pt(tokMaint), "application/json",
		`{"value":"`+goodValue+`x","masked":true,"filter":{"environment_scope":"*"}}`)
	if status != 200 {
		t.Fatalf("status %d %s", status, body)
	}
	v, _ := f.s.ProjectVariable("acme/web", "K", "*")
	want := Variable{Key: "K", Value: goodValue + "x", VariableType: "file", Protected: true, Masked: true, Raw: true, EnvironmentScope: "*", Description: "mine"}
	if v != want {
		t.Errorf("after PUT %+v, want %+v", v, want)
	}
	// environment_scope (not filter) moves the variable.
	status, _, _ = f.do(t, "PUT", "/api/v4/projects/acme%2Fweb/variables/K", pt(tokMaint), "application/x-www-form-urlencoded",
		"environment_scope=production&filter%5Benvironment_scope%5D=%2A")
	if status != 200 {
		t.Fatalf("status %d", status)
	}
	if _, ok := f.s.ProjectVariable("acme/web", "K", "production"); !ok {
		t.Errorf("variable not moved to production: %+v", f.s.Variables("acme/web"))
	}
}

// TestGroupPutFallsBack pins GitLab's group PUT quirk: a filter that
// matches nothing updates the variable of another scope.
func TestGroupPutFallsBack(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.s.SetGroupVariable("acme", Variable{Key: "G", Value: "star-value"})
	status, _, body := f.do(t, "PUT", "/api/v4/groups/acme/variables/G", pt(tokOwner), "application/json",
		`{"value":"changed-value","filter":{"environment_scope":"production"}}`)
	if status != 200 || !strings.Contains(body, `"environment_scope":"*"`) {
		t.Fatalf("status %d body %s", status, body)
	}
	if v, _ := f.s.GroupVariable("acme", "G", "*"); v.Value != "changed-value" {
		t.Errorf("* variable = %q, want it overwritten as GitLab does", v.Value)
	}
	status, _, body = f.do(t, "PUT", "/api/v4/groups/acme/variables/NONE", pt(tokOwner), "application/json", `{"value":"x"}`)
	if status != 404 || !strings.Contains(body, "404 GroupVariable Not Found") {
		t.Errorf("status %d body %s", status, body)
	}
}

func TestPaginationHeaders(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for i := range 45 {
		f.s.SetProjectVariable("acme/web", Variable{Key: "K" + string(rune('A'+i/26)) + string(rune('A'+i%26)), Value: "v"})
	}
	status, h, body := f.do(t, "GET", "/api/v4/projects/acme%2Fweb/variables?page=2&per_page=20", pt(tokMaint), "", "")
	if status != 200 {
		t.Fatal(status)
	}
	var got []map[string]any
	if err := json.Unmarshal([]byte(body), &got); err != nil || len(got) != 20 {
		t.Fatalf("page 2: %d items, %v", len(got), err)
	}
	want := map[string]string{"X-Page": "2", "X-Per-Page": "20", "X-Total": "45", "X-Total-Pages": "3", "X-Next-Page": "3", "X-Prev-Page": "1"}
	for k, v := range want {
		if h.Get(k) != v {
			t.Errorf("%s = %q, want %q", k, h.Get(k), v)
		}
	}
	link := h.Get("Link")
	for _, rel := range []string{`rel="prev"`, `rel="next"`, `rel="first"`, `rel="last"`} {
		if !strings.Contains(link, rel) {
			t.Errorf("Link %q lacks %s", link, rel)
		}
	}
	if !strings.Contains(link, "/api/v4/projects/acme%2Fweb/variables?page=3&per_page=20") {
		t.Errorf("Link %q has no escaped next URL", link)
	}
	_, h, _ = f.do(t, "GET", "/api/v4/projects/acme%2Fweb/variables?page=3&per_page=20", pt(tokMaint), "", "")
	if h.Get("X-Next-Page") != "" || strings.Contains(h.Get("Link"), `rel="next"`) {
		t.Errorf("last page advertises a next page: %v", h)
	}
	_, h, _ = f.do(t, "GET", "/api/v4/projects/acme%2Fweb/variables?per_page=1000", pt(tokMaint), "", "")
	if h.Get("X-Per-Page") != "100" {
		t.Errorf("per_page not capped: %s", h.Get("X-Per-Page"))
	}
}

func TestFaults(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	remove := f.s.InjectFault(Fault{Method: "GET", PathContains: "acme/web", Status: 429, RetryAfter: "7", Times: 1})
	defer remove()
	status, h, body := f.do(t, "GET", "/api/v4/projects/acme%2Fweb/variables", pt(tokMaint), "", "")
	if status != 429 || h.Get("Retry-After") != "7" || h.Get("X-Fake-Fault") != "1" || body != "Retry later\n" {
		t.Errorf("fault: %d %v %q", status, h, body)
	}
	if status, _, _ := f.do(t, "GET", "/api/v4/projects/acme%2Fweb/variables", pt(tokMaint), "", ""); status != 200 {
		t.Errorf("Times: 1 still applied: %d", status)
	}

	// AfterApply: the create happens, the answer is lost.
	f.s.InjectFault(Fault{Method: "POST", Status: 502, AfterApply: true, Times: 1})
	status, _, _ = f.do(t, "POST", "/api/v4/projects/acme%2Fweb/variables", pt(tokMaint), "application/json", `{"key":"LOST","value":"x"}`)
	if status != 502 {
		t.Errorf("status %d", status)
	}
	if _, ok := f.s.ProjectVariable("acme/web", "LOST", "*"); !ok {
		t.Error("AfterApply did not apply the request")
	}

	// Drop closes the connection. Unlimited: Go's transport replays a GET
	// once when a reused connection closes under it.
	undrop := f.s.InjectFault(Fault{PathContains: "%2Fplatform%2F", Drop: true})
	req, _ := http.NewRequestWithContext(t.Context(), "GET", f.srv.URL+"/api/v4/projects/acme%2Fplatform%2Fdeploy/variables", nil)
	req.Header.Set("PRIVATE-TOKEN", tokMaint)
	if resp, err := f.srv.Client().Do(req); err == nil {
		resp.Body.Close()
		t.Error("dropped request got a response")
	}
	undrop()

	// Latency, then normal handling.
	f.s.InjectFault(Fault{Method: "DELETE", Latency: 20 * time.Millisecond, Times: 1})
	start := time.Now()
	status, h, _ = f.do(t, "DELETE", "/api/v4/projects/acme%2Fweb/variables/LOST", pt(tokMaint), "", "")
	if status != 204 || time.Since(start) < 20*time.Millisecond || h.Get("X-Fake-Fault") != "1" {
		t.Errorf("latency fault: %d after %v", status, time.Since(start))
	}

	var faults, dropped int
	for _, r := range f.s.Requests() {
		if r.Fault {
			faults++
		}
		if r.Fault && r.Status == 0 {
			dropped++
		}
	}
	if faults < 4 || dropped < 1 || faults-dropped != 3 {
		t.Errorf("log: %d faults, %d dropped", faults, dropped)
	}
}

func TestRequestLogRedactsValues(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.do(t, "POST", "/api/v4/projects/acme%2Fweb/variables", pt(tokMaint), "application/json", `{"key":"K","value":"`+goodValue+`","masked":true}`)
	for _, r := range f.s.Requests() {
		for k, v := range r.Params {
			if strings.Contains(v, goodValue) || strings.Contains(v, tokMaint) {
				t.Errorf("request log param %s holds a secret", k)
			}
		}
		if r.Params["value"] != "<redacted>" || r.Params["masked"] != "true" || r.Status != 201 {
			t.Errorf("log entry %+v", r)
		}
	}
}

func TestConcurrentWrites(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			key := "C" + string(rune('A'+i))
			f.do(t, "POST", "/api/v4/projects/acme%2Fweb/variables", pt(tokMaint), "application/json", `{"key":"`+key+`","value":"v"}`)
			f.do(t, "PUT", "/api/v4/projects/acme%2Fweb/variables/"+key, pt(tokMaint), "application/json", `{"value":"w"}`)
		})
	}
	wg.Wait()
	if n := len(f.s.Variables("acme/web")); n != 20 {
		t.Errorf("%d variables, want 20", n)
	}
}
