package crypt

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var (
	testNow = time.Date(2027, 6, 1, 12, 0, 0, 0, time.UTC)
	valid   = [2]time.Time{testNow.AddDate(-1, 0, 0), testNow.AddDate(1, 0, 0)}
)

// storeFixture is a folder with one file of every kind.
type storeFixture struct {
	dir                                 string
	pkcs1, pkcs8, certOnly, expired, ec string // thumbprints
	future, mismatch                    string
	opts                                StoreOptions
}

func newStoreFixture(t *testing.T) storeFixture {
	t.Helper()
	dir := t.TempDir()
	f := storeFixture{dir: dir}
	c1 := selfSigned(t, "disk-key pkcs1", testRSAKey(t, 0), valid[0], valid[1])
	writePEM(t, dir, "a-pkcs1.pem", c1, testRSAKey(t, 0), "pkcs1")
	c2 := selfSigned(t, "disk-key pkcs8", testRSAKey(t, 1), valid[0], valid[1])
	writePEM(t, dir, "b-pkcs8.pem", c2, testRSAKey(t, 1), "pkcs8")
	c3 := selfSigned(t, "public only", testRSAKey(t, 2), valid[0], valid[1])
	writePEM(t, dir, "c-public.cer", c3, nil, "")
	c4 := selfSigned(t, "old disk-key", testRSAKey(t, 3), testNow.AddDate(-3, 0, 0), testNow.AddDate(0, -2, 0))
	writePEM(t, dir, "d-expired.pem", c4, testRSAKey(t, 3), "pkcs8")
	ek := ecKey(t)
	c5 := selfSigned(t, "ec key", ek, valid[0], valid[1])
	writePEM(t, dir, "e-ecdsa.pem", c5, ek, "ec")
	c6 := selfSigned(t, "future", testRSAKey(t, 2), testNow.AddDate(0, 1, 0), testNow.AddDate(2, 0, 0))
	writePEM(t, dir, "f-future.pem", c6, testRSAKey(t, 2), "pkcs1")
	c7 := selfSigned(t, "wrong key inside", testRSAKey(t, 0), valid[0], valid[1])
	writePEM(t, dir, "g-mismatch.pem", c7, testRSAKey(t, 1), "pkcs1")
	if err := os.WriteFile(filepath.Join(dir, "h-garbage.pem"), []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	copyFixture(t, dir, "legacy-3des.pfx", "i-legacy.pfx")
	copyFixture(t, dir, "aes256.pfx", "j-aes.p12")
	copyFixture(t, dir, "aes256.pfx", "k-locked.pfx")
	if err := os.WriteFile(filepath.Join(dir, "README.txt"), []byte("ignored"), 0o600); err != nil {
		t.Fatal(err)
	}
	f.pkcs1, f.pkcs8, f.certOnly, f.expired, f.ec = Thumbprint(c1), Thumbprint(c2), Thumbprint(c3), Thumbprint(c4), Thumbprint(c5)
	f.future, f.mismatch = Thumbprint(c6), Thumbprint(c7)
	f.opts = StoreOptions{Passwords: map[string]Secret{
		"i-legacy.pfx": NewSecret(legacyPassword), // by file name
		"k-locked.pfx": NewSecret("not the password"),
		// by thumbprint (lower case, as pasted): opens j-aes.p12
		strings.ToLower(fixtureThumbprint): NewSecret(aesPassword),
	}}
	return f
}

func byFile(infos []CertInfo) map[string]CertInfo {
	m := map[string]CertInfo{}
	for _, i := range infos {
		m[i.File] = i
	}
	return m
}

// List shows every certificate file with subject, Windows thumbprint,
// dates, key facts, and the error of each unusable one.
func TestListDescribesEveryFile(t *testing.T) {
	f := newStoreFixture(t)
	infos, err := NewStore(f.dir, f.opts).List(t.Context(), testNow)
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) != 11 {
		t.Fatalf("listed %d files, want 11 (README.txt ignored)", len(infos))
	}
	m := byFile(infos)
	a := m["a-pkcs1.pem"]
	if a.CommonName != "disk-key pkcs1" || a.Subject != "CN=disk-key pkcs1,O=Example Corp" || a.Thumbprint != f.pkcs1 ||
		!a.HasPrivateKey || a.KeyType != "RSA" || a.KeyBits != 2048 || a.Expired || a.Err != nil || !a.NotAfter.Equal(valid[1]) {
		t.Errorf("a-pkcs1.pem: %+v", a)
	}
	if b := m["b-pkcs8.pem"]; !b.HasPrivateKey || b.Err != nil {
		t.Errorf("b-pkcs8.pem: %+v", b)
	}
	if c := m["c-public.cer"]; c.HasPrivateKey || c.Err != nil || c.Thumbprint != f.certOnly {
		t.Errorf("c-public.cer: %+v", c)
	}
	if d := m["d-expired.pem"]; !d.Expired || !d.HasPrivateKey {
		t.Errorf("d-expired.pem: %+v", d)
	}
	if e := m["e-ecdsa.pem"]; e.KeyType != "ECDSA" || !errors.Is(e.Err, ErrUnsupportedKey) {
		t.Errorf("e-ecdsa.pem: %+v", e)
	}
	if g := m["g-mismatch.pem"]; !errors.Is(g.Err, ErrKeyMismatch) || g.Thumbprint != f.mismatch {
		t.Errorf("g-mismatch.pem: %+v", g)
	}
	if h := m["h-garbage.pem"]; !errors.Is(h.Err, ErrUnreadable) || h.Error == "" {
		t.Errorf("h-garbage.pem: %+v", h)
	}
	for _, name := range []string{"i-legacy.pfx", "j-aes.p12"} {
		i := m[name]
		if i.Err != nil || i.Thumbprint != fixtureThumbprint || !i.HasPrivateKey || i.CommonName != "failback fixture" ||
			i.Subject != "CN=failback fixture,O=Example Corp,C=US" || i.Format != "pfx" {
			t.Errorf("%s: %+v", name, i)
		}
	}
	if k := m["k-locked.pfx"]; !k.Locked || !errors.Is(k.Err, ErrPFXPassword) || k.Thumbprint != "" {
		t.Errorf("k-locked.pfx: %+v", k)
	}
}

