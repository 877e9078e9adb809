package lab

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"time"

	"github.com/failback/failback/crypt"
)

// labCert is a certificate the lab made, with its key.
type labCert struct {
	Cert
	x509 *x509.Certificate
}

// makeCert creates a self-signed RSA certificate valid from an hour ago
// for validFor, and writes it with its private key as one PEM file (the
// form crypt's store reads without a password) readable only by the user.
func makeCert(dir, file, cn string, validFor time.Duration) (*labCert, error) {
	key, err := rsa.GenerateKey(rand.Reader, crypt.MinRSABits)
	if err != nil {
		return nil, fmt.Errorf("lab certificate: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn, Organization: []string{"failback lab"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(validFor),
		KeyUsage:     x509.KeyUsageKeyEncipherment | x509.KeyUsageDataEncipherment,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("lab certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	pk, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	out := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	out = append(out, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pk})...)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, file), out, 0o600); err != nil {
		return nil, fmt.Errorf("write lab certificate: %w", err)
	}
	return &labCert{Cert: Cert{File: file, Thumbprint: crypt.Thumbprint(cert), Subject: cn}, x509: cert}, nil
}
