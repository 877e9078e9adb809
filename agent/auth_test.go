package agent

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/failback/failback/azure"
)

// rawGet sends a GET to the agent with any Authorization header (none if
// empty), trusting its certificate.
func rawGet(t *testing.T, a *testAgent, path, auth string) (int, string) {
	t.Helper()
	c := insecureClient()
	req, err := http.NewRequest(http.MethodGet, a.url()+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// insecureClient trusts any certificate: for tests that look at what
// the agent answers, not at pinning.
func insecureClient() *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13}}}
}

// Requests without the token, with a wrong one or in another scheme are
// refused with 401 on every path, before any storage call, and logged
// without the token; the right token is let in.
func TestAgentRefusesRequestsWithoutTheRightToken(t *testing.T) {
	st := newStorage(t, nil)
	d := newDisk(t, st, 4*mib)
	snap := d.snapshot(t)
	rec := newMethodRecorder()
	a := startAgent(t, newStorage(t, rec), ServerOptions{}, nil)
	const wrong = "wrong-token-that-must-not-be-logged"
	q := "?" + snapRef{d.container, d.name, snap}.query().Encode()
	for _, c := range []struct{ name, path, auth string }{
		{"no token", pathInfo, ""},
		{"wrong token", pathInfo, "Bearer " + wrong},
		{"wrong token on data", pathSums + q + "&bs=1048576&blocks=0:4", "Bearer " + wrong},
		{"basic scheme", pathSnapshot + q, "Basic " + testToken},
		{"token prefix", pathInfo, "Bearer " + testToken[:len(testToken)-1]},
		{"unknown path", "/v1/nothing", ""},
	} {
		code, body := rawGet(t, a, c.path, c.auth)
		if code != http.StatusUnauthorized {
			t.Errorf("%s: HTTP %d (%q), want 401", c.name, code, body)
		}
	}
	if n := rec.counts(); len(n) != 0 {
		t.Errorf("refused requests reached storage: %v", n)
	}
	if code, body := rawGet(t, a, pathInfo, "Bearer "+testToken); code != http.StatusOK || !strings.Contains(body, `"protocol":1`) {
		t.Errorf("right token: HTTP %d %q", code, body)
	}
	logs := a.logs.String()
	if strings.Count(logs, "refused an unauthenticated request") != 6 || !strings.Contains(logs, "reason=\"wrong token\"") {
		t.Errorf("refusals not logged as expected:\n%s", logs)
	}
	if strings.Contains(logs, wrong) || strings.Contains(logs, testToken[:8]) {
		t.Errorf("a token reached the log:\n%s", logs)
	}
	if s := a.srv.Stats(); s.Refused != 6 {
		t.Errorf("server counted %d refusals, want 6", s.Refused)
	}
}

// The client gives a clear, permanent error for a wrong token: no
// retries, and no silent fallback (that is a setting to fix).
func TestClientReportsWrongTokenWithoutFallingBack(t *testing.T) {
	st := newStorage(t, nil)
	d := newDisk(t, st, 4*mib)
	snap := d.snapshot(t)
	a := startAgent(t, newStorage(t, nil), ServerOptions{}, nil)
	o := a.options(d, snap)
	o.Token = azure.NewSecret("another-token-0123456789")
	o.Fallback = d.direct(t, st, snap)
	_, err := NewSource(context.Background(), o)
	if !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("wrong token: %v, want ErrUnauthorized", err)
	}
	if !strings.Contains(err.Error(), "[agent] token") {
		t.Errorf("message does not say what to fix: %v", err)
	}
	if strings.Contains(err.Error(), "another-token") {
		t.Errorf("message shows the token: %v", err)
	}
}

// A wrong pinned fingerprint is refused by the client during the TLS
// handshake, before the token is sent, with an error that names both
// fingerprints; the right pin, by fingerprint or by PEM file, works.
func TestClientRefusesAgentWithWrongCertificate(t *testing.T) {
	st := newStorage(t, nil)
	d := newDisk(t, st, 4*mib)
	snap := d.snapshot(t)
	a := startAgent(t, newStorage(t, nil), ServerOptions{}, nil)
	other, _, err := GenerateCert(CertOptions{Hosts: []string{"127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	otherFile, rightFile := filepath.Join(dir, "other.pem"), filepath.Join(dir, "agent.pem")
	if err := os.WriteFile(otherFile, other, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(rightFile, a.certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	otherFP, err := FileFingerprint(otherFile)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	o := a.options(d, snap)
	o.CertFingerprint = strings.ToLower(strings.ReplaceAll(otherFP, ":", ""))
	o.Fallback = d.direct(t, st, snap)
	_, err = NewSource(ctx, o)
	var cm *CertMismatchError
	if !errors.Is(err, ErrCertMismatch) || !errors.As(err, &cm) {
		t.Fatalf("wrong fingerprint: %v, want ErrCertMismatch", err)
	}
	if cm.Got != a.fingerprint || cm.Want != otherFP || !strings.Contains(err.Error(), "cert_fingerprint") {
		t.Errorf("error does not name the fingerprints and the setting: %v", err)
	}
	if a.srv.Stats().Requests != 0 {
		t.Error("the request (and its token) reached the agent despite the wrong certificate")
	}

	o = a.options(d, snap)
	o.CertFingerprint, o.CertFile = "", otherFile
	if _, err := NewSource(ctx, o); !errors.Is(err, ErrCertMismatch) {
		t.Fatalf("wrong cert_file: %v, want ErrCertMismatch", err)
	}

	o.CertFile = rightFile
	src, err := NewSource(ctx, o)
	if err != nil {
		t.Fatalf("right cert_file: %v", err)
	}
	src.Close()
	o = a.options(d, snap)
	o.CertFingerprint = "sha256:" + strings.ToLower(a.fingerprint)
	if src, err = NewSource(ctx, o); err != nil {
		t.Fatalf("right fingerprint in another spelling: %v", err)
	}
	src.Close()
}

// A certificate issued by a CA in cert_file is accepted for the host it
// names, and refused for another host.
func TestClientAcceptsAgentCertificateIssuedByPinnedCA(t *testing.T) {
	ca, leafPEM, leafKeyPEM := testCA(t, "127.0.0.1")
	st := newStorage(t, nil)
	d := newDisk(t, st, 4*mib)
	snap := d.snapshot(t)
	a := startAgent(t, newStorage(t, nil), ServerOptions{}, nil)
	cert, err := tls.X509KeyPair(leafPEM, leafKeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	a.kill()
	a.cert = cert
	if err := a.restart(); err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, ca, 0o600); err != nil {
		t.Fatal(err)
	}
	o := a.options(d, snap)
	o.CertFingerprint, o.CertFile = "", caFile
	src, err := NewSource(context.Background(), o)
	if err != nil {
		t.Fatalf("certificate issued by the pinned CA: %v", err)
	}
	src.Close()
	o.URL = strings.Replace(a.url(), "127.0.0.1", "localhost", 1) // not in the certificate
	if _, err := NewSource(context.Background(), o); !errors.Is(err, ErrCertMismatch) {
		t.Fatalf("host not in the CA-issued certificate: %v, want ErrCertMismatch", err)
	}
}

// testCA makes a CA and a leaf certificate it issued for ip; all PEM.
func testCA(t *testing.T, ip string) (caPEM, leafPEM, leafKeyPEM []byte) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTpl, caTpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: ip},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), IPAddresses: []net.IP{net.ParseIP(ip)},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})
}
