package azure

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/pageblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/sas"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/service"
)

// Access for another process. A mover on the Hyper-V host reads a
// snapshot itself: the process that opened it hands over a URL that
// reads that snapshot and nothing else (a managed disk's grant, or a
// read-only SAS signed for the one blob snapshot), short-lived, and
// renews it on request. Such a URL is a secret: it is never printed,
// logged or saved; errors name the snapshot, never the URL.

// ErrNoScopedAccess: the storage account's credential cannot sign a URL
// for one blob (a SAS was configured; only the account key or Microsoft
// Entra ID can).
var ErrNoScopedAccess = errors.New("no read access scoped to one disk can be made")

// pageBlobSASDuration is how long a page-blob snapshot's read URL lasts;
// the reader asks for a new one before it ends.
const pageBlobSASDuration = time.Hour

// Access is a URL reading one snapshot, and when it stops working.
type Access struct {
	URL     Secret
	Expires time.Time
}

// AccessURL returns a URL that reads this snapshot alone, good until
// Expires; force says the one given before was refused. Closing the
// source ends it where access can be ended (a managed disk's grant is
// revoked); a page blob's SAS simply expires.
func (s *SnapshotSource) AccessURL(ctx context.Context, force bool) (Access, error) {
	if s.url == nil {
		return Access{}, fmt.Errorf("azure: read access to %s: %w", s.obj, ErrNoScopedAccess)
	}
	return s.url(ctx, force)
}

// signSnapshotURL signs a read-only SAS for one snapshot of a page blob.
func (d *Disk) signSnapshotURL(ctx context.Context, pb *pageblob.Client, snapshot string) (Access, error) {
	return d.signURL(ctx, pb, sas.BlobPermissions{Read: true}, snapshot)
}

// signURL signs a SAS for the blob (or its snapshot) alone with the
// account key, or with a user delegation key under Microsoft Entra ID;
// a configured SAS cannot be narrowed to one blob.
func (d *Disk) signURL(ctx context.Context, pb *pageblob.Client, perms sas.BlobPermissions, snapshot string) (Access, error) {
	obj := d.Name()
	if snapshot != "" {
		obj += "@" + snapshot
	}
	exp := time.Now().Add(pageBlobSASDuration)
	u, err := pb.GetSASURL(perms, exp, nil)
	if err == nil {
		if snapshot != "" {
			u = withSnapshot(u, snapshot)
		}
		return Access{URL: NewSecret(u), Expires: exp}, nil
	}
	if !errors.Is(err, bloberror.MissingSharedKeyCredential) {
		return Access{}, fmt.Errorf("azure: sign access to %s: %w", obj, errOneLine{err})
	}
	if !d.s.opts.UseEntraID {
		return Access{}, fmt.Errorf("azure: access to %s: %w: the storage account is reached with a SAS, which cannot be narrowed to one disk; set account_key (or entra_id) in [azure.storage], or data_path = \"share\" for the host", obj, ErrNoScopedAccess)
	}
	start := time.Now().Add(-5 * time.Minute).UTC()
	cred, err := d.s.svc.GetUserDelegationCredential(ctx, service.KeyInfo{
		Start: ptr(start.Format(sas.TimeFormat)), Expiry: ptr(exp.UTC().Format(sas.TimeFormat))}, nil)
	if err != nil {
		return Access{}, wrapErr("get a user delegation key", d.Name(), err)
	}
	parts, err := sas.ParseURL(pb.URL())
	if err != nil {
		return Access{}, fmt.Errorf("azure: %s: %w", d.Name(), err)
	}
	q, err := sas.BlobSignatureValues{Protocol: sas.ProtocolHTTPSandHTTP, StartTime: start, ExpiryTime: exp.UTC(),
		Permissions: perms.String(), ContainerName: parts.ContainerName,
		BlobName: parts.BlobName, SnapshotTime: snapshotTime(snapshot)}.SignWithUserDelegation(cred)
	if err != nil {
		return Access{}, fmt.Errorf("azure: sign access to %s: %w", obj, errOneLine{err})
	}
	base := pb.URL()
	if i := strings.IndexByte(base, '?'); i >= 0 {
		base = base[:i]
	}
	u = base + "?" + q.Encode()
	if snapshot != "" {
		u = withSnapshot(u, snapshot)
	}
	return Access{URL: NewSecret(u), Expires: exp}, nil
}

// ReadAccess returns a URL that reads the live blob alone (a pre-flight
// asks a host's mover to reach it with that; passes read snapshots).
func (d *Disk) ReadAccess(ctx context.Context) (Access, error) {
	return d.signURL(ctx, d.pb, sas.BlobPermissions{Read: true}, "")
}

// AccessURL returns a URL that reads and writes this blob alone (reverse
// replication by the mover on the Hyper-V host), good until Expires.
// Writes through it must carry the lease the target holds.
func (t *PageBlobTarget) AccessURL(ctx context.Context) (Access, error) {
	return t.d.signURL(ctx, t.d.pb, sas.BlobPermissions{Read: true, Write: true}, "")
}

// Name names the blob written, as container/blob.
func (t *PageBlobTarget) Name() string { return t.d.Name() }

// LeaseID is the lease the target's writes carry ("" for none).
func (t *PageBlobTarget) LeaseID() string { return t.d.leaseID }

