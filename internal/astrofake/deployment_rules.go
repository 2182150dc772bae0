package astrofake

import (
	"path"
	"strings"
)

// DefaultRuntimeReleases are the Astro Runtime lines the fake offers for new
// deployments: 12 and 13 (Airflow 2.10/2.11) and 3.x (Airflow 3, versions
// like "3.0-4"). Older lines are deprecated: deployments seeded on them keep
// running, but a create asking for one is refused (runtimeNotOffered).
var DefaultRuntimeReleases = []string{"12.*", "13.*", "3.*"}

// checkRuntimeOffered refuses a create whose astroRuntimeVersion Astro no
// longer offers for new deployments (inferred, see doc.go "Runtime versions").
func (s *Server) checkRuntimeOffered(v *string, fe *fieldErrs) {
	if v == nil || *v == "" {
		return // the server picks its default, which it offers
	}
	for _, p := range s.runtimes {
		if ok, _ := path.Match(p, *v); ok {
			return
		}
	}
	fe.add("astroRuntimeVersion", "unavailable", "Astro Runtime %s is not available for new Deployments; available versions: %s",
		truncateForMessage(*v), strings.Join(s.runtimes, ", "))
}

// checkWorkloadIdentity refuses a workloadIdentity that is the
// Astronomer-managed default identity of another deployment (inferred, see
// doc.go "Workload identity"): that role lives in Astronomer's cloud account
// and trusts only its own deployment's namespace. self is the deployment
// being updated ("" on create), which may keep its own.
func (s *Server) checkWorkloadIdentity(wi, self string, fe *fieldErrs) {
	if wi == "" {
		return
	}
	for _, d := range s.deployments {
		if !d.deleted && d.id != self && defaultWorkloadIdentity(d) == wi {
			fe.add("workloadIdentity", "invalid", "workloadIdentity is the Astronomer-managed identity of another Deployment and cannot be assigned; "+
				"omit it to get this Deployment's own, or give a customer-managed identity")
			return
		}
	}
}

// truncateForMessage bounds an echoed request value.
func truncateForMessage(v string) string {
	if len(v) > 64 {
		return v[:64] + "…"
	}
	return v
}
