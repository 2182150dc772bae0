package gitlabbranches

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/astro-ci/astro-ci/internal/secret"
)

const token = "glpat-branches-test-value-01"

// server answers the branches API of project "group/sub/proj" with n
// branches, asserting each request.
func server(t *testing.T, n int, status int) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if r.Method != "GET" || r.URL.EscapedPath() != "/api/v4/projects/group%2Fsub%2Fproj/repository/branches" {
			t.Errorf("request %s %s", r.Method, r.URL.EscapedPath())
		}
		if r.Header.Get("PRIVATE-TOKEN") != token {
			t.Errorf("PRIVATE-TOKEN %q", r.Header.Get("PRIVATE-TOKEN"))
		}
		if r.URL.Query().Get("per_page") != "100" {
			t.Errorf("per_page %q", r.URL.Query().Get("per_page"))
		}
		if status != 0 {
			w.WriteHeader(status)
			fmt.Fprintf(w, `{"message":"%d Forbidden %s"}`, status, r.Header.Get("PRIVATE-TOKEN"))
			return
		}
		page, _ := strconv.Atoi(r.URL.Query().Get("page"))
		var out []map[string]any
		for i := (page - 1) * 100; i < min(page*100, n); i++ {
			out = append(out, map[string]any{"name": fmt.Sprintf("b%03d", i), "commit": map[string]any{"id": "abc"}})
		}
		if page*100 < n {
			w.Header().Set("X-Next-Page", strconv.Itoa(page+1))
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(out)
	}))
	t.Cleanup(srv.Close)
	return srv, &calls
}

func TestListFollowsPagesToTheEnd(t *testing.T) {
	t.Parallel()
	srv, calls := server(t, 250, 0)
	names, err := List(context.Background(), Config{BaseURL: srv.URL + "/api/v4", Token: secret.New(token), Project: "group/sub/proj", HTTPClient: srv.Client()})
	if err != nil || len(names) != 250 || names[249] != "b249" || calls.Load() != 3 {
		t.Fatalf("%d names, %d calls, %v", len(names), calls.Load(), err)
	}
	if !slices.IsSorted(names) {
		t.Error("order lost")
	}
}

func TestListErrorsSayWhatTokenIsNeededAndNeverQuoteIt(t *testing.T) {
	t.Parallel()
	for _, st := range []int{401, 403} {
		srv, _ := server(t, 0, st)
		_, err := List(context.Background(), Config{BaseURL: srv.URL + "/api/v4", Token: secret.New(token), Project: "group/sub/proj", HTTPClient: srv.Client()})
		if err == nil || !strings.Contains(err.Error(), "read_api") || strings.Contains(err.Error(), token) {
			t.Errorf("%d: %v", st, err)
		}
	}
	if _, err := List(context.Background(), Config{Project: "p"}); err == nil || !strings.Contains(err.Error(), "CI_JOB_TOKEN") {
		t.Errorf("no token: %v", err)
	}
}
