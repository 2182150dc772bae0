package target

import (
	"strings"
	"testing"
)

// FuzzParse: any input either parses to a target whose canonical address
// parses back to the same place, or is refused with an error; never a panic.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"file:///tmp/astro-token",
		"github://acme/app/secrets/ASTRO_API_TOKEN",
		"github://acme/app/environments/prod%2Feu/secrets/ASTRO_API_TOKEN?create_environment=true",
		"github://acme/app/dependabot/secrets/X",
		"github://orgs/acme/secrets/X?visibility=selected&repos=a,b",
		"gitlab://group/sub/project/variables/KEY?environment_scope=review%2F*&protected=true&hidden=true",
		"gitlab://groups/group/sub/variables/KEY",
		"gitlab://12345/variables/KEY?raw=true",
		"ASTRO_API_TOKEN",
		"github://../../x/secrets/Y",
		"gitlab://a/variables/K?environment_scope=",
		"file://relative/../path",
	} {
		f.Add(s, true)
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, raw string, inGitHub bool) {
		d := Defaults{GitLabProject: "group/project"}
		if inGitHub {
			d = Defaults{GitHubRepository: "acme/app"}
		}
		tg, err := Parse(raw, d)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			if len(err.Error()) > 2048 {
				t.Fatalf("a %d-byte error for a %d-byte address: %.200s", len(err.Error()), len(raw), err)
			}
			return
		}
		again, err := Parse(tg.String(), Defaults{})
		if err != nil {
			t.Fatalf("Parse(%q) = %s, which does not parse: %v", raw, tg, err)
		}
		if again.key() != tg.key() || again.String() != tg.String() {
			t.Fatalf("round trip of %q: %s (%s) became %s (%s)", raw, tg, tg.key(), again, again.key())
		}
		if strings.ContainsAny(tg.String(), "\n\r") {
			t.Fatalf("address %q holds a line break", tg.String())
		}
	})
}

// TestHugeAddressGivesAShortError: an echoed address is cut (issue 9
// defect 10), whatever part of it is wrong.
func TestHugeAddressGivesAShortError(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("a", 5<<20)
	for _, raw := range []string{
		"github://" + long + "/r/secrets/X",
		"github://o/r/secrets/" + long,
		"gitlab://g/p/variables/K?environment_scope=" + long + "&bogus=1",
		"nope://" + long,
		"gitlab://" + long + "/variables/K",
		"gitlab://groups/" + long + "/variables/K",
		long,
	} {
		_, err := Parse(raw, Defaults{})
		if err == nil {
			t.Fatalf("accepted a %d-byte address", len(raw))
		}
		if len(err.Error()) > 1024 {
			t.Fatalf("a %d-byte error for a %d-byte address: %.200s", len(err.Error()), len(raw), err)
		}
	}
}
