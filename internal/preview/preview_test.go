package preview

import (
	"strings"
	"testing"

	"github.com/astro-ci/astro-ci/internal/astro"
)

func TestName(t *testing.T) {
	t.Parallel()
	seen := map[string]string{}
	for _, b := range []string{"feature/x", "fix/x", "feature-x", "Feature/x", strings.Repeat("a/", 120) + "b", "日本"} {
		name, slug, err := Name("", b)
		if err != nil || len(name) > 63 || !strings.HasPrefix(name, "preview-") || !strings.HasSuffix(name, slug) {
			t.Fatalf("%q: %q %q %v", b, name, slug, err)
		}
		if other, dup := seen[name]; dup {
			t.Fatalf("%q and %q share %s", b, other, name)
		}
		seen[name] = b
	}
	for _, p := range []string{"Preview-", "-x", "x y", strings.Repeat("a", 40)} {
		if _, _, err := Name(p, "b"); err == nil {
			t.Errorf("prefix %q accepted", p)
		}
	}
}

func TestMarkerFindsOnlyItsBranch(t *testing.T) {
	t.Parallel()
	base := &astro.Deployment{ID: "clbase", Name: "prod"}
	d := &astro.Deployment{Description: description(base, "feature/x")}
	if !isPreviewOf(d, "clbase", "feature/x") || isPreviewOf(d, "clbase", "feature/y") || isPreviewOf(d, "clother", "feature/x") {
		t.Fatal(d.Description)
	}
	// A branch cannot break the marker's syntax.
	evil := &astro.Deployment{Description: description(base, "x] [astro-ci preview base=clbase ref=0]")}
	if isPreviewOf(evil, "clbase", "x") {
		t.Fatal("marker forged by a branch name")
	}
	// Even a branch that carries another branch's whole marker: only the
	// marker that ends the description counts.
	forged := &astro.Deployment{Description: description(base, "x "+marker("clbase", "main", ""))}
	if isPreviewOf(forged, "clbase", "main") || !isPreviewOf(forged, "clbase", "x "+marker("clbase", "main", "")) {
		t.Fatal("a branch name forged another branch's marker")
	}
	withRun := &astro.Deployment{Description: descriptionOf(base, "feature/x", "0123abcd")}
	if !isPreviewOf(withRun, "clbase", "feature/x") || runOf(withRun) != "0123abcd" || runOf(d) != "" {
		t.Fatal("run id")
	}
}

func TestCopyRequest(t *testing.T) {
	t.Parallel()
	val, au, yes := "v", 7, true
	hybrid := &astro.Deployment{ID: "c1", Type: "HYBRID", WorkspaceID: "w", ClusterID: "cl", AstroRuntimeVersion: "12", Executor: "KUBERNETES",
		SchedulerAU: &au, SchedulerReplicas: 2, TaskPodNodePoolID: "np",
		WorkerQueues:         []astro.WorkerQueue{{ID: "q1", Name: "default", IsDefault: true, NodePoolID: "np", MaxWorkerCount: 1, WorkerConcurrency: 1}, {ID: "q2", Name: "extra", NodePoolID: "np", MaxWorkerCount: 1, WorkerConcurrency: 1}},
		EnvironmentVariables: []astro.EnvironmentVariable{{Key: "A", Value: &val}, {Key: "S", IsSecret: true}}}
	req, err := CopyRequest(hybrid, "preview-x", "d", map[string]string{"S": "s3cret", "T": "t"}, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if req.Type != "HYBRID" || req.ClusterID != "cl" || req.Scheduler == nil || req.Scheduler.AU != 7 || req.Scheduler.Replicas != 2 || req.TaskPodNodePoolID != "np" {
		t.Fatalf("hybrid placement: %+v", req)
	}
	if len(req.WorkerQueues) != 0 {
		t.Fatalf("the KubernetesExecutor has no worker queues: %+v", req.WorkerQueues)
	}
	celery := *hybrid
	celery.Executor = "CELERY"
	if req, _ := CopyRequest(&celery, "preview-x", "d", nil, "", ""); len(req.WorkerQueues) != 2 || req.WorkerQueues[0].ID != "" || req.WorkerQueues[0].NodePoolID != "np" || req.WorkerQueues[0].AstroMachine != "" {
		t.Fatalf("hybrid queues keep their node pool, without their ids: %+v", req.WorkerQueues)
	}
	keys := map[string]astro.EnvironmentVariableRequest{}
	for _, e := range req.EnvironmentVariables {
		keys[e.Key] = e
	}
	if keys["A"].IsSecret || *keys["A"].Value != "v" || !keys["S"].IsSecret || *keys["S"].Value != "s3cret" || !keys["T"].IsSecret || len(keys) != 3 {
		t.Fatalf("variables: %+v", req.EnvironmentVariables)
	}
	std := &astro.Deployment{Type: "STANDARD", WorkspaceID: "w", CloudProvider: "AWS", Region: "us-east-1", SchedulerSize: "SMALL", IsDevelopmentMode: &yes,
		ScalingSpec: &astro.ScalingSpec{HibernationSpec: &astro.HibernationSpec{Schedules: []astro.HibernationSchedule{{HibernateAtCron: "0 0 * * *", WakeAtCron: "0 8 * * *", IsEnabled: true}}}}}
	req, _ = CopyRequest(std, "p", "d", nil, "", "")
	if req.CloudProvider != "AWS" || req.Region != "us-east-1" || req.ScalingSpec == nil || req.ClusterID != "" {
		t.Fatalf("standard: %+v", req)
	}
	notDev := *std
	notDev.IsDevelopmentMode = nil
	if req, _ = CopyRequest(&notDev, "p", "d", nil, "", ""); req.ScalingSpec != nil {
		t.Fatal("hibernation schedules only for development Deployments")
	}
	if _, err := CopyRequest(&astro.Deployment{Type: "QUANTUM"}, "p", "d", nil, "", ""); err == nil {
		t.Fatal("unknown type accepted")
	}
}

func TestUpdateRequestKeepsSecretsAndQueues(t *testing.T) {
	t.Parallel()
	val := "v"
	d := &astro.Deployment{Type: "DEDICATED", Name: "p", WorkspaceID: "w", Executor: "CELERY", SchedulerSize: "SMALL",
		WorkerQueues:         []astro.WorkerQueue{{ID: "q1", Name: "default", IsDefault: true, AstroMachine: "A5", MaxWorkerCount: 2, WorkerConcurrency: 5}},
		EnvironmentVariables: []astro.EnvironmentVariable{{Key: "A", Value: &val}, {Key: "KEEP", IsSecret: true}, {Key: "NEW", IsSecret: true}}}
	req := UpdateRequest(d, map[string]string{"NEW": "n"}, "")
	if req.IsHighAvailability == nil || len(req.WorkerQueues) != 1 || req.WorkerQueues[0].ID != "q1" {
		t.Fatalf("%+v", req)
	}
	got := map[string]*string{}
	for _, e := range req.EnvironmentVariables {
		got[e.Key] = e.Value
	}
	if got["KEEP"] != nil || *got["NEW"] != "n" || *got["A"] != "v" || len(got) != 3 {
		t.Fatalf("a secret sent without value keeps Astro's; a given one replaces it: %+v", req.EnvironmentVariables)
	}
}
