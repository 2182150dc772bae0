//go:build !unix

package deploy

import "os"

// openFlags: no FIFOs or O_NOFOLLOW here; openSame's checks on the opened
// file still apply.
const openFlags = os.O_RDONLY
