//go:build unix

package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v6"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v7"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/pageblob"
	"github.com/failback/failback/azure"
	"github.com/failback/failback/crypt"
	"github.com/failback/failback/engine"
	"github.com/failback/failback/internal/azurite"
	"github.com/failback/failback/lab"
)

// The tests read Azure as any client would, never through failback's own
// readers: managed disks through the Azure SDK against the lab's ARM
// endpoint (a fresh incremental snapshot, a read grant on it, azblob reads
// of the SAS URL it returns), the page blob with azblob and the account
// key.

// sdk is the lab's ARM endpoint through the Azure SDK's own clients.
type sdk struct {
	m     *lab.Manifest
	disks *armcompute.DisksClient
	snaps *armcompute.SnapshotsClient
	nics  *armnetwork.InterfacesClient
	pips  *armnetwork.PublicIPAddressesClient
}

func newSDK(t *testing.T, m *lab.Manifest) *sdk {
	t.Helper()
	url := m.ARMEndpoint()
	co := &arm.ClientOptions{ClientOptions: policy.ClientOptions{
		Cloud: cloud.Configuration{ActiveDirectoryAuthorityHost: cloud.AzurePublic.ActiveDirectoryAuthorityHost,
			Services: map[cloud.ServiceName]cloud.ServiceConfiguration{cloud.ResourceManager: {Endpoint: url, Audience: url}}},
		InsecureAllowCredentialWithHTTP: true,
	}, DisableRPRegistration: true}
	s := &sdk{m: m}
	var err error
	cred := azure.LabToken{}
	if s.disks, err = armcompute.NewDisksClient(m.SubscriptionID, cred, co); err == nil {
		if s.snaps, err = armcompute.NewSnapshotsClient(m.SubscriptionID, cred, co); err == nil {
			if s.nics, err = armnetwork.NewInterfacesClient(m.SubscriptionID, cred, co); err == nil {
				s.pips, err = armnetwork.NewPublicIPAddressesClient(m.SubscriptionID, cred, co)
			}
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var poll = &runtime.PollUntilDoneOptions{Frequency: 100 * time.Millisecond}

// notFound reports whether err is ARM's 404.
func notFound(err error) bool {
	var re *azcore.ResponseError
	return errors.As(err, &re) && re.StatusCode == 404
}

// azureDisk is a lab disk as Azure holds it now.
type azureDisk struct {
	// raw reads the disk's bytes; plain reads them decrypted with the lab
	// certificate when the disk is encrypted (else it is raw).
	raw, plain engine.Source
	encrypted  bool
	// blobSize is the length of the blob read: the disk and its VHD footer.
	blobSize int64
	// done ends the grant, deletes the snapshot and drops the key.
	done func()
}

// azureContent reads a lab disk as of now; call done when finished
// (before lab down, which takes Azure away).
func (s *sdk) azureContent(t *testing.T, d lab.Disk) azureDisk {
	t.Helper()
	if d.Managed != "" {
		return s.managedContent(t, d)
	}
	return s.pageBlobContent(t, d)
}

func randomSuffix() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// managedContent takes an incremental snapshot of the managed disk, asks
// ARM for a read grant on it, and reads the SAS URL with azblob.
func (s *sdk) managedContent(t *testing.T, d lab.Disk) azureDisk {
	t.Helper()
	ctx := context.Background()
	rg := s.m.ResourceGroup
	disk, err := s.disks.Get(ctx, rg, d.Managed, nil)
	if err != nil {
		t.Fatalf("managed disk %s: %v", d.Managed, err)
	}
	name := "e2e-" + d.Managed + "-" + randomSuffix()
	cp, err := s.snaps.BeginCreateOrUpdate(ctx, rg, name, armcompute.Snapshot{Location: disk.Location,
		Properties: &armcompute.SnapshotProperties{Incremental: to.Ptr(true),
			CreationData: &armcompute.CreationData{CreateOption: to.Ptr(armcompute.DiskCreateOptionCopy), SourceResourceID: disk.ID}}}, nil)
	if err == nil {
		_, err = cp.PollUntilDone(ctx, poll)
	}
	if err != nil {
		t.Fatalf("snapshot %s: %v", d.Managed, err)
	}
	drop := func() {
		if p, err := s.snaps.BeginRevokeAccess(ctx, rg, name, nil); err == nil {
			_, _ = p.PollUntilDone(ctx, poll)
		}
		if p, err := s.snaps.BeginDelete(ctx, rg, name, nil); err == nil {
			_, _ = p.PollUntilDone(ctx, poll)
		}
	}
	gp, err := s.snaps.BeginGrantAccess(ctx, rg, name, armcompute.GrantAccessData{Access: to.Ptr(armcompute.AccessLevelRead),
		DurationInSeconds: to.Ptr[int32](600)}, nil)
	var grant armcompute.SnapshotsClientGrantAccessResponse
	if err == nil {
		grant, err = gp.PollUntilDone(ctx, poll)
	}
	if err != nil || grant.AccessSAS == nil {
		drop()
		t.Fatalf("read grant on %s: %v", name, err)
	}
	pb, err := pageblob.NewClientWithNoCredential(*grant.AccessSAS, nil)
	if err != nil {
		drop()
		t.Fatal(err)
	}
	src := newBlobSource(t, pb, *disk.Properties.DiskSizeBytes)
	return azureDisk{raw: src, plain: src, blobSize: src.blobSize, done: drop}
}

// pageBlobContent snapshots the page blob with azblob and the account
// key, and reads the snapshot; an encrypted one is decrypted with the lab
// certificate.
func (s *sdk) pageBlobContent(t *testing.T, d lab.Disk) azureDisk {
	t.Helper()
	ctx := context.Background()
	cred, err := blob.NewSharedKeyCredential(azurite.AccountName, azurite.AccountKey)
	if err != nil {
		t.Fatal(err)
	}
	pb, err := pageblob.NewClientWithSharedKeyCredential(fmt.Sprintf("http://127.0.0.1:%d/%s/%s", s.m.Azurite.Port, azurite.AccountName, d.Blob), cred, nil)
	if err != nil {
		t.Fatal(err)
	}
	sn, err := pb.CreateSnapshot(ctx, nil)
	if err != nil {
		t.Fatalf("snapshot %s: %v", d.Blob, err)
	}
	at, err := pb.WithSnapshot(*sn.Snapshot)
	if err != nil {
		t.Fatal(err)
	}
	drop := func() { _, _ = at.BlobClient().Delete(context.Background(), nil) }
	return s.pageBlobAt(t, d, at, at, drop)
}

// pageBlobAt reads a snapshot of a page blob, decrypted with the lab
// certificate when the disk is encrypted (as metaOf's metadata says: a
// snapshot made with metadata of its own has only that); drop is what
// done does besides.
func (s *sdk) pageBlobAt(t *testing.T, d lab.Disk, at, metaOf *pageblob.Client, drop func()) azureDisk {
	t.Helper()
	ctx := context.Background()
	src := newBlobSource(t, at, d.Size)
	ad := azureDisk{raw: src, plain: src, blobSize: src.blobSize, done: drop}
	props, err := metaOf.GetProperties(ctx, nil)
	if err != nil {
		drop()
		t.Fatal(err)
	}
	md := map[string]string{}
	for k, v := range props.Metadata {
		if v != nil {
			md[k] = *v
		}
	}
	meta, err := crypt.ParseMetaStrings(md)
	if errors.Is(err, crypt.ErrNotEncrypted) {
		return ad
	}
	if err != nil {
		drop()
		t.Fatalf("%s: encryption metadata: %v", d.Blob, err)
	}
	u, err := crypt.CheckCertificate(ctx, crypt.NewStore(s.m.Path("certs"), crypt.StoreOptions{}),
		crypt.Check{Thumbprint: meta.Thumbprint, Disks: []crypt.Disk{{Name: d.Blob, Meta: meta}}, Now: time.Now()})
	if err != nil {
		drop()
		t.Fatalf("%s: the lab certificate does not unlock it: %v", d.Blob, err)
	}
	ad.done = func() { drop(); u.Destroy() }
	if ad.plain, err = crypt.DecryptingSource(src, u.Keys[d.Blob]); err != nil {
		ad.done()
		t.Fatal(err)
	}
	ad.encrypted = true
	return ad
}

// blobSource reads the first size bytes of a page blob (a fixed VHD: the
// disk, then its footer) with azblob.
type blobSource struct {
	pb             *pageblob.Client
	size, blobSize int64
}

func newBlobSource(t *testing.T, pb *pageblob.Client, size int64) *blobSource {
	t.Helper()
	props, err := pb.GetProperties(context.Background(), nil)
	if err != nil {
		t.Fatalf("read %s: %v", strings.SplitN(pb.URL(), "?", 2)[0], err)
	}
	return &blobSource{pb: pb, size: size, blobSize: *props.ContentLength}
}

func (b *blobSource) Size() int64 { return b.size }

func (b *blobSource) Allocated(context.Context) ([]engine.Extent, error) {
	return []engine.Extent{{Off: 0, Len: b.size}}, nil
}

func (b *blobSource) ReadAt(ctx context.Context, p []byte, off int64) error {
	resp, err := b.pb.DownloadStream(ctx, &blob.DownloadStreamOptions{Range: blob.HTTPRange{Offset: off, Count: int64(len(p))}})
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, err = io.ReadFull(resp.Body, p)
	return err
}
