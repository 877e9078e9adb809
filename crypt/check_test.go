package crypt

import (
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"strings"
	"testing"

	"github.com/failback/failback/engine"
	"github.com/failback/failback/engine/enginetest"
)

// encryptedDisk makes a 256 KiB disk of known plaintext, encrypted for pub,
// and returns the ciphertext disk, the plaintext and the key's Meta (naming
// thumbprint, which the caller may set to lie).
func encryptedDisk(t *testing.T, pub *rsa.PublicKey, thumbprint string) (*memDisk, []byte, Meta) {
	t.Helper()
	k, err := NewDataKey()
	if err != nil {
		t.Fatal(err)
	}
	w, err := Wrap(pub, k)
	if err != nil {
		t.Fatal(err)
	}
	disk := newMemDisk(256 << 10)
	plain := bytes.Repeat([]byte("on-premises disk data "), (256<<10)/22+1)[:256<<10]
	if err := newEncTarget(t, disk, k).WriteAt(context.Background(), plain, 0); err != nil {
		t.Fatal(err)
	}
	return disk, plain, Meta{Version: Version, Thumbprint: thumbprint, WrappedKey: w}
}

// failbackJob is what the workflow will do: preflight, then engine.Sync
// (delta, verified) from the decrypted disk onto the on-premises target.
func failbackJob(ctx context.Context, s *Store, c Check, src *memDisk, dst *memDisk) error {
	u, err := CheckCertificate(ctx, s, c)
	if err != nil {
		return err
	}
	defer u.Destroy()
	ds, err := DecryptingSource(src, u.Keys[c.Disks[0].Name])
	if err != nil {
		return err
	}
	_, err = engine.Sync(ctx, ds, dst, engine.Options{Mode: engine.Delta, BlockSize: 64 << 10, NoJournal: true, Verify: true})
	return err
}

// Every refusal stops the job before a byte is written: the on-premises
// disk keeps its content. The accepted choice does write (so the check can
// fail).
func TestRefusalsLeaveTargetUntouched(t *testing.T) {
	f := newStoreFixture(t)
	fixture, err := parsePFX(mustRead(t, "testdata/aes256.pfx"), aesPassword)
	if err != nil {
		t.Fatal(err)
	}
	pub := func(i int) *rsa.PublicKey { return &testRSAKey(t, i).PublicKey }
	wrongPFX := f.opts
	wrongPFX.Passwords = map[string]Secret{"i-legacy.pfx": NewSecret("bad"), "j-aes.p12": NewSecret("bad"), "k-locked.pfx": NewSecret("bad")}
	cases := []struct {
		name   string
		pub    *rsa.PublicKey
		diskTP string // thumbprint in the disk's metadata
		choose string
		opts   StoreOptions
		want   error
	}{
		{"accepted", pub(0), f.pkcs1, f.pkcs1, f.opts, nil},
		{"expired", pub(3), f.expired, f.expired, f.opts, ErrCertExpired},
		{"not yet valid", pub(2), f.future, f.future, f.opts, ErrCertNotYetValid},
		{"PFX wrong password", fixture.cert.PublicKey.(*rsa.PublicKey), fixtureThumbprint, fixtureThumbprint, wrongPFX, ErrPFXPassword},
		{"no private key", pub(2), f.certOnly, f.certOnly, f.opts, ErrNoPrivateKey},
		{"key mismatch", pub(0), f.mismatch, f.mismatch, f.opts, ErrKeyMismatch},
		{"not RSA", pub(0), f.ec, f.ec, f.opts, ErrUnsupportedKey},
		{"thumbprint mismatch", pub(0), f.pkcs1, f.pkcs8, f.opts, ErrThumbprintMismatch},
		{"key cannot unwrap", pub(1), f.pkcs1, f.pkcs1, f.opts, ErrUnwrap},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src, plain, meta := encryptedDisk(t, c.pub, c.diskTP)
			dst := newMemDisk(src.Size())
			before := bytes.Repeat([]byte{0xEE}, int(dst.Size()))
			copy(dst.data, before)
			check := Check{Thumbprint: c.choose, Disks: []Disk{{Name: "vm1 disk0", Meta: meta}}, Now: testNow}
			err := failbackJob(t.Context(), NewStore(f.dir, c.opts), check, src, dst)
			if c.want == nil {
				if err != nil || !bytes.Equal(dst.snapshot(), plain) {
					t.Fatalf("accepted job: %v (or the target is not the plaintext)", err)
				}
				return
			}
			onlyIs(t, c.name, err, c.want)
			if dst.writes != 0 || dst.zeroes != 0 || !bytes.Equal(dst.snapshot(), before) {
				t.Fatalf("refused job touched the target (%d writes)", dst.writes)
			}
		})
	}
	// Not found needs a folder without locked PFX files (they might hold it).
	t.Run("not found", func(t *testing.T) {
		dir := t.TempDir()
		c := selfSigned(t, "other", testRSAKey(t, 0), valid[0], valid[1])
		writePEM(t, dir, "other.pem", c, testRSAKey(t, 0), "pkcs1")
		tp := "00112233445566778899AABBCCDDEEFF00112233"
		src, _, meta := encryptedDisk(t, pub(0), tp)
		dst := newMemDisk(src.Size())
		err := failbackJob(t.Context(), NewStore(dir, StoreOptions{}), Check{Thumbprint: tp, Disks: []Disk{{Name: "d", Meta: meta}}, Now: testNow}, src, dst)
		onlyIs(t, "not found", err, ErrCertNotFound)
		if dst.writes != 0 {
			t.Fatal("refused job wrote")
		}
	})
}

