// Package labarm is the lab's Azure Resource Manager endpoint: a loopback
// HTTP server that speaks the part of the ARM REST API failback uses
// (virtual machines, managed disks, incremental snapshots, network
// interfaces and public IPs), at the api-versions armcompute v6 and
// armnetwork v7 send. Azure compute and managed disks have no emulator;
// with this server the product reaches the lab through the real SDK
// clients with an endpoint override, so the lab runs the same code as
// Azure does.
//
// Design:
//   - Resources are JSON files in a folder (Options.Dir), one per resource,
//     replaced atomically (osfile.WriteAtomic) under a folder lock, and read
//     afresh on every request: a restarted server keeps its resources, and
//     the builder in another process (the lab's setup) may share the folder.
//   - A managed disk's data is a page blob in Azurite holding a fixed VHD
//     (the disk, then a 512-byte footer), as azure.Storage.CreateDisk makes
//     it. An incremental snapshot is an Azurite blob snapshot of it, taken
//     when the snapshot is created. Granting access gives an Azurite SAS on
//     that blob snapshot (read only, expiring after durationInSeconds; Azurite
//     refuses it after) whose scheme, host and port are the blob front's
//     (Options.BlobURL), so that Get Page Ranges Diff with
//     x-ms-previous-snapshot-url is answered as Azure answers it.
//   - A VM is also a LabCompute VM whose disks are the backing blobs, so the
//     lab's guest writer (azure.RunLabVM) writes them while the VM runs.
//     Power off, deallocate, start and delete go through LabCompute: a power
//     off completes once the writer has acknowledged it stopped writing.
//   - Long-running operations answer as arm-notes.md recommends: 202 with
//     Azure-AsyncOperation (a status with a top-level status), Location (the
//     final result, e.g. a grant's accessSAS) and Retry-After; a small
//     retry-after-ms keeps polling fast (Options.PollDelay). Operations live
//     in memory: a restart forgets the ones in flight.
//   - Azure's limits hold: 7 incremental snapshots per disk per 5 minutes, 5
//     snapshots of one disk with an active SAS; errors have ARM's shape
//     {"error":{"code","message"}} with the codes Azure uses.
//   - endGetAccess ends a grant as ARM sees it (diskState, the family's
//     count), but the SAS itself stays readable until its end: Azurite
//     cannot revoke a service SAS (with a stored access policy it could, but
//     then it ignores the SAS's own se, and expiry matters more here).
//   - A VM takes one operation at a time (a second is refused 409
//     OperationNotAllowed until the first ends).
//
// The Go builder (CreateDisk, CreateVM, DiskBlob, SetDataAccessAuthMode)
// makes the lab's resources without HTTP; Start or Run serve the endpoint
// (Run is the body of the lab's background process), Handler serves it
// in a server of the caller's.
package labarm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/service"
	"github.com/failback/failback/azure"
	"github.com/failback/failback/internal/azurite"
)

// DefaultSubscription is the lab's subscription id unless Options says
// otherwise.
const DefaultSubscription = "00000000-0000-0000-0000-00000000fb01"

