// Package version reports the build's version, stamped at link time by
// -ldflags "-X github.com/astro-ci/astro-ci/internal/version.Version=v1.2.3",
// else read from the module build info (go install ...@v1.2.3), else "dev".
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

// UserAgent is what every API request sends.
func UserAgent() string { return "astro-ci/" + String() }
