//go:build unix

package hyperv

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// volumeSpace measures the file system holding the existing path p.
func volumeSpace(p string) (Space, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(p, &st); err != nil {
		return Space{}, err
	}
	var s unix.Stat_t
	if err := unix.Stat(p, &s); err != nil {
		return Space{}, err
	}
	bs := int64(st.Bsize)
	return Space{Volume: fmt.Sprintf("dev:%d", s.Dev), Free: int64(st.Bavail) * bs, Total: int64(st.Blocks) * bs}, nil
}
