//go:build !unix

package target

// openNonblock: no FIFOs to guard against here.
const openNonblock = 0
