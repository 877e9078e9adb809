package crypt

import (
	"crypto/sha1"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
)

// Format constants (docs/ENCRYPTION.md is the authority).
const (
	// Version is the format version this build writes and reads.
	Version = 1
	// UnitSize is the XTS data unit: the tweak of the unit at byte offset
	// off is off/UnitSize. 4 KiB matches the guest file systems' block and
	// keeps read-modify-write rare; the last unit of a disk whose size is
	// not a multiple of 4 KiB is shorter (a multiple of 512 bytes).
	UnitSize = 4096
	// KeySize is the data key's length: two AES-256 keys for XTS.
	KeySize = 64
	// MinRSABits is the smallest RSA key accepted for wrapping.
	MinRSABits = 2048
)

// OAEPLabel is the RSA-OAEP label of a wrapped data key. A label ties the
// ciphertext to this purpose: an OAEP blob made for anything else does not
// unwrap as a disk key, and ours cannot be replayed elsewhere.
const OAEPLabel = "failback-disk-key"

// Blob metadata names. Lower case because Azure metadata names are
// case-insensitive and Azurite returns them capitalised; ParseMeta compares
// without case.
const (
	MetaVersion    = "failbackencversion"
	MetaThumbprint = "failbackencthumbprint"
	MetaWrappedKey = "failbackenckey"
)

// Meta is the encryption metadata of one disk blob.
type Meta struct {
	// Version is the format version (Version for everything written now).
	Version int `json:"version"`
	// Thumbprint is the SHA-1 thumbprint of the certificate whose public key
	// wrapped the data key, upper-case hex as Windows shows it.
	Thumbprint string `json:"thumbprint"`
	// WrappedKey is the RSA-OAEP ciphertext of the data key. It is not
	// secret (only the private key opens it), so it is printed as is.
	WrappedKey []byte `json:"wrapped_key"`
}

// ToMetadata returns the blob metadata entries for m, in the shape azblob
// takes. Merge them into the blob's other metadata; do not replace it.
func (m Meta) ToMetadata() map[string]*string {
	v := strconv.Itoa(m.Version)
	t := m.Thumbprint
	k := base64.StdEncoding.EncodeToString(m.WrappedKey)
	return map[string]*string{MetaVersion: &v, MetaThumbprint: &t, MetaWrappedKey: &k}
}

// Strings is ToMetadata as plain strings, the shape azure.Disk.SetMetadata
// takes.
func (m Meta) Strings() map[string]string {
	out := map[string]string{}
	for k, v := range m.ToMetadata() {
		out[k] = *v
	}
	return out
}

// ParseMetaStrings is ParseMeta for plain-string metadata (what
// azure.Disk.Metadata returns).
func ParseMetaStrings(md map[string]string) (Meta, error) {
	p := make(map[string]*string, len(md))
	for k, v := range md {
		p[k] = &v
	}
	return ParseMeta(p)
}

// IsEncrypted reports whether blob metadata carries any encryption entry.
// A blob with some but not all entries is encrypted and broken: ParseMeta
// says what is missing.
func IsEncrypted(md map[string]*string) bool {
	for k := range md {
		switch strings.ToLower(k) {
		case MetaVersion, MetaThumbprint, MetaWrappedKey:
			return true
		}
	}
	return false
}

// ParseMeta reads the encryption entries of blob metadata, whatever the case
// of their names. It returns ErrNotEncrypted when there are none, ErrBadMeta
// when some are missing or malformed, and ErrUnknownVersion for a format
// this build does not know (a newer failback wrote it).
func ParseMeta(md map[string]*string) (Meta, error) {
	get := func(name string) (string, bool) {
		for k, v := range md {
			if strings.EqualFold(k, name) && v != nil {
				return *v, true
			}
		}
		return "", false
	}
	if !IsEncrypted(md) {
		return Meta{}, ErrNotEncrypted
	}
	var m Meta
	vs, ok := get(MetaVersion)
	if !ok {
		return Meta{}, fmt.Errorf("%w: metadata %q is missing (the blob has other encryption entries, so it is encrypted but its metadata was damaged; restore it from the blob's snapshots)", ErrBadMeta, MetaVersion)
	}
	v, err := strconv.Atoi(strings.TrimSpace(vs))
	if err != nil {
		return Meta{}, fmt.Errorf("%w: metadata %s=%q is not a number", ErrBadMeta, MetaVersion, vs)
	}
	if v != Version {
		return Meta{}, fmt.Errorf("%w: the disk says version %d, this build reads version %d; use the failback release that encrypted it", ErrUnknownVersion, v, Version)
	}
	m.Version = v
	ts, ok := get(MetaThumbprint)
	if !ok {
		return Meta{}, fmt.Errorf("%w: metadata %q is missing", ErrBadMeta, MetaThumbprint)
	}
	if m.Thumbprint, err = NormalizeThumbprint(ts); err != nil {
		return Meta{}, fmt.Errorf("%w: metadata %s: %w", ErrBadMeta, MetaThumbprint, err)
	}
	ks, ok := get(MetaWrappedKey)
	if !ok {
		return Meta{}, fmt.Errorf("%w: metadata %q is missing", ErrBadMeta, MetaWrappedKey)
	}
	if m.WrappedKey, err = base64.StdEncoding.DecodeString(strings.TrimSpace(ks)); err != nil || len(m.WrappedKey) == 0 {
		return Meta{}, fmt.Errorf("%w: metadata %s is not base64", ErrBadMeta, MetaWrappedKey)
	}
	return m, nil
}

// Thumbprint is the certificate's SHA-1 thumbprint as Windows shows it:
// upper-case hex of SHA-1 over the DER certificate. SHA-1 here names a
// certificate; it protects nothing (the wrapped key is bound to the RSA key
// itself).
func Thumbprint(c *x509.Certificate) string {
	s := sha1.Sum(c.Raw)
	return strings.ToUpper(hex.EncodeToString(s[:]))
}

// NormalizeThumbprint accepts a thumbprint as operators paste it (lower or
// upper case, with spaces or colons, with the invisible left-to-right mark
// the Windows certificate dialog copies along) and returns 40 upper-case
// hex digits.
func NormalizeThumbprint(s string) (string, error) {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == ' ' || r == ':' || r == '\t' || r == '\u200e' || r == '\u200f' || r == '\ufeff':
		case r >= '0' && r <= '9', r >= 'A' && r <= 'F':
			b.WriteRune(r)
		case r >= 'a' && r <= 'f':
			b.WriteRune(r - 'a' + 'A')
		default:
			return "", fmt.Errorf("%w: %q has the character %q; give the 40 hex digits Windows shows as Thumbprint", ErrBadThumbprint, s, r)
		}
	}
	if b.Len() != 40 {
		return "", fmt.Errorf("%w: %q has %d hex digits, a SHA-1 thumbprint has 40", ErrBadThumbprint, s, b.Len())
	}
	return b.String(), nil
}
