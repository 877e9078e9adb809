// Package crypt encrypts and decrypts replica disk data, and finds the
// certificate that unlocks it.
//
// The format is written down in docs/ENCRYPTION.md: the virtual disk's bytes
// are encrypted with AES-256-XTS in 4 KiB data units (the unit index is the
// XTS tweak), all-zero ciphertext units are holes that read as zero
// plaintext, and a random 512-bit data key is wrapped with the RSA public key
// of a certificate (RSA-OAEP, SHA-256). The blob's metadata (Meta) carries
// the format version, the certificate's thumbprint and the wrapped key.
//
// What callers use:
//   - Store lists a folder of PEM and PFX files (List) and loads the one the
//     operator chose (Select); CheckCertificate runs every refusal for all
//     disks of a job at once, before any byte is written, and returns the
//     unwrapped data keys.
//   - DecryptingSource wraps an engine.Source (failback reads plaintext);
//     EncryptingTarget wraps an engine.Target (reverse replication and the
//     lab write ciphertext).
//   - NewDataKey, Wrap and Unwrap make and protect the data key of a new
//     encrypted disk; Meta.ToMetadata and ParseMeta move it in and out of the
//     blob's metadata.
//
// The package imports engine for its interfaces only; it knows nothing of
// Azure, the console or the workflow. Key material lives in DataKey, Secret
// and Cert, whose every printed or encoded form is redacted.
package crypt