// The thumbprint is upper-case hex SHA-1 of the DER certificate, and equals
// what OpenSSL printed for the fixture.
func TestThumbprintIsWindowsSHA1(t *testing.T) {
	p, err := parsePFX(mustRead(t, "testdata/legacy-3des.pfx"), legacyPassword)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha1.Sum(p.cert.Raw)
	if got := Thumbprint(p.cert); got != strings.ToUpper(hex.EncodeToString(sum[:])) || got != fixtureThumbprint {
		t.Fatalf("thumbprint %s, OpenSSL says %s", got, fixtureThumbprint)
	}
}

func mustRead(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Both PFX flavours decode; a wrong password is ErrPFXPassword for each.
func TestPFXPasswords(t *testing.T) {
	for _, c := range []struct{ file, pw string }{{"legacy-3des.pfx", legacyPassword}, {"aes256.pfx", aesPassword}} {
		data := mustRead(t, "testdata/"+c.file)
		p, err := parsePFX(data, c.pw)
		if err != nil {
			t.Fatalf("%s: %v", c.file, err)
		}
		if _, err := usableKey(p); err != nil {
			t.Fatalf("%s: key: %v", c.file, err)
		}
		for _, wrong := range []string{"", "wrong", c.pw + "x"} {
			if _, err := parsePFX(data, wrong); !errors.Is(err, ErrPFXPassword) {
				t.Errorf("%s with %q: %v, want ErrPFXPassword", c.file, wrong, err)
			}
		}
	}
	if _, err := parsePFX([]byte("junk"), "x"); !errors.Is(err, ErrUnreadable) {
		t.Errorf("junk: %v", err)
	}
}

// sentinels are the refusals that must stay distinct from each other.
var sentinels = []error{ErrCertNotFound, ErrCertExpired, ErrCertNotYetValid, ErrPFXPassword, ErrNoPrivateKey,
	ErrKeyMismatch, ErrUnsupportedKey, ErrThumbprintMismatch, ErrUnwrap, ErrBadThumbprint}

// onlyIs checks err is want and none of the other refusals.
func onlyIs(t *testing.T, name string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: %v, want %v", name, err, want)
		return
	}
	for _, s := range sentinels {
		if s != want && errors.Is(err, s) {
			t.Errorf("%s: %v is also %v", name, err, s)
		}
	}
}

