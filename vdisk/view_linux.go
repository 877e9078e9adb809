package vdisk

import "golang.org/x/sys/unix"

// mapFlags populate a view's map in one call rather than by page faults.
const mapFlags = unix.MAP_SHARED | unix.MAP_POPULATE
