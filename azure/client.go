// Package azure is the Azure side of a failback: unmanaged VM disks stored
// as page blobs (a fixed VHD: the virtual disk, then a 512-byte footer),
// their snapshots, allocated and changed page ranges, leases, an engine
// Source over a snapshot and an engine Target over a page blob; and the
// compute side (power state, power off, start, delete) through ARM or the
// lab's simulated VM.
//
// Reads for a sync always come from a snapshot, never from the live blob: a
// running VM keeps writing, and a snapshot is the only consistent view.
// The package never imports the UI; the engine never imports this package.
package azure

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/service"
)

// StorageOptions say how to reach a storage account. Exactly one way to
// authenticate is used: ConnectionString (Azurite or key-based), AccountURL
// with AccountKey, AccountURL with SAS (or a SAS URL in AccountURL),
// or AccountURL with UseEntraID. The config package maps TOML onto it.
type StorageOptions struct {
	// AccountURL is the blob service URL, such as
	// https://acct.blob.core.windows.net/ or, for Azurite,
	// http://127.0.0.1:10000/devstoreaccount1. It may carry a SAS query.
	AccountURL string
	// AccountName is needed with AccountKey when it cannot be read from
	// AccountURL (a custom domain); otherwise it is derived.
	AccountName string
	// AccountID is the account's ARM id (for importing a blob as a
	// managed disk); "" when not configured.
	AccountID string
	// ConnectionString is a full storage connection string.
	ConnectionString Secret
	// AccountKey is the shared key of the account (with AccountURL).
	AccountKey Secret
	// SAS is a shared access signature token ("sv=...&sig=...") appended
	// to AccountURL.
	SAS Secret
	// UseEntraID authenticates with Microsoft Entra ID through
	// azidentity.DefaultAzureCredential (environment, workload identity,
	// managed identity, Azure CLI).
	UseEntraID bool

	// MaxRetries is how many times a failed request is retried (default 5;
	// negative means no retries).
	MaxRetries int
	// RetryDelay is the first back-off delay (default 800 ms); it doubles
	// up to MaxRetryDelay (default 30 s). A Retry-After header wins.
	RetryDelay    time.Duration
	MaxRetryDelay time.Duration
	// TryTimeout bounds one attempt of one request, body included
	// (default 2 min: a 4 MiB range at 35 KB/s still fits).
	TryTimeout time.Duration
	// Parallel is the number of parallel requests sources and targets may
	// run (default 8); the connection pool is sized from it.
	Parallel int

	// Transport replaces the HTTP client (tests count requests with it).
	// Not a config option.
	Transport policy.Transporter

	// Limits, when set, are the adaptive limits (throttle.go) of every
	// client built from options that name them, whatever else those
	// options say: a mover opening each disk's URL with its own options
	// keeps one limit per blob and per storage account across them. Not
	// a config option.
	Limits *Limits

	// throttle holds the adaptive limits of every client built from
	// these options (throttle.go); withDefaults makes it (Limits' when
	// set).
	throttle *throttles
}

// retryStatusCodes are retried by the pipeline: timeouts, throttling and
// server-side failures. Anything else (404, 401, 403, 409, 412, 416) is an
// answer, not a glitch.
var retryStatusCodes = []int{
	http.StatusRequestTimeout,
	http.StatusTooManyRequests,
	http.StatusInternalServerError,
	http.StatusBadGateway,
	http.StatusServiceUnavailable,
	http.StatusGatewayTimeout,
}

// storageRetryStatusCodes are those storage's pipeline retries: the same
// but throttling (429, 503), which the throttle policy (throttle.go)
// waits out under the adaptive limits.
var storageRetryStatusCodes = []int{
	http.StatusRequestTimeout,
	http.StatusInternalServerError,
	http.StatusBadGateway,
	http.StatusGatewayTimeout,
}

func (o StorageOptions) withDefaults() StorageOptions {
	if o.MaxRetries == 0 {
		o.MaxRetries = 5
	}
	if o.RetryDelay == 0 {
		o.RetryDelay = 800 * time.Millisecond
	}
	if o.MaxRetryDelay == 0 {
		o.MaxRetryDelay = 30 * time.Second
	}
	if o.TryTimeout == 0 {
		o.TryTimeout = 2 * time.Minute
	}
	if o.Parallel <= 0 {
		o.Parallel = 8
	}
	if o.throttle == nil && o.Limits != nil {
		o.throttle = o.Limits.t
	}
	if o.throttle == nil {
		o.throttle = newThrottles(o.RetryDelay, o.MaxRetryDelay)
	}
	return o
}

// authMethods names the ways to authenticate that o sets.
func (o StorageOptions) authMethods() []string {
	var m []string
	if !o.ConnectionString.IsZero() {
		m = append(m, "connection string")
	}
	if !o.AccountKey.IsZero() {
		m = append(m, "account key")
	}
	if !o.SAS.IsZero() {
		m = append(m, "SAS token")
	}
	if o.UseEntraID {
		m = append(m, "Entra ID")
	}
	return m
}

// Validate checks that exactly one way to authenticate is configured.
func (o StorageOptions) Validate() error {
	m := o.authMethods()
	sasURL := strings.Contains(o.AccountURL, "sig=")
	switch {
	case len(m) == 0 && !sasURL:
		return errors.New("azure storage: no credentials: set a connection string, an account key, a SAS token, or use Entra ID")
	case len(m) > 1 || (len(m) == 1 && sasURL && m[0] != "SAS token"):
		return fmt.Errorf("azure storage: several credentials set (%s); keep exactly one", strings.Join(m, ", "))
	case o.ConnectionString.IsZero() && o.AccountURL == "":
		return errors.New("azure storage: account URL missing (https://<account>.blob.core.windows.net/)")
	}
	if o.AccountURL != "" {
		u, err := url.Parse(o.AccountURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return fmt.Errorf("azure storage: account URL %q is not an http(s) URL", redactURL(o.AccountURL))
		}
	}
	return nil
}

