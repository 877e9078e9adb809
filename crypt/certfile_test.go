package crypt

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCertificateFilesOverOneMiBAreRefused: a file in the certificate
// folder larger than 1 MiB is listed as unreadable with a clear reason,
// even one that starts with a good certificate (PEM parsing skips the
// rest), and Unlock refuses such a PFX before reading it; the folder's
// other files are listed as before.
func TestCertificateFilesOverOneMiBAreRefused(t *testing.T) {
	dir := t.TempDir()
	key := testRSAKey(t, 0)
	c := selfSigned(t, "good", key, valid[0], valid[1])
	writePEM(t, dir, "good.pem", c, key, "pkcs1")
	pem := mustRead(t, filepath.Join(dir, "good.pem"))
	padded := append(bytes.Clone(pem), bytes.Repeat([]byte("\n"), maxCertFile)...)
	if err := os.WriteFile(filepath.Join(dir, "padded.pem"), padded, 0o600); err != nil {
		t.Fatal(err)
	}
	big, err := os.Create(filepath.Join(dir, "huge.pfx"))
	if err != nil {
		t.Fatal(err)
	}
	if err := big.Truncate(64 << 30); err != nil { // sparse: claims 64 GiB
		t.Fatal(err)
	}
	big.Close()

	s := NewStore(dir, StoreOptions{})
	infos, err := s.List(t.Context(), testNow)
	if err != nil {
		t.Fatal(err)
	}
	m := byFile(infos)
	if g := m["good.pem"]; g.Err != nil || g.Thumbprint != Thumbprint(c) {
		t.Errorf("good.pem: %+v", g)
	}
	for _, name := range []string{"padded.pem", "huge.pfx"} {
		i := m[name]
		if !errors.Is(i.Err, ErrUnreadable) || !strings.Contains(i.Error, "larger than 1 MiB") || !strings.Contains(i.Error, name) {
			t.Errorf("%s: %+v", name, i)
		}
	}
	err = s.Unlock("huge.pfx", NewSecret("whatever"))
	if !errors.Is(err, ErrUnreadable) || !strings.Contains(err.Error(), "huge.pfx") || !strings.Contains(err.Error(), "larger than 1 MiB") {
		t.Errorf("Unlock of a 64 GiB file: %v", err)
	}
}
