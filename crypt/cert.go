package crypt

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Cert is a certificate with its private key loaded: what unlocks disks.
// Printing or encoding it shows only its description, never the key.
type Cert struct {
	info CertInfo
	x509 *x509.Certificate
	key  *rsa.PrivateKey
}

// Info describes the certificate and the file it came from.
func (c *Cert) Info() CertInfo { return c.info }

// Unwrap returns the data key of a disk encrypted for this certificate. It
// refuses with ErrThumbprintMismatch when the disk names another
// certificate, ErrUnknownVersion for a format it cannot read, and ErrUnwrap
// when the key does not open the wrapped key.
func (c *Cert) Unwrap(m Meta) (*DataKey, error) {
	if m.Version != Version {
		return nil, fmt.Errorf("crypt: %w: version %d, this build reads %d", ErrUnknownVersion, m.Version, Version)
	}
	if m.Thumbprint != c.info.Thumbprint {
		return nil, fmt.Errorf("crypt: %w: the disk was encrypted for certificate %s, not %s (%s)", ErrThumbprintMismatch, m.Thumbprint, c.info.Thumbprint, c.info.File)
	}
	if c.key == nil {
		return nil, fmt.Errorf("crypt: %w: the certificate was destroyed", ErrNoPrivateKey)
	}
	k, err := Unwrap(c.key, m.WrappedKey)
	if err != nil {
		return nil, fmt.Errorf("%w (certificate %s, %s)", err, c.info.Thumbprint, c.info.File)
	}
	return k, nil
}

// NewDisk makes the key and metadata of a new encrypted disk for this
// certificate: put meta.ToMetadata() on the blob, write through
// EncryptingTarget with the key.
func (c *Cert) NewDisk() (*DataKey, Meta, error) { return NewDiskKey(c.x509) }

// NewDiskKey makes the key and metadata of a new encrypted disk for a
// certificate; only its public key is needed.
func NewDiskKey(cert *x509.Certificate) (*DataKey, Meta, error) {
	pub, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok {
		return nil, Meta{}, fmt.Errorf("crypt: %w: the certificate's key is not RSA", ErrUnsupportedKey)
	}
	k, err := NewDataKey()
	if err != nil {
		return nil, Meta{}, err
	}
	w, err := Wrap(pub, k)
	if err != nil {
		k.Destroy()
		return nil, Meta{}, err
	}
	return k, Meta{Version: Version, Thumbprint: Thumbprint(cert), WrappedKey: w}, nil
}

// Destroy drops the private key and overwrites its secret numbers, as far
// as Go allows (math/big and crypto/rsa keep copies it cannot reach: the
// precomputed values of crypto/internal/fips140, for one).
func (c *Cert) Destroy() {
	if c == nil || c.key == nil {
		return
	}
	wipeKey(c.key)
	c.key = nil
}

// Destroyed reports whether the private key was dropped (or c is nil).
func (c *Cert) Destroyed() bool { return c == nil || c.key == nil }

// String describes the certificate, never the key.
func (c *Cert) String() string {
	return fmt.Sprintf("certificate %s (CN=%s, %s)", c.info.Thumbprint, c.info.CommonName, c.info.File)
}

// GoString is the same as String.
func (c *Cert) GoString() string { return c.String() }

// Format prints String for every verb.
func (c *Cert) Format(f fmt.State, _ rune) { fmt.Fprint(f, c.String()) }

// MarshalJSON encodes the description (CertInfo), never the key.
func (c *Cert) MarshalJSON() ([]byte, error) { return json.Marshal(c.info) }

// Select loads the certificate with the thumbprint, private key included,
// for failback. It refuses, each with its own error: a thumbprint in no
// file (ErrCertNotFound, listing those found), a PFX no password opens
// (ErrPFXPassword), a certificate without its key (ErrNoPrivateKey), a key
// of another certificate (ErrKeyMismatch), a non-RSA or small key
// (ErrUnsupportedKey), and, unless allowExpired, an expired or not yet
// valid certificate (ErrCertExpired, ErrCertNotYetValid). It may call the
// store's Prompt for PFX files no known password opens.
func (s *Store) Select(ctx context.Context, thumbprint string, now time.Time, allowExpired bool) (*Cert, error) {
	t, err := NormalizeThumbprint(thumbprint)
	if err != nil {
		return nil, fmt.Errorf("crypt: %w", err)
	}
	c, _, err := s.find(ctx, t, now)
	if err != nil {
		return nil, err
	}
	if err := validity(c, now, allowExpired); err != nil {
		c.Destroy()
		return nil, err
	}
	return c, nil
}

