//go:build unix

package deploy

import "syscall"

// openFlags make the open in openSame return at once on a FIFO (instead of
// waiting for a writer, which no deadline interrupts) and fail on a
// symbolic link instead of following it.
const openFlags = syscall.O_RDONLY | syscall.O_NONBLOCK | syscall.O_NOFOLLOW