// URLBlob says how to write a page blob through a URL another process
// handed over.
type URLBlob struct {
	// Name names the blob in messages, as container/blob (never the URL).
	Name string
	URL  Secret
	// LeaseID is the lease the driver holds on the blob.
	LeaseID string
	Read    StorageOptions
}

// OpenPageBlobURL opens a page-blob disk for writing through a URL: the
// mover's side of PageBlobTarget.AccessURL. The blob's footer is checked
// as OpenDisk checks it.
func OpenPageBlobURL(ctx context.Context, o URLBlob) (*PageBlobTarget, error) {
	ro := o.Read.withDefaults()
	pb, err := pageblob.NewClientWithNoCredential(o.URL.Reveal(), &pageblob.ClientOptions{ClientOptions: ro.clientOptions()})
	if err != nil {
		return nil, fmt.Errorf("azure write %s: the URL handed over is not a blob URL: %w", o.Name, errOneLine{err})
	}
	st := &Storage{opts: ro}
	props, err := pb.GetProperties(ctx, nil)
	if err != nil {
		return nil, wrapErr("open target", o.Name, err)
	}
	c, b, _ := strings.Cut(o.Name, "/")
	d := &Disk{s: st, container: c, name: b, pb: pb, leaseID: o.LeaseID}
	if props.ContentLength != nil {
		d.blobSize = *props.ContentLength
	}
	if d.footer, err = readFooter(ctx, pb, o.Name, d.blobSize, st.readPolicy()); err != nil {
		return nil, err
	}
	return &PageBlobTarget{d: d, size: d.VirtualSize(), rp: st.readPolicy()}, nil
}

// withSnapshot makes sure the URL addresses the snapshot: a SAS signed
// for a snapshot does not always carry snapshot= (see docs/FACTS.md).
func withSnapshot(u, snapshot string) string {
	if strings.Contains(u, "snapshot=") {
		return u
	}
	return withSAS(u, "snapshot="+url.QueryEscape(snapshot))
}

func snapshotTime(s string) time.Time {
	t, _ := time.Parse("2006-01-02T15:04:05.0000000Z", s)
	return t
}

func ptr[T any](v T) *T { return &v }

// URLSnapshot says how to read a snapshot through a URL another process
// handed over.
type URLSnapshot struct {
	// Name names the snapshot in messages ("web01-os@2026-...").
	Name string
	// Size is the virtual disk's size: the bytes read are [0, Size).
	Size int64
	// Access is the first URL and when it ends.
	Access Access
	// Renew asks for a new URL, before the current one ends or after it
	// was refused (force).
	Renew func(ctx context.Context, force bool) (Access, error)
	// Read says how to read: retries, try timeout, parallel requests
	// (credentials unused: the URL is the credential).
	Read StorageOptions
}

// renewDue says a URL received at got and ending at expires should be
// renewed now: within 5 minutes of its end, or its last quarter when it
// lasts less than 20 minutes. A zero expires never ends.
func renewDue(expires, got time.Time) bool {
	if expires.IsZero() {
		return false
	}
	margin := min(5*time.Minute, expires.Sub(got)/4)
	return !time.Now().Add(margin).Before(expires)
}

// OpenSnapshotURL opens a snapshot as an engine source through a URL: a
// mover reading what the driver granted. The blob must hold at least
// Size bytes.
func OpenSnapshotURL(ctx context.Context, o URLSnapshot) (*SnapshotSource, error) {
	ro := o.Read.withDefaults()
	rp := readPolicy{attempts: max(ro.MaxRetries, 0) + 1, delay: ro.RetryDelay, maxDelay: ro.MaxRetryDelay}
	src := &SnapshotSource{obj: o.Name, size: o.Size, rp: rp, thr: ro.throttle}
	cur, got, last := o.Access, time.Now(), ""
	src.access = func(ctx context.Context, force bool) (*pageblob.Client, error) {
		if force || renewDue(cur.Expires, got) {
			if o.Renew == nil {
				return nil, fmt.Errorf("azure read %s: %w: the URL handed over ended or was refused, and cannot be renewed", o.Name, ErrAccessDenied)
			}
			a, err := o.Renew(ctx, force)
			if err != nil {
				return nil, fmt.Errorf("azure read %s: renew the access: %w", o.Name, err)
			}
			cur, got = a, time.Now()
		}
		if u := cur.URL.Reveal(); u != last || src.pb == nil {
			pb, err := pageblob.NewClientWithNoCredential(u, &pageblob.ClientOptions{ClientOptions: ro.clientOptions()})
			if err != nil {
				return nil, fmt.Errorf("azure read %s: the URL handed over is not a blob URL: %w", o.Name, errOneLine{err})
			}
			src.pb, last = pb, u
		}
		return src.pb, nil
	}
	length, err := src.blobLength(ctx)
	if err != nil {
		return nil, wrapErr("open snapshot", o.Name, err)
	}
	if length < o.Size {
		return nil, &StorageError{Op: "open snapshot", Object: o.Name, Kind: ErrBadFooter,
			Hint: fmt.Sprintf("the blob holds %d bytes, less than the disk's %d; take a new snapshot", length, o.Size)}
	}
	return src, nil
}
