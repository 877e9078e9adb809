package crypt

import (
	"errors"
	"fmt"

	"github.com/failback/failback/internal/osfile"
)

// maxCertFile bounds a certificate file: a PEM or PFX with its chain is a
// few KiB. A larger file in the certificate folder is the wrong file (a
// disk image, a log), and reading it whole would cost that much memory.
const maxCertFile = 1 << 20

// readCertFile reads a certificate file whole, refusing one over
// maxCertFile or a path that is not a regular file, with ErrUnreadable.
func readCertFile(path string) ([]byte, error) {
	data, err := osfile.ReadFileMax(path, maxCertFile)
	switch {
	case errors.Is(err, osfile.ErrTooLarge):
		return nil, fmt.Errorf("%w: larger than 1 MiB, which no PEM or PFX certificate file is; move it out of the certificate folder if it is not a certificate", ErrUnreadable)
	case errors.Is(err, osfile.ErrNotRegular):
		return nil, fmt.Errorf("%w: not a regular file (a folder, pipe or device); move it out of the certificate folder", ErrUnreadable)
	case err != nil:
		return nil, fmt.Errorf("%w: %v", ErrUnreadable, err)
	}
	return data, nil
}
