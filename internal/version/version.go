// Package version reports the build's version, stamped at link time by
// -ldflags "-X github.com/astro-ci/astro-ci/internal/version.Version=v1.2.3
// -X github.com/astro-ci/astro-ci/internal/version.Commit=<sha>", else read
// from the module build info (go install ...@v1.2.3, and the VCS stamp of a
// go build in a checkout), else "dev".
package version

import "runtime/debug"

// Version and Commit are set by the linker in release builds.
var (
	Version = ""
	Commit  = ""
)

// String returns the version, never empty.
func String() string {
	if Version != "" {
		return Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// Revision returns the commit the binary was built from: Commit, else the
// VCS stamp of the build (with "-dirty" for uncommitted changes), else
// "unknown". Never empty.
func Revision() string {
	if Commit != "" {
		return Commit
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		var rev, dirty string
		for _, s := range bi.Settings {
			switch {
			case s.Key == "vcs.revision":
				rev = s.Value
			case s.Key == "vcs.modified" && s.Value == "true":
				dirty = "-dirty"
			}
		}
		if rev != "" {
			return rev + dirty
		}
	}
	return "unknown"
}

// UserAgent is what every API request sends.
func UserAgent() string { return "astro-ci/" + String() }
