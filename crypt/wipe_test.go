package crypt

import (
	"crypto/rsa"
	"crypto/x509"
	"testing"
)

// Attack: a memory dump of a process that looked for one certificate
// finds the private keys of every file in the folder, and the chosen one
// after the job let go of it. Keys not handed out are wiped at once; the
// one handed out is wiped by Destroy.
func TestPrivateKeysAreWipedWhenNotNeeded(t *testing.T) {
	f := newStoreFixture(t)
	s := NewStore(f.dir, f.opts)
	c, es, err := s.find(t.Context(), f.pkcs1, testNow)
	if err != nil {
		t.Fatal(err)
	}
	held := 0
	for _, e := range es {
		if e.p.key == nil {
			continue
		}
		if r, ok := e.p.key.(*rsa.PrivateKey); !ok || r != c.key {
			t.Errorf("%s: its private key is still held after find", e.info.File)
		}
		held++
	}
	if held != 1 || c.Destroyed() {
		t.Fatalf("the chosen key is not the one held (%d held)", held)
	}
	key := c.key
	c.Destroy()
	if !c.Destroyed() || key.D.Sign() != 0 || key.Primes[0].Sign() != 0 || key.Precomputed.Dp.Sign() != 0 {
		t.Fatal("Destroy left the private key's numbers in memory")
	}
	if _, err := c.Unwrap(Meta{Version: Version, Thumbprint: f.pkcs1}); err == nil {
		t.Fatal("a destroyed certificate still unwraps")
	}

	k, err := x509.ParsePKCS1PrivateKey(x509.MarshalPKCS1PrivateKey(testRSAKey(t, 1)))
	if err != nil {
		t.Fatal(err)
	}
	wipeKey(k)
	if k.D.Sign() != 0 || k.Primes[1].Sign() != 0 || k.Precomputed.Qinv.Sign() != 0 {
		t.Fatal("wipeKey left numbers")
	}
}