// Each refusal of Select has its own error and a message that helps.
func TestSelectRefusals(t *testing.T) {
	f := newStoreFixture(t)
	s := NewStore(f.dir, f.opts)
	ctx := t.Context()
	sel := func(tp string, allow bool) error {
		c, err := s.Select(ctx, tp, testNow, allow)
		if err == nil {
			c.Destroy()
		}
		return err
	}
	err := sel("00112233445566778899AABBCCDDEEFF00112233", false)
	// k-locked.pfx stays locked (wrong configured password), so it may hold it.
	onlyIs(t, "locked folder", err, ErrPFXPassword)
	if err != nil && !strings.Contains(err.Error(), "k-locked.pfx") {
		t.Errorf("locked: message does not name the file: %v", err)
	}
	if err := os.Remove(filepath.Join(f.dir, "k-locked.pfx")); err != nil {
		t.Fatal(err)
	}
	err = sel("00112233445566778899AABBCCDDEEFF00112233", false)
	onlyIs(t, "not found", err, ErrCertNotFound)
	if err != nil && (!strings.Contains(err.Error(), f.pkcs1) || !strings.Contains(err.Error(), "h-garbage.pem")) {
		t.Errorf("not found: message lists neither found thumbprints nor unreadable files: %v", err)
	}
	onlyIs(t, "malformed", sel("12345", false), ErrBadThumbprint)
	err = sel(f.expired, false)
	onlyIs(t, "expired", err, ErrCertExpired)
	if err != nil && (!strings.Contains(err.Error(), testNow.AddDate(0, -2, 0).Format("2006-01-02")) || !strings.Contains(err.Error(), AllowExpiredFlag)) {
		t.Errorf("expired: message lacks the date or the override: %v", err)
	}
	if err := sel(f.expired, true); err != nil {
		t.Errorf("expired with override: %v", err)
	}
	onlyIs(t, "not yet valid", sel(f.future, false), ErrCertNotYetValid)
	onlyIs(t, "no private key", sel(f.certOnly, false), ErrNoPrivateKey)
	onlyIs(t, "key mismatch", sel(f.mismatch, false), ErrKeyMismatch)
	onlyIs(t, "ecdsa", sel(f.ec, false), ErrUnsupportedKey)
	for _, tp := range []string{f.pkcs1, f.pkcs8, fixtureThumbprint, strings.ToLower(f.pkcs1)} {
		if err := sel(tp, false); err != nil {
			t.Errorf("select %s: %v", tp, err)
		}
	}
}

// A wrong password configured by file name is reported as such.
func TestSelectWrongConfiguredPassword(t *testing.T) {
	dir := t.TempDir()
	copyFixture(t, dir, "legacy-3des.pfx", "only.pfx")
	s := NewStore(dir, StoreOptions{Passwords: map[string]Secret{"only.pfx": NewSecret("nope")}})
	_, err := s.Select(t.Context(), fixtureThumbprint, testNow, false)
	onlyIs(t, "wrong configured password", err, ErrPFXPassword)
	if err != nil && (!strings.Contains(err.Error(), "configured for only.pfx") || strings.Contains(err.Error(), "nope")) {
		t.Errorf("message: %v", err)
	}
}

