package crypt

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"golang.org/x/crypto/pkcs12"
)

// File kinds the store reads, by extension (case-insensitive). Other files
// (a README, a .txt) are ignored rather than listed as errors.
var (
	pemExts = []string{".pem", ".crt", ".cer", ".key"}
	pfxExts = []string{".pfx", ".p12"}
)

func fileKind(name string) string {
	ext := strings.ToLower(filepath.Ext(name))
	for _, e := range pemExts {
		if ext == e {
			return "pem"
		}
	}
	for _, e := range pfxExts {
		if ext == e {
			return "pfx"
		}
	}
	return ""
}

// parsed is what one file holds.
type parsed struct {
	cert *x509.Certificate
	key  crypto.PrivateKey // nil when the file has none
	// keyErr is a key the file holds but that cannot be used.
	keyErr error
}

// parsePEM reads a PEM file (or a DER certificate, as .cer files often
// are): its certificate and, if present, its private key.
func parsePEM(data []byte) (parsed, error) {
	var certs []*x509.Certificate
	var p parsed
	rest := data
	found := false
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		found = true
		switch b.Type {
		case "CERTIFICATE":
			c, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				return parsed{}, fmt.Errorf("%w: a CERTIFICATE block does not parse: %v", ErrUnreadable, err)
			}
			certs = append(certs, c)
		case "RSA PRIVATE KEY", "PRIVATE KEY", "EC PRIVATE KEY":
			if p.key != nil || p.keyErr != nil {
				p.keyErr = fmt.Errorf("%w: the file holds more than one private key; keep one per file", ErrUnsupportedKey)
				continue
			}
			//lint:ignore SA1019 detecting legacy encrypted PEM to refuse it clearly, not to decrypt it.
			if x509.IsEncryptedPEMBlock(b) {
				p.keyErr = fmt.Errorf("%w: the private key is encrypted (legacy PEM encryption); store it as a PFX with a password instead", ErrUnsupportedKey)
				continue
			}
			p.key, p.keyErr = parseKey(b.Bytes)
			clear(b.Bytes)
		case "ENCRYPTED PRIVATE KEY":
			p.keyErr = fmt.Errorf("%w: the private key is encrypted (PKCS#8); store it as a PFX with a password instead, or decrypt it with `openssl pkey`", ErrUnsupportedKey)
		}
	}
	if !found {
		c, err := x509.ParseCertificate(bytes.TrimSpace(data))
		if err != nil {
			return parsed{}, fmt.Errorf("%w: neither PEM nor a DER certificate", ErrUnreadable)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return parsed{}, fmt.Errorf("%w: no certificate in the file (a key alone cannot be listed: put the certificate in the same PEM file)", ErrUnreadable)
	}
	p.cert = leaf(certs, p.key)
	return p, nil
}

// parseKey reads PKCS#1, PKCS#8 or SEC 1 DER; never echoes the bytes.
func parseKey(der []byte) (crypto.PrivateKey, error) {
	if k, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		return k, nil
	}
	if k, err := x509.ParsePKCS8PrivateKey(der); err == nil {
		return k, nil
	}
	if k, err := x509.ParseECPrivateKey(der); err == nil {
		return k, nil
	}
	return nil, fmt.Errorf("%w: the private key is neither PKCS#1, PKCS#8 nor SEC 1", ErrUnsupportedKey)
}

// leaf picks the certificate that belongs to the key (a file may carry the
// chain too), else the first.
func leaf(certs []*x509.Certificate, key crypto.PrivateKey) *x509.Certificate {
	if s, ok := key.(crypto.Signer); ok {
		for _, c := range certs {
			if publicEqual(c.PublicKey, s.Public()) {
				return c
			}
		}
	}
	return certs[0]
}

func publicEqual(a, b crypto.PublicKey) bool {
	e, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && e.Equal(b)
}

// parsePFX decodes a PKCS#12 file with a password. ErrPFXPassword means the
// password is wrong; other errors mean the file is not usable at all.
func parsePFX(data []byte, password string) (parsed, error) {
	blocks, err := pkcs12.ToPEM(data, password)
	var ni pkcs12.NotImplementedError
	switch {
	case errors.As(err, &ni):
		// OpenSSL 3 and Windows' AES-256 export use PBES2 and an HMAC over
		// SHA-256, which x/crypto/pkcs12 does not read.
		blocks, err = pbes2ToPEM(data, password)
		if err != nil {
			return parsed{}, err
		}
	case errors.Is(err, pkcs12.ErrIncorrectPassword), errors.Is(err, pkcs12.ErrDecryption):
		return parsed{}, ErrPFXPassword
	case err != nil:
		return parsed{}, fmt.Errorf("%w: not a PFX file this build can read: %v", ErrUnreadable, err)
	}
	var certs []*x509.Certificate
	var p parsed
	for _, b := range blocks {
		switch b.Type {
		case "CERTIFICATE":
			c, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				return parsed{}, fmt.Errorf("%w: a certificate in the PFX does not parse: %v", ErrUnreadable, err)
			}
			certs = append(certs, c)
		case "PRIVATE KEY":
			if p.key != nil {
				p.keyErr = fmt.Errorf("%w: the PFX holds more than one private key; export one certificate per file", ErrUnsupportedKey)
				continue
			}
			p.key, p.keyErr = parseKey(b.Bytes)
			clear(b.Bytes) // the decrypted key's DER
		}
	}
	if len(certs) == 0 {
		return parsed{}, fmt.Errorf("%w: the PFX holds no certificate", ErrUnreadable)
	}
	p.cert = leaf(certs, p.key)
	return p, nil
}

// keyDescription names the certificate's public key: "RSA", 2048.
func keyDescription(pub crypto.PublicKey) (string, int) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return "RSA", k.N.BitLen()
	case *ecdsa.PublicKey:
		return "ECDSA", k.Curve.Params().BitSize
	case ed25519.PublicKey:
		return "Ed25519", 256
	}
	return fmt.Sprintf("%T", pub), 0
}

// usableKey checks that the file's key can unwrap disk keys for its
// certificate, and returns it.
func usableKey(p parsed) (*rsa.PrivateKey, error) {
	if p.keyErr != nil {
		return nil, p.keyErr
	}
	if p.key == nil {
		return nil, ErrNoPrivateKey
	}
	typ, bits := keyDescription(p.cert.PublicKey)
	pub, ok := p.cert.PublicKey.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%w: the certificate's key is %s; disk keys are wrapped with RSA: issue an RSA certificate", ErrUnsupportedKey, typ)
	}
	if bits < MinRSABits {
		return nil, fmt.Errorf("%w: RSA key of %d bits, at least %d needed: issue a larger certificate", ErrUnsupportedKey, bits, MinRSABits)
	}
	priv, ok := p.key.(*rsa.PrivateKey)
	if !ok || !pub.Equal(priv.Public()) {
		return nil, fmt.Errorf("%w: the file's private key belongs to another certificate; export the certificate together with its own key", ErrKeyMismatch)
	}
	return priv, nil
}
