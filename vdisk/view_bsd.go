//go:build unix && !linux

package vdisk

import "golang.org/x/sys/unix"

// mapFlags: pages come in by faults where maps cannot be populated.
const mapFlags = unix.MAP_SHARED