// find loads the certificate t whatever its dates; es is the listing.
// Every private key parsed on the way but the one returned is wiped.
func (s *Store) find(ctx context.Context, t string, now time.Time) (c *Cert, es []entry, err error) {
	es, err = s.scan(ctx, now, false)
	if err != nil {
		return nil, nil, err
	}
	if !hasUsable(es, t) && s.opt.Prompt != nil && anyLocked(es) {
		wipeEntries(es, nil)
		if es, err = s.scan(ctx, now, true); err != nil {
			return nil, nil, err
		}
	}
	defer func() {
		var keep *rsa.PrivateKey
		if c != nil {
			keep = c.key
		}
		wipeEntries(es, keep)
	}()
	var best *entry
	for i := range es {
		e := &es[i]
		if !e.ok || e.info.Thumbprint != t {
			continue
		}
		if best == nil || (e.info.Usable() && !best.info.Usable()) {
			best = e
		}
	}
	if best == nil {
		return nil, es, notFound(s.dir, t, es)
	}
	if !best.info.HasPrivateKey {
		if best.info.Err != nil {
			return nil, es, fmt.Errorf("crypt: certificate %s: %w", t, best.info.Err)
		}
		return nil, es, fmt.Errorf("crypt: %w: %s holds certificate %s (CN=%s) but not its private key; export it with its private key (PFX) or add the key to the PEM file", ErrNoPrivateKey, best.info.File, t, best.info.CommonName)
	}
	key, err := usableKey(best.p)
	if err != nil { // not reached: HasPrivateKey means usable
		return nil, es, fmt.Errorf("crypt: %s: %w", best.info.File, err)
	}
	return &Cert{info: best.info, x509: best.p.cert, key: key}, es, nil
}

func hasThumbprint(es []entry, t string) bool {
	for _, e := range es {
		if e.ok && e.info.Thumbprint == t {
			return true
		}
	}
	return false
}

// hasUsable reports whether a readable file holds t with its key: only
// then is asking for the locked files' passwords pointless.
func hasUsable(es []entry, t string) bool {
	for _, e := range es {
		if e.ok && e.info.Thumbprint == t && e.info.Usable() {
			return true
		}
	}
	return false
}

func anyLocked(es []entry) bool {
	for _, e := range es {
		if e.info.Locked {
			return true
		}
	}
	return false
}

// notFound explains a missing thumbprint: locked PFX files may hold it
// (ErrPFXPassword), else it is in no file (ErrCertNotFound).
func notFound(dir, t string, es []entry) error {
	var locked, found, broken []string
	for _, e := range es {
		switch {
		case e.info.Locked:
			locked = append(locked, e.info.Err.Error())
		case e.ok:
			found = append(found, fmt.Sprintf("%s (CN=%s, %s)", e.info.Thumbprint, e.info.CommonName, e.info.File))
		default:
			broken = append(broken, e.info.Err.Error())
		}
	}
	if len(locked) > 0 {
		return fmt.Errorf("crypt: certificate %s is not in any file that could be opened in %s; these PFX files stay locked and may hold it: %s: %w",
			t, dir, strings.Join(locked, "; "), ErrPFXPassword)
	}
	msg := "the folder holds no readable certificate"
	if len(found) > 0 {
		msg = "found: " + strings.Join(found, ", ")
	}
	if len(broken) > 0 {
		msg += "; unreadable: " + strings.Join(broken, "; ")
	}
	return fmt.Errorf("crypt: %w: no file in %s holds certificate %s; copy its PFX (with private key) there; %s", ErrCertNotFound, dir, t, msg)
}

// validity refuses a certificate outside its dates unless allowExpired.
func validity(c *Cert, now time.Time, allowExpired bool) error {
	if allowExpired {
		return nil
	}
	i := c.info
	if now.After(i.NotAfter) {
		return fmt.Errorf("crypt: %w: certificate %s (CN=%s, %s) expired on %s; renew it, or pass %s to use it anyway",
			ErrCertExpired, i.Thumbprint, i.CommonName, i.File, i.NotAfter.UTC().Format(time.RFC3339), AllowExpiredFlag)
	}
	if now.Before(i.NotBefore) {
		return fmt.Errorf("crypt: %w: certificate %s (CN=%s, %s) is valid only from %s (check this machine's clock); or pass %s to use it anyway",
			ErrCertNotYetValid, i.Thumbprint, i.CommonName, i.File, i.NotBefore.UTC().Format(time.RFC3339), AllowExpiredFlag)
	}
	return nil
}
