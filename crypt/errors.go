package crypt

import "errors"

// Sentinel errors. Every refusal wraps exactly one of them, so callers can
// tell them apart with errors.Is; the wrapping message names the file, the
// thumbprint or the disk, and what the operator can do next. No message
// ever contains key material or a password.
var (
	// ErrNotEncrypted: the blob's metadata has no encryption entries.
	ErrNotEncrypted = errors.New("disk is not encrypted")
	// ErrBadMeta: the encryption metadata is incomplete or malformed.
	ErrBadMeta = errors.New("bad encryption metadata")
	// ErrUnknownVersion: the metadata names a format this build cannot read.
	ErrUnknownVersion = errors.New("unknown encryption format version")
	// ErrBadThumbprint: a thumbprint is not 40 hexadecimal digits.
	ErrBadThumbprint = errors.New("malformed certificate thumbprint")
	// ErrCertNotFound: no file in the certificate folder holds the thumbprint.
	ErrCertNotFound = errors.New("certificate not found")
	// ErrCertExpired: the certificate's validity ended.
	ErrCertExpired = errors.New("certificate expired")
	// ErrCertNotYetValid: the certificate's validity has not begun (a clock
	// or an issuing mistake); the same override as expiry applies.
	ErrCertNotYetValid = errors.New("certificate not yet valid")
	// ErrPFXPassword: a PFX file could not be opened with the password given
	// (or no password was given for it).
	ErrPFXPassword = errors.New("wrong PFX password")
	// ErrNoPrivateKey: the certificate was found but its private key was not.
	ErrNoPrivateKey = errors.New("certificate has no private key")
	// ErrKeyMismatch: the private key in the file belongs to another
	// certificate.
	ErrKeyMismatch = errors.New("private key does not match the certificate")
	// ErrUnsupportedKey: the key is not RSA of at least 2048 bits, or is
	// stored in a form this build cannot read.
	ErrUnsupportedKey = errors.New("unsupported key")
	// ErrThumbprintMismatch: the disk was encrypted for another certificate.
	ErrThumbprintMismatch = errors.New("certificate does not match the disk")
	// ErrUnwrap: the private key could not unwrap the disk's data key.
	ErrUnwrap = errors.New("cannot unwrap the disk's data key")
	// ErrUnreadable: a file in the certificate folder is not a certificate
	// this build can read.
	ErrUnreadable = errors.New("unreadable certificate file")
	// ErrKeyDestroyed: a DataKey was used after Destroy.
	ErrKeyDestroyed = errors.New("data key destroyed")
	// ErrUnaligned: a disk size is not a multiple of 512 bytes.
	ErrUnaligned = errors.New("disk size not a multiple of 512 bytes")
	// ErrOutOfRange: a read or write past the end of the disk.
	ErrOutOfRange = errors.New("range outside the disk")
)
