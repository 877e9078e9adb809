package osfile

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestReadFileMaxRefusesLargeAndNonRegularFiles: a file up to the limit
// reads whole; one byte more is ErrTooLarge; a folder is ErrNotRegular; a
// missing file keeps os.ErrNotExist.
func TestReadFileMaxRefusesLargeAndNonRegularFiles(t *testing.T) {
	dir := t.TempDir()
	ok := filepath.Join(dir, "ok")
	big := filepath.Join(dir, "big")
	want := bytes.Repeat([]byte("x"), 1024)
	if err := os.WriteFile(ok, want, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(big, append(want, 'y'), 0o600); err != nil {
		t.Fatal(err)
	}
	if b, err := ReadFileMax(ok, 1024); err != nil || !bytes.Equal(b, want) {
		t.Fatalf("file at the limit: %d bytes, %v", len(b), err)
	}
	if _, err := ReadFileMax(big, 1024); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("file over the limit: %v", err)
	}
	if _, err := ReadFileMax(dir, 1024); !errors.Is(err, ErrNotRegular) {
		t.Fatalf("folder: %v", err)
	}
	if _, err := ReadFileMax(filepath.Join(dir, "missing"), 1024); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
}
