package crypt

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/failback/failback/internal/secret"
)

const redacted = secret.Redacted

// DataKey is a disk's 512-bit XTS data key in clear. Every way of printing
// or encoding it shows "[redacted]"; Destroy overwrites it. The bytes sit
// behind a pointer so that even a struct holding a DataKey in an unexported
// field prints an address, never the bytes.
type DataKey struct {
	mu sync.RWMutex
	b  *[KeySize]byte
}

// NewDataKey returns a fresh random data key for a new encrypted disk.
func NewDataKey() (*DataKey, error) {
	k := &DataKey{b: new([KeySize]byte)}
	if _, err := rand.Read(k.b[:]); err != nil {
		return nil, fmt.Errorf("crypt: reading random data key: %w", err)
	}
	return k, nil
}

// newDataKey copies b (tests and Unwrap).
func newDataKey(b []byte) *DataKey {
	k := &DataKey{b: new([KeySize]byte)}
	copy(k.b[:], b)
	return k
}

// Destroy overwrites the key. Ciphers already built from it (by
// DecryptingSource or EncryptingTarget) keep working: they hold AES key
// schedules of their own, which Go gives no way to wipe.
func (k *DataKey) Destroy() {
	if k == nil {
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.b != nil {
		clear(k.b[:])
		k.b = nil
	}
}

// Destroyed reports whether Destroy was called (or the key is nil).
func (k *DataKey) Destroyed() bool {
	if k == nil {
		return true
	}
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.b == nil
}

// use runs f with the key bytes, or fails if the key was destroyed.
func (k *DataKey) use(f func(b []byte) error) error {
	if k == nil {
		return fmt.Errorf("crypt: %w (nil key)", ErrKeyDestroyed)
	}
	k.mu.RLock()
	defer k.mu.RUnlock()
	if k.b == nil {
		return fmt.Errorf("crypt: %w", ErrKeyDestroyed)
	}
	return f(k.b[:])
}

// Use hands f the key's bytes, for a mover on the Hyper-V host that
// decrypts what it reads there (the bytes cross that host's session in
// memory, never to a disk or a log); f must not keep them. It fails
// once the key is destroyed.
func (k *DataKey) Use(f func(b []byte) error) error { return k.use(f) }

// DataKeyFrom copies b into a key: the mover's side of Use. The caller
// wipes b afterwards.
func DataKeyFrom(b []byte) (*DataKey, error) {
	if len(b) != KeySize {
		return nil, fmt.Errorf("crypt: a data key is %d bytes, not %d", KeySize, len(b))
	}
	return newDataKey(b), nil
}

// String is redacted.
func (k *DataKey) String() string { return "crypt.DataKey(" + redacted + ")" }

// GoString is redacted.
func (k *DataKey) GoString() string { return k.String() }

// Format redacts every verb (%v, %+v, %#v, %x, %s, %q...).
func (k *DataKey) Format(f fmt.State, _ rune) { fmt.Fprint(f, k.String()) }

// MarshalJSON is redacted.
func (k *DataKey) MarshalJSON() ([]byte, error) { return json.Marshal(redacted) }

// MarshalText is redacted.
func (k *DataKey) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// Wrap encrypts the data key to an RSA public key (RSA-OAEP, SHA-256 for
// both the hash and MGF1, label OAEPLabel). The result goes into
// Meta.WrappedKey.
func Wrap(pub *rsa.PublicKey, key *DataKey) ([]byte, error) {
	if pub == nil {
		return nil, fmt.Errorf("crypt: wrap: %w: no public key", ErrUnsupportedKey)
	}
	if pub.N.BitLen() < MinRSABits {
		return nil, fmt.Errorf("crypt: wrap: %w: RSA key of %d bits, at least %d needed; issue a larger certificate", ErrUnsupportedKey, pub.N.BitLen(), MinRSABits)
	}
	var out []byte
	err := key.use(func(b []byte) error {
		var err error
		out, err = rsa.EncryptOAEP(sha256.New(), rand.Reader, pub, b, []byte(OAEPLabel))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("crypt: wrap: %w", err)
	}
	return out, nil
}

// Unwrap decrypts a wrapped data key with the certificate's private key. It
// fails with ErrUnwrap when the key is not the one the data key was wrapped
// for, or the wrapped key was damaged; the error says nothing more, as
// OAEP's failure must not tell an attacker why.
func Unwrap(priv *rsa.PrivateKey, wrapped []byte) (*DataKey, error) {
	if priv == nil {
		return nil, fmt.Errorf("crypt: unwrap: %w: no private key", ErrNoPrivateKey)
	}
	b, err := rsa.DecryptOAEP(sha256.New(), nil, priv, wrapped, []byte(OAEPLabel))
	if err != nil {
		return nil, fmt.Errorf("crypt: %w: the private key does not open it (another key, or damaged metadata)", ErrUnwrap)
	}
	defer clear(b)
	if len(b) != KeySize {
		return nil, fmt.Errorf("crypt: %w: it holds %d bytes, a data key has %d", ErrUnwrap, len(b), KeySize)
	}
	return newDataKey(b), nil
}

// Secret is a password (of a PFX file). Every way of printing or encoding
// it shows "[redacted]"; only Reveal returns it. It is internal/secret's
// type under this package's name.
type Secret = secret.Secret

// NewSecret wraps a password. The empty password is a value a PFX file may
// have; pass it as NewSecret("") (an unset Secret, which Reveals "").
func NewSecret(s string) Secret { return secret.New(s) }
