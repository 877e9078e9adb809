package azure

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// ErrUnreachable: the endpoint cannot be reached, or what answers is not
// the service (no such host, a certificate for another name, plain HTTP
// on an https URL). The error says what to check.
var ErrUnreachable = errors.New("endpoint unreachable")

// A streak of failed connections becomes permanent once it has lasted
// long enough over connectGiveUpTries tries with no success in between: a
// wrong endpoint fails in seconds instead of SDK retries times read
// retries (minutes), while a momentary failure, which hits every parallel
// reader at once, is still retried. A refused connection (nothing listens
// there: a wrong port or host) gives up after refusedGiveUpAfter; other
// failures to connect (unreachable, timed out, DNS not answering), which
// a WAN outage also produces, after connectGiveUpAfter.
const (
	connectGiveUpTries = 3
	refusedGiveUpAfter = 2 * time.Second
	connectGiveUpAfter = 30 * time.Second
)

// Hints for errors that are not answers from the service.
const (
	hintNoSuchHost = "the host name does not resolve (DNS: no such host): check the account URL or connection string (account name, endpoint suffix) and this machine's DNS"
	hintCert       = "the endpoint's TLS certificate is not valid for it: check the host name in the account URL; a TLS-inspecting proxy needs its CA trusted on this machine"
	hintNotTLS     = "the endpoint does not speak TLS: check http:// versus https:// and the port in the account URL"
	hintConnect    = "cannot connect: check the host name and port in the account URL or connection string, and any firewall or proxy between this machine and the storage account"
)

// endpointError is a transport error that retrying cannot help. Its
// NonRetriable method stops azcore's retry policy (the SDK looks for it);
// permanent stops ours.
type endpointError struct {
	err  error
	hint string
}

func (e *endpointError) Error() string { return e.err.Error() }
func (e *endpointError) Unwrap() error { return e.err }

// NonRetriable marks the error for azcore's retry policy.
func (e *endpointError) NonRetriable() {}

// wrongEndpoint says whether err shows that the endpoint is not the
// service at all, which no retry changes, and what to check.
func wrongEndpoint(err error) (hint string, ok bool) {
	var dns *net.DNSError
	if errors.As(err, &dns) && dns.IsNotFound {
		return hintNoSuchHost, true
	}
	var (
		verify   *tls.CertificateVerificationError
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
	)
	if errors.As(err, &verify) || errors.As(err, &unknown) || errors.As(err, &hostname) || errors.As(err, &invalid) {
		return hintCert, true
	}
	var record tls.RecordHeaderError
	if errors.Is(err, http.ErrSchemeMismatch) || errors.As(err, &record) {
		return hintNotTLS, true
	}
	return "", false
}

// connectFailure says whether err is a failure to connect (nothing was
// sent): refused, unreachable, a dial or DNS timeout; and how long a
// streak of them lasts before it is permanent.
func connectFailure(err error) (giveUpAfter time.Duration, ok bool) {
	if errors.Is(err, context.Canceled) {
		return 0, false // the caller gave up; says nothing of the endpoint
	}
	if refused(err) {
		return refusedGiveUpAfter, true
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return connectGiveUpAfter, true
	}
	var dns *net.DNSError
	return connectGiveUpAfter, errors.As(err, &dns)
}

// endpointTransport is the bottom of the pipeline: it strips the query (a
// SAS signature) from the URL net/http puts in transport errors, and
// turns errors that retrying cannot help into endpointErrors.
type endpointTransport struct {
	next policy.Transporter

	mu    sync.Mutex
	fails int       // connection failures in a row
	first time.Time // when the streak began
}

func newEndpointTransport(next policy.Transporter) *endpointTransport {
	return &endpointTransport{next: next}
}

// Do implements policy.Transporter.
func (t *endpointTransport) Do(req *http.Request) (*http.Response, error) {
	resp, err := t.next.Do(req)
	if err == nil {
		t.mu.Lock()
		t.fails = 0
		t.mu.Unlock()
		return resp, nil
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		ue.URL = redactURL(ue.URL)
	}
	if hint, ok := wrongEndpoint(err); ok {
		return resp, &endpointError{err: err, hint: hint}
	}
	if after, ok := connectFailure(err); ok && t.giveUp(time.Now(), after) {
		return resp, &endpointError{err: err, hint: hintConnect}
	}
	return resp, err
}

// giveUp counts one more connection failure and says whether the streak
// has lasted long enough (after) to stop retrying.
func (t *endpointTransport) giveUp(now time.Time, after time.Duration) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.fails == 0 {
		t.first = now
	}
	t.fails++
	return t.fails >= connectGiveUpTries && now.Sub(t.first) >= after
}