// CheckCertificate reports every problem of a job at once, each findable
// with errors.Is and naming its disk; the override removes only expiry.
func TestCheckCertificateReportsAllProblemsAtOnce(t *testing.T) {
	f := newStoreFixture(t)
	s := NewStore(f.dir, f.opts)
	_, _, good := encryptedDisk(t, &testRSAKey(t, 3).PublicKey, f.expired)
	_, _, other := encryptedDisk(t, &testRSAKey(t, 0).PublicKey, f.pkcs1)
	bad := good
	bad.WrappedKey = append([]byte(nil), good.WrappedKey...)
	bad.WrappedKey[0] ^= 0xFF
	disks := []Disk{{Name: "db01 disk0", Meta: good}, {Name: "db01 disk1", Meta: other}, {Name: "db01 disk2", Meta: bad}}
	_, err := CheckCertificate(t.Context(), s, Check{Thumbprint: f.expired, Disks: disks, Now: testNow})
	for _, want := range []error{ErrCertExpired, ErrThumbprintMismatch, ErrUnwrap} {
		if !errors.Is(err, want) {
			t.Errorf("missing %v in %v", want, err)
		}
	}
	if err != nil {
		msg := err.Error()
		if !strings.Contains(msg, "db01 disk1") || !strings.Contains(msg, "db01 disk2") || !strings.Contains(msg, "choose it instead") {
			t.Errorf("message does not name the disks or the right certificate: %s", msg)
		}
	}
	_, err = CheckCertificate(t.Context(), s, Check{Thumbprint: f.expired, Disks: disks, Now: testNow, AllowExpired: true})
	if errors.Is(err, ErrCertExpired) || !errors.Is(err, ErrThumbprintMismatch) || !errors.Is(err, ErrUnwrap) {
		t.Errorf("with the override: %v", err)
	}
	twice := []Disk{disks[0], disks[0]}
	if _, err := CheckCertificate(t.Context(), s, Check{Thumbprint: f.expired, Disks: twice, Now: testNow, AllowExpired: true}); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Errorf("duplicate disk names: %v", err)
	}
	u, err := CheckCertificate(t.Context(), s, Check{Thumbprint: f.expired, Disks: disks[:1], Now: testNow, AllowExpired: true})
	if err != nil || u.Keys["db01 disk0"] == nil || u.Keys["db01 disk0"].Destroyed() {
		t.Fatalf("one good disk: %v", err)
	}
	u.Destroy()
	if !u.Keys["db01 disk0"].Destroyed() {
		t.Fatal("Unlocked.Destroy left a key")
	}
}

