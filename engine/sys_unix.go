//go:build unix

package engine

import (
	"fmt"
	"os"
)

// syncDir makes a directory's entries (a create, rename or remove)
// durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync directory %s: %w", dir, err)
	}
	return nil
}