// Storage is a storage account client with our retry policy and timeouts.
// It is safe for concurrent use.
type Storage struct {
	svc  *service.Client
	opts StorageOptions
}

// NewStorage connects to a storage account (no request is sent yet).
func NewStorage(o StorageOptions) (*Storage, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	o = o.withDefaults()
	co := &service.ClientOptions{ClientOptions: o.clientOptions()}
	var (
		svc *service.Client
		err error
	)
	switch {
	case !o.ConnectionString.IsZero():
		svc, err = service.NewClientFromConnectionString(o.ConnectionString.Reveal(), co)
	case !o.AccountKey.IsZero():
		name := o.AccountName
		if name == "" {
			name, err = accountNameFromURL(o.AccountURL)
			if err != nil {
				return nil, err
			}
		}
		var cred *service.SharedKeyCredential
		cred, err = service.NewSharedKeyCredential(name, o.AccountKey.Reveal())
		if err == nil {
			svc, err = service.NewClientWithSharedKeyCredential(o.AccountURL, cred, co)
		}
	case !o.SAS.IsZero():
		svc, err = service.NewClientWithNoCredential(withSAS(o.AccountURL, o.SAS.Reveal()), co)
	case o.UseEntraID:
		var cred azcore.TokenCredential
		cred, err = azidentity.NewDefaultAzureCredential(nil)
		if err == nil {
			svc, err = service.NewClient(o.AccountURL, cred, co)
		}
	default: // a SAS URL in AccountURL
		svc, err = service.NewClientWithNoCredential(o.AccountURL, co)
	}
	if err != nil {
		// The SDK's messages never echo the secret itself.
		return nil, fmt.Errorf("azure storage: cannot build a client (%s): %w", strings.Join(o.authMethods(), ", "), err)
	}
	return &Storage{svc: svc, opts: o}, nil
}

// URL is the service URL without any SAS query, safe to print.
func (s *Storage) URL() string { return redactURL(s.svc.URL()) }

// Parallel is the configured number of parallel requests.
func (s *Storage) Parallel() int { return s.opts.Parallel }

func (s *Storage) container(name string) *container.Client { return s.svc.NewContainerClient(name) }

// CreateContainer makes a container; one that already exists is fine.
func (s *Storage) CreateContainer(ctx context.Context, name string) error {
	_, err := s.svc.CreateContainer(ctx, name, nil)
	if err != nil && !hasCode(err, "ContainerAlreadyExists") {
		return wrapErr("create container", name, err)
	}
	return nil
}

// DeleteContainer removes a container and everything in it.
func (s *Storage) DeleteContainer(ctx context.Context, name string) error {
	_, err := s.svc.DeleteContainer(ctx, name, nil)
	if err != nil && !hasCode(err, "ContainerNotFound") {
		return wrapErr("delete container", name, err)
	}
	return nil
}

func (o StorageOptions) clientOptions() azcore.ClientOptions {
	tr := o.Transport
	if tr == nil {
		tr = newHTTPClient(o.Parallel)
	}
	return azcore.ClientOptions{
		Retry: policy.RetryOptions{
			MaxRetries:    int32(o.MaxRetries),
			TryTimeout:    o.TryTimeout,
			RetryDelay:    o.RetryDelay,
			MaxRetryDelay: o.MaxRetryDelay,
			StatusCodes:   storageRetryStatusCodes,
		},
		Transport:       newEndpointTransport(tr),
		Telemetry:       policy.TelemetryOptions{ApplicationID: "failback"},
		PerCallPolicies: []policy.Policy{o.throttle},
	}
}

// newHTTPClient sizes the idle pool for our parallel readers: azcore's
// default keeps 10 idle connections per host, so 16 readers would keep
// opening new ones.
func newHTTPClient(parallel int) *http.Client {
	idle := max(2*parallel, 16)
	return &http.Client{Transport: &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		// Azure answers a connect in milliseconds; a black-holed endpoint
		// should not hold each try for long.
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          4 * idle,
		MaxIdleConnsPerHost:   idle,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		ResponseHeaderTimeout: 2 * time.Minute,
		TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12},
	}}
}

// redactURL drops the query string, where a SAS token lives.
func redactURL(raw string) string {
	if i := strings.IndexByte(raw, '?'); i >= 0 {
		return raw[:i] + "?[redacted]"
	}
	return raw
}

func withSAS(accountURL, sas string) string {
	sas = strings.TrimPrefix(sas, "?")
	if strings.Contains(accountURL, "?") {
		return accountURL + "&" + sas
	}
	return accountURL + "?" + sas
}

// accountNameFromURL reads the account from https://<acct>.blob.<suffix>/
// or from the path of an emulator URL (http://127.0.0.1:10000/<acct>).
func accountNameFromURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("azure storage: account URL: %w", err)
	}
	host := u.Hostname()
	if net.ParseIP(host) != nil || host == "localhost" {
		if p := strings.Trim(u.Path, "/"); p != "" {
			return strings.SplitN(p, "/", 2)[0], nil
		}
	} else if i := strings.Index(host, ".blob."); i > 0 {
		return host[:i], nil
	}
	return "", fmt.Errorf("azure storage: cannot tell the account name from %q; set the account name", redactURL(raw))
}
