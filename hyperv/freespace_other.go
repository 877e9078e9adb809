//go:build !unix && !windows

package hyperv

import "errors"

func volumeSpace(p string) (Space, error) {
	return Space{}, errors.New("free space cannot be measured on this system")
}
