package agent

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"strings"
	"time"
)

// Fingerprint is the SHA-256 of a DER certificate, written as the config
// file's cert_fingerprint takes it: hex pairs joined by colons.
func Fingerprint(der []byte) string {
	return fingerprintHex(sha256.Sum256(der))
}

// ParseFingerprint reads a SHA-256 fingerprint in hex, with or without
// colons or a "sha256:" prefix, in either case.
func ParseFingerprint(s string) ([32]byte, error) {
	var fp [32]byte
	t := strings.TrimPrefix(strings.ToLower(strings.TrimSpace(s)), "sha256:")
	t = strings.NewReplacer(":", "", " ", "").Replace(t)
	b, err := hex.DecodeString(t)
	if err != nil || len(b) != len(fp) {
		return fp, fmt.Errorf("agent certificate fingerprint %q is not a SHA-256 in hex (64 digits, colons allowed); `failback agent --print-fingerprint` prints it", s)
	}
	copy(fp[:], b)
	return fp, nil
}

// CertOptions describe a self-signed agent certificate.
type CertOptions struct {
	// Hosts are the DNS names and IP addresses clients use to reach the
	// agent (subject alternative names).
	Hosts []string
	// ValidFor defaults to 825 days.
	ValidFor time.Duration
}

// GenerateCert makes a self-signed ECDSA P-256 certificate for the agent
// and returns the certificate and its private key, PEM encoded. Clients
// pin it by Fingerprint, so no public CA is involved.
func GenerateCert(o CertOptions) (certPEM, keyPEM []byte, err error) {
	if len(o.Hosts) == 0 {
		return nil, nil, errors.New("agent certificate: name at least one host (DNS name or IP) clients connect to")
	}
	if o.ValidFor <= 0 {
		o.ValidFor = 825 * 24 * time.Hour
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, err
	}
	now := time.Now()
	tpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: o.Hosts[0], Organization: []string{"failback agent"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(o.ValidFor),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	for _, h := range o.Hosts {
		if ip := net.ParseIP(h); ip != nil {
			tpl.IPAddresses = append(tpl.IPAddresses, ip)
		} else {
			tpl.DNSNames = append(tpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})
	return certPEM, keyPEM, nil
}

// LoadCert loads the agent's certificate and key files (PEM) and returns
// them with the leaf's fingerprint.
func LoadCert(certFile, keyFile string) (tls.Certificate, string, error) {
	c, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return c, "", fmt.Errorf("agent TLS certificate %s with key %s: %w (make a pair with `failback agent --gen-cert`, or openssl as docs/AGENT.md shows)", certFile, keyFile, err)
	}
	return c, Fingerprint(c.Certificate[0]), nil
}

// FileFingerprint returns the fingerprint of the first certificate of a
// PEM file.
func FileFingerprint(certFile string) (string, error) {
	certs, err := readCerts(certFile)
	if err != nil {
		return "", err
	}
	return Fingerprint(certs[0].Raw), nil
}

// readCerts reads every certificate of a PEM file.
func readCerts(path string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("agent certificate file: %w", err)
	}
	return parseCerts(data, "agent certificate file "+path)
}

// parseCerts reads the certificates of PEM data (what names it).
func parseCerts(data []byte, what string) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s holds no PEM certificate", what)
	}
	return out, nil
}
