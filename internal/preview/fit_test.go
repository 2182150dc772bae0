package preview

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Issue 10.1: a preview gets its own cloud identity, never production's.
func TestPreviewDoesNotInheritTheBaseWorkloadIdentity(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, baseIdentity, request, want string
	}{
		{"base on Astronomer's default", "", "", ""},
		{"base on a customer-managed role", "arn:aws:iam::123456789012:role/production-airflow", "", ""},
		{"explicit identity", "arn:aws:iam::123456789012:role/production-airflow", "arn:aws:iam::123456789012:role/previews", "arn:aws:iam::123456789012:role/previews"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			base := stdBase()
			base.WorkloadIdentity = tt.baseIdentity
			w := newWorld(t, base)
			r := w.run("R")
			req := w.request("feature/x")
			req.WorkloadIdentity = tt.request
			res := w.must(<-r.start(w.ctx(), req), "R", r)
			d, _ := w.fake.Deployment(res.ID)
			if d.WorkloadIdentity != tt.want {
				t.Fatalf("preview's workload identity %q, want %q", d.WorkloadIdentity, tt.want)
			}
		})
	}
}

// Issue 10.6: the KubernetesExecutor has no worker queues; the copy sends none.
func TestKubernetesBaseIsCopiedWithoutWorkerQueues(t *testing.T) {
	t.Parallel()
	base := stdBase()
	base.Executor, base.WorkerQueues = "KUBERNETES", nil
	w := newWorld(t, base)
	r := w.run("R")
	res := w.must(<-r.start(w.ctx(), w.request("feature/x")), "R", r)
	if d, _ := w.fake.Deployment(res.ID); d.Executor != "KUBERNETES" || len(d.WorkerQueues) != 0 {
		t.Fatalf("preview %s with queues %+v", d.Executor, d.WorkerQueues)
	}
}

// Issue 10.6: a Remote Execution base runs its tasks on the customer's
// agents; a copy has none and could not run a task. Refused, nothing made.
func TestRemoteExecutionBaseIsRefusedAndNothingIsCreated(t *testing.T) {
	t.Parallel()
	base := stdBase()
	base.Executor, base.WorkerQueues, base.RemoteExecution = "ASTRO", nil, true
	w := newWorld(t, base)
	r := w.run("R")
	_, err := r.Create(w.ctx(), w.request("feature/x", w.fileTarget()))
	if err == nil || !strings.Contains(err.Error(), "Remote Execution") || !strings.Contains(err.Error(), "agent") {
		t.Fatalf("want a refusal explaining Remote Execution: %v", err)
	}
	if len(w.previews("feature/x")) != 0 || len(w.fake.Tokens()) != 1 {
		t.Fatal("something was created")
	}
	if _, err := os.Stat(filepath.Join(w.dir, "preview-feature-x.token")); !os.IsNotExist(err) {
		t.Fatal("a token target was written")
	}
	for _, e := range w.gate.Entries() {
		if e.Method != "GET" && e.Label == "R" {
			t.Fatalf("a change was requested: %s", e)
		}
	}
}

// Issue 10.6: Astro refuses new Deployments on a runtime it no longer
// offers. The message says so and names --runtime-version; with it the
// preview is made on the version given.
func TestBaseOnARetiredRuntimeNamesRuntimeVersion(t *testing.T) {
	t.Parallel()
	base := stdBase()
	base.AstroRuntimeVersion = "11.4.0"
	w := newWorld(t, base)
	r := w.run("R")
	_, err := r.Create(w.ctx(), w.request("feature/x"))
	if err == nil || !strings.Contains(err.Error(), "11.4.0") || !strings.Contains(err.Error(), "--runtime-version") || !strings.Contains(err.Error(), "no longer offers") {
		t.Fatalf("want the runtime explained with --runtime-version: %v", err)
	}
	if len(w.previews("feature/x")) != 0 {
		t.Fatal("a preview was created")
	}
	req := w.request("feature/x")
	req.RuntimeVersion = "13.1.0"
	res := w.must(<-r.start(w.ctx(), req), "R", r)
	if d, _ := w.fake.Deployment(res.ID); d.AstroRuntimeVersion != "13.1.0" {
		t.Fatalf("runtime %s", d.AstroRuntimeVersion)
	}
}