// Select asks for a PFX password only when the thumbprint is not in a file
// it can already open, once per locked file; a right answer is remembered.
func TestSelectPromptsOnlyForLockedFiles(t *testing.T) {
	dir := t.TempDir()
	c := selfSigned(t, "pem", testRSAKey(t, 0), valid[0], valid[1])
	writePEM(t, dir, "plain.pem", c, testRSAKey(t, 0), "pkcs8")
	copyFixture(t, dir, "aes256.pfx", "locked.pfx")
	var asked []string
	answer := "wrong"
	s := NewStore(dir, StoreOptions{Prompt: func(_ context.Context, file string) (Secret, error) {
		asked = append(asked, file)
		return NewSecret(answer), nil
	}})
	if _, err := s.Select(t.Context(), Thumbprint(c), testNow, false); err != nil || len(asked) != 0 {
		t.Fatalf("PEM certificate: err %v, asked %v (want no prompt)", err, asked)
	}
	_, err := s.Select(t.Context(), fixtureThumbprint, testNow, false)
	onlyIs(t, "wrong answer", err, ErrPFXPassword)
	if err != nil && !strings.Contains(err.Error(), "entered for locked.pfx") {
		t.Errorf("wrong answer message: %v", err)
	}
	answer = aesPassword
	if _, err := s.Select(t.Context(), fixtureThumbprint, testNow, false); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Select(t.Context(), fixtureThumbprint, testNow, false); err != nil {
		t.Fatal(err)
	}
	if len(asked) != 2 {
		t.Fatalf("asked %v, want twice (wrong, then right; then remembered)", asked)
	}
	// A public-only copy of the certificate does not stop the prompt: the
	// locked PFX may hold its key.
	writePEM(t, dir, "fixture-public.cer", mustParsePFX(t).cert, nil, "")
	s3 := NewStore(dir, StoreOptions{Prompt: func(context.Context, string) (Secret, error) { return NewSecret(aesPassword), nil }})
	if _, err := s3.Select(t.Context(), fixtureThumbprint, testNow, false); err != nil {
		t.Fatalf("certificate in a .cer and, with its key, in a locked PFX: %v", err)
	}
	// A cancelled prompt stops the selection.
	ctx, cancel := context.WithCancel(t.Context())
	s2 := NewStore(dir, StoreOptions{Prompt: func(ctx context.Context, string2 string) (Secret, error) {
		cancel()
		return Secret{}, ctx.Err()
	}})
	if _, err := s2.Select(ctx, fixtureThumbprint, testNow, false); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled prompt: %v", err)
	}
}

// Unlock opens a locked PFX for the store's life; a wrong password does not.
func TestUnlock(t *testing.T) {
	dir := t.TempDir()
	copyFixture(t, dir, "aes256.pfx", "x.pfx")
	s := NewStore(dir, StoreOptions{})
	if err := s.Unlock("x.pfx", NewSecret("bad")); !errors.Is(err, ErrPFXPassword) {
		t.Fatalf("bad password: %v", err)
	}
	if err := s.Unlock("x.pfx", NewSecret(aesPassword)); err != nil {
		t.Fatal(err)
	}
	infos, err := s.List(t.Context(), testNow)
	if err != nil || len(infos) != 1 || infos[0].Locked || infos[0].Thumbprint != fixtureThumbprint {
		t.Fatalf("after Unlock: %+v, %v", infos, err)
	}
}

func TestMatchesAndUnlocks(t *testing.T) {
	f := newStoreFixture(t)
	infos, err := NewStore(f.dir, f.opts).List(t.Context(), testNow)
	if err != nil {
		t.Fatal(err)
	}
	m := byFile(infos)
	disks := []Disk{
		{Name: "vm1 disk0", Meta: Meta{Version: 1, Thumbprint: f.pkcs1}},
		{Name: "vm1 disk1", Meta: Meta{Version: 1, Thumbprint: f.pkcs1}},
		{Name: "vm2 disk0", Meta: Meta{Version: 1, Thumbprint: f.certOnly}},
	}
	if got := m["a-pkcs1.pem"].Unlocks(disks); strings.Join(got, ",") != "vm1 disk0,vm1 disk1" {
		t.Errorf("a-pkcs1 unlocks %v", got)
	}
	if got := m["c-public.cer"].Unlocks(disks); len(got) != 0 {
		t.Errorf("a certificate without its key unlocks %v", got)
	}
}

func TestListMissingFolder(t *testing.T) {
	if _, err := NewStore(filepath.Join(t.TempDir(), "nope"), StoreOptions{}).List(t.Context(), testNow); err == nil || !strings.Contains(err.Error(), "certificates_dir") {
		t.Fatalf("missing folder: %v", err)
	}
}

func mustParsePFX(t testing.TB) parsed {
	t.Helper()
	p, err := parsePFX(mustRead(t, "testdata/aes256.pfx"), aesPassword)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
