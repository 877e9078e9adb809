//go:build unix

package osfile

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// A folder failback trusts is a real folder of its user (or root, or a
// named owner for CheckTrustedDir) that others cannot write; TightenDir
// closes a folder of ours that others could read.
func TestPrivateFolders(t *testing.T) {
	base := t.TempDir()
	d := filepath.Join(base, "mine")
	if err := OwnedPrivateDir(d); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(d); st.Mode().Perm() != PrivateDir {
		t.Fatalf("created %04o", st.Mode().Perm())
	}
	if err := os.Chmod(d, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := OwnedPrivateDir(d); !errors.Is(err, ErrNotPrivate) {
		t.Fatalf("0755 accepted: %v", err)
	}
	if err := CheckTrustedDir(d, -1); err != nil {
		t.Fatalf("0755 (nobody else may write) refused for a client: %v", err)
	}
	if changed, err := TightenDir(d); !changed || err != nil {
		t.Fatalf("TightenDir: %v %v", changed, err)
	}
	if st, _ := os.Stat(d); st.Mode().Perm() != 0o700 {
		t.Fatalf("tightened to %04o", st.Mode().Perm())
	}
	if err := os.Chmod(d, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := CheckTrustedDir(d, os.Getuid()); !errors.Is(err, ErrNotPrivate) {
		t.Fatalf("a folder everyone may write trusted: %v", err)
	}
	link := filepath.Join(base, "link")
	if err := os.Symlink(d, link); err != nil {
		t.Fatal(err)
	}
	if err := CheckTrustedDir(link, -1); !errors.Is(err, ErrNotPrivate) {
		t.Fatalf("a symbolic link trusted: %v", err)
	}
	if Owner(d) != os.Getuid() || Owner(filepath.Join(base, "none")) != -1 {
		t.Error("Owner")
	}
}