// Cert.NewDisk makes a key and metadata that the same certificate unwraps,
// through the blob metadata round trip.
func TestNewDiskUnwrapsWithItsCertificate(t *testing.T) {
	f := newStoreFixture(t)
	c, err := NewStore(f.dir, f.opts).Select(t.Context(), fixtureThumbprint, testNow, false)
	if err != nil {
		t.Fatal(err)
	}
	k, meta, err := c.NewDisk()
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := ParseMeta(meta.ToMetadata())
	if err != nil {
		t.Fatal(err)
	}
	k2, err := c.Unwrap(parsed)
	if err != nil {
		t.Fatal(err)
	}
	var a, b []byte
	_ = k.use(func(x []byte) error { a = append(a, x...); return nil })
	_ = k2.use(func(x []byte) error { b = append(b, x...); return nil })
	if !bytes.Equal(a, b) {
		t.Fatal("unwrapped key differs")
	}
	if _, _, err := NewDiskKey(&x509.Certificate{PublicKey: &ecKey(t).PublicKey}); !errors.Is(err, ErrUnsupportedKey) {
		t.Fatalf("ECDSA certificate: %v", err)
	}
}

// The round trip through the real engine: reverse replication
// encrypts a plaintext disk onto a blob (full, then a delta pass that sends
// only the changed blocks, compared on plaintext), and failback with the
// certificate restores an older on-premises disk to identical.
func TestReverseReplicationAndFailbackThroughEngine(t *testing.T) {
	ctx := t.Context()
	const size, bs = 8 << 20, 256 << 10
	f := newStoreFixture(t)
	store := NewStore(f.dir, f.opts)
	cert, err := store.Select(ctx, fixtureThumbprint, testNow, false)
	if err != nil {
		t.Fatal(err)
	}
	onprem := enginetest.NewMemDisk(size, 0)
	for off := int64(0); off < size; off += bs {
		if off/bs%5 == 2 {
			continue // zero blocks
		}
		if err := onprem.WriteAt(ctx, bytes.Repeat([]byte{byte(off / bs), 0x5A}, bs/2), off); err != nil {
			t.Fatal(err)
		}
	}
	old := onprem.Clone()

	// Reverse replication onto a new encrypted blob.
	key, meta, err := cert.NewDisk()
	if err != nil {
		t.Fatal(err)
	}
	blob := newMemDisk(size)
	enc := newEncTarget(t, blob, key)
	opts := engine.Options{BlockSize: bs, NoJournal: true, Verify: true}
	opts.Mode = engine.Full
	if _, err := engine.Sync(ctx, onprem, enc, opts); err != nil {
		t.Fatal(err)
	}
	// The VM runs on premises and changes three blocks; replicate again.
	for _, b := range []int64{1, 7, 30} {
		if err := onprem.WriteAt(ctx, bytes.Repeat([]byte{0xC3}, 1000), b*bs+123); err != nil {
			t.Fatal(err)
		}
	}
	opts.Mode = engine.Delta
	st, err := engine.Sync(ctx, onprem, enc, opts)
	if err != nil {
		t.Fatal(err)
	}
	if st.BlocksDiffered != 3 {
		t.Fatalf("delta pass wrote %d blocks, want the 3 changed (plaintext comparison through the encrypting target)", st.BlocksDiffered)
	}
	if bytes.Contains(blob.snapshot(), bytes.Repeat([]byte{0xC3}, 64)) {
		t.Fatal("plaintext reached the blob")
	}
	key.Destroy()

	// Failback onto the older on-premises disk.
	m, err := ParseMeta(meta.ToMetadata())
	if err != nil {
		t.Fatal(err)
	}
	u, err := CheckCertificate(ctx, store, Check{Thumbprint: fixtureThumbprint, Disks: []Disk{{Name: "d0", Meta: m}}, Now: testNow})
	if err != nil {
		t.Fatal(err)
	}
	defer u.Destroy()
	st, err = engine.Sync(ctx, newDecSource(t, blob, u.Keys["d0"]), old, opts)
	if err != nil {
		t.Fatal(err)
	}
	if st.BlocksDiffered != 3 || !bytes.Equal(old.Bytes(), onprem.Bytes()) {
		t.Fatalf("failback wrote %d blocks (want 3) or the disk differs", st.BlocksDiffered)
	}
}