// Options say where the server keeps its state and what backs it.
type Options struct {
	// Dir holds the resources' JSON files (created when missing).
	Dir string
	// SubscriptionID is the only subscription served (default
	// DefaultSubscription).
	SubscriptionID string
	// AzuriteURL is Azurite's blob endpoint, account included
	// (http://127.0.0.1:10000/devstoreaccount1); the server reaches it with
	// Azurite's account key.
	AzuriteURL string
	// BlobURL is the blob front's endpoint, account included: SAS URLs and
	// unmanaged disks' VHD URIs point there (default AzuriteURL, whose
	// snapshot diffs omit cleared pages).
	BlobURL string
	// Container holds the managed disks' blobs (default "lab-managed").
	Container string
	// Location is where the builder makes resources when not told
	// (default "westeurope").
	Location string
	// Compute keeps the VMs' power state and their writers' acknowledgements.
	Compute *azure.LabCompute
	// PageSize is how many resources one list page holds before a nextLink
	// (default 100).
	PageSize int
	// SnapshotsPerWindow and SnapshotWindow: how many incremental snapshots
	// of one disk may be created within the window (default 7 per 5 min).
	SnapshotsPerWindow int
	SnapshotWindow     time.Duration
	// MaxActiveSAS is how many snapshots of one disk may have an active
	// SAS at once (default 5).
	MaxActiveSAS int
	// PollDelay is the wait the server asks pollers to make between polls
	// (default 10 ms), sent as retry-after-ms next to Retry-After.
	PollDelay time.Duration
	// Log, when set, gets one line per request.
	Log io.Writer
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Server is the lab ARM endpoint and its builder. Safe for concurrent use.
type Server struct {
	o     Options
	st    *store
	stor  *azure.Storage
	svc   *service.Client
	cred  *service.SharedKeyCredential
	ctx   context.Context // ends with Close: operations in flight stop
	stop  context.CancelFunc
	wg    sync.WaitGroup
	opsMu sync.Mutex
	ops   map[string]*operation
	// vmBusy holds the operation in flight on each VM (by LabCompute name).
	vmBusy map[string]string

	srvMu sync.Mutex
	srv   *http.Server
	url   string
}

// New opens (or creates) the state folder and connects to Azurite.
func New(o Options) (*Server, error) {
	if o.Dir == "" || o.AzuriteURL == "" || o.Compute == nil {
		return nil, errors.New("lab ARM: Dir, AzuriteURL and Compute are all required")
	}
	if o.SubscriptionID == "" {
		o.SubscriptionID = DefaultSubscription
	}
	o.AzuriteURL = strings.TrimRight(o.AzuriteURL, "/")
	if o.BlobURL == "" {
		o.BlobURL = o.AzuriteURL
	}
	o.BlobURL = strings.TrimRight(o.BlobURL, "/")
	if o.Container == "" {
		o.Container = "lab-managed"
	}
	if o.Location == "" {
		o.Location = "westeurope"
	}
	if o.PageSize <= 0 {
		o.PageSize = 100
	}
	if o.SnapshotsPerWindow <= 0 {
		o.SnapshotsPerWindow = 7
	}
	if o.SnapshotWindow <= 0 {
		o.SnapshotWindow = 5 * time.Minute
	}
	if o.MaxActiveSAS <= 0 {
		o.MaxActiveSAS = 5
	}
	if o.PollDelay <= 0 {
		o.PollDelay = 10 * time.Millisecond
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("lab ARM state folder: %w", err)
	}
	stor, err := azure.NewStorage(azure.StorageOptions{AccountURL: o.AzuriteURL, AccountKey: azure.NewSecret(azurite.AccountKey),
		AccountName: azurite.AccountName, RetryDelay: 50 * time.Millisecond, MaxRetryDelay: time.Second, TryTimeout: time.Minute})
	if err != nil {
		return nil, fmt.Errorf("lab ARM: %w", err)
	}
	cred, err := service.NewSharedKeyCredential(azurite.AccountName, azurite.AccountKey)
	if err != nil {
		return nil, err
	}
	svc, err := service.NewClientWithSharedKeyCredential(o.AzuriteURL, cred, nil)
	if err != nil {
		return nil, fmt.Errorf("lab ARM: %w", err)
	}
	ctx, stop := context.WithCancel(context.Background())
	return &Server{o: o, st: &store{dir: filepath.Clean(o.Dir)}, stor: stor, svc: svc, cred: cred,
		ctx: ctx, stop: stop, ops: map[string]*operation{}, vmBusy: map[string]string{}}, nil
}

// SubscriptionID is the subscription the server serves.
func (s *Server) SubscriptionID() string { return s.o.SubscriptionID }

// Handler is the ARM endpoint, for httptest or a server of the caller's.
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serveHTTP) }

// Start serves on addr (such as "127.0.0.1:0") in the background and
// returns the endpoint's URL (http://127.0.0.1:PORT), the ARM endpoint to
// give the SDK clients. Close stops it.
func (s *Server) Start(addr string) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("lab ARM: listen on %s: %w (is another lab running?)", addr, err)
	}
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 30 * time.Second}
	s.srvMu.Lock()
	s.srv, s.url = srv, "http://"+ln.Addr().String()
	s.srvMu.Unlock()
	go func() { _ = srv.Serve(ln) }()
	return s.url, nil
}

// Run serves on addr until ctx ends, then closes the server: the body of
// the lab's background process. ready, when set, gets the endpoint's URL
// once it listens.
func (s *Server) Run(ctx context.Context, addr string, ready func(url string)) error {
	url, err := s.Start(addr)
	if err != nil {
		return err
	}
	if ready != nil {
		ready(url)
	}
	<-ctx.Done()
	return s.Close()
}

// URL is the endpoint Start serves ("" before Start).
func (s *Server) URL() string {
	s.srvMu.Lock()
	defer s.srvMu.Unlock()
	return s.url
}

// Close stops serving and ends the operations in flight.
func (s *Server) Close() error {
	s.srvMu.Lock()
	srv := s.srv
	s.srvMu.Unlock()
	var err error
	if srv != nil {
		err = srv.Close()
	}
	s.stop()
	s.wg.Wait()
	return err
}

// resourceID is the ARM id of a resource of the served subscription.
func (s *Server) resourceID(rg, provider, name string) string {
	return "/subscriptions/" + s.o.SubscriptionID + "/resourceGroups/" + rg + "/providers/" + provider + "/" + name
}

func (s *Server) now() time.Time { return s.o.Now().UTC() }
