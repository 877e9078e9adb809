package osfile

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// ErrTooLarge: a file is larger than its reader accepts.
var ErrTooLarge = errors.New("file too large")

// ErrNotRegular: the path is a folder, device or pipe, not a file (reading
// a pipe could block for ever, a device never end).
var ErrNotRegular = errors.New("not a regular file")

// ReadFileMax reads a small file whole (a certificate, a key), refusing one
// larger than limit bytes, or a path that is not a regular file, before
// reading it: such a file is the wrong one, and reading it all would cost
// memory it claims. The file may grow while it is read; at most limit+1
// bytes are read whatever happens.
func ReadFileMax(path string, limit int64) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: %w", path, ErrNotRegular)
	}
	if st.Size() > limit {
		return nil, fmt.Errorf("%s is %d bytes, more than %d: %w", path, st.Size(), limit, ErrTooLarge)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s grew past %d bytes while read: %w", path, limit, ErrTooLarge)
	}
	return b, nil
}
