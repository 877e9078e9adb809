package azure

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/pageblob"
	"github.com/failback/failback/vdisk"
)

// Disk is an unmanaged VM disk: a page blob holding a fixed VHD (the
// virtual disk's bytes, then a 512-byte footer). Open it with OpenDisk,
// which checks all of that.
type Disk struct {
	s         *Storage
	container string
	name      string
	pb        *pageblob.Client
	blobSize  int64
	footer    *vdisk.VHDFooter
	leaseID   string
	// LeaseState is the blob's lease state when opened ("available",
	// "leased", "broken", ...); a running VM holds a lease.
	LeaseState string
}

// OpenDisk opens and validates the disk container/name: it must be a page
// blob ending in a valid fixed-VHD footer whose size matches the blob.
func (s *Storage) OpenDisk(ctx context.Context, container, name string) (*Disk, error) {
	obj := container + "/" + name
	if err := checkUnmanaged(s.svc.URL(), container, name); err != nil {
		return nil, err
	}
	pb := s.container(container).NewPageBlobClient(name)
	props, err := pb.GetProperties(ctx, nil)
	if err != nil {
		if statusOf(err) == 404 {
			hint := "no such blob; check the blob name (the VM's disk URL is https://<account>.blob.core.windows.net/<container>/<blob>.vhd); only unmanaged page-blob disks are supported"
			if _, cerr := s.container(container).GetProperties(ctx, nil); statusOf(cerr) == 404 {
				hint = "no such container in " + s.URL() + "; check the storage account and container name"
			}
			return nil, &StorageError{Op: "open disk", Object: obj, Status: 404, Kind: ErrNotFound, Err: err, Hint: hint}
		}
		return nil, wrapErr("open disk", obj, err)
	}
	if props.BlobType == nil || *props.BlobType != blob.BlobTypePageBlob {
		kind := "unknown"
		if props.BlobType != nil {
			kind = string(*props.BlobType)
		}
		return nil, &StorageError{Op: "open disk", Object: obj, Kind: ErrNotPageBlob,
			Hint: fmt.Sprintf("it is a %s; only unmanaged disks stored as page blobs (fixed VHD) are supported: point the configuration at the VM's .vhd page blob, or for a managed disk export it to a page blob first", kind)}
	}
	d := &Disk{s: s, container: container, name: name, pb: pb}
	if props.ContentLength != nil {
		d.blobSize = *props.ContentLength
	}
	if props.LeaseState != nil {
		d.LeaseState = string(*props.LeaseState)
	}
	d.footer, err = readFooter(ctx, pb, obj, d.blobSize, s.readPolicy())
	if err != nil {
		return nil, err
	}
	return d, nil
}

// readFooter reads and checks the last 512 bytes of a blob of the given
// length.
func readFooter(ctx context.Context, pb *pageblob.Client, obj string, blobSize int64, rp readPolicy) (*vdisk.VHDFooter, error) {
	bad := func(why string, err error) error {
		hint := "the blob must be a fixed VHD, as Azure stores unmanaged disks (convert with `qemu-img convert -O vpc -o subformat=fixed,force_size=on`)"
		if why != "" {
			hint = why + "; " + hint
		}
		return &StorageError{Op: "open disk", Object: obj, Kind: ErrBadFooter, Err: err, Hint: hint}
	}
	if blobSize < 2*vdisk.VHDFooterSize || blobSize%pageSize != 0 {
		return nil, bad(fmt.Sprintf("blob length %d is too small or not a whole number of 512-byte pages", blobSize), nil)
	}
	buf := make([]byte, vdisk.VHDFooterSize)
	if err := downloadRange(ctx, pb, obj, buf, blobSize-vdisk.VHDFooterSize, rp, nil); err != nil {
		return nil, err
	}
	f, err := vdisk.ParseVHDFooter(buf)
	if err != nil {
		return nil, bad("", err)
	}
	if f.DiskType != vdisk.VHDTypeFixed {
		return nil, bad(fmt.Sprintf("the footer says disk type %d (dynamic or differencing), not fixed", f.DiskType), nil)
	}
	if int64(f.CurrentSize)+vdisk.VHDFooterSize != blobSize {
		return nil, bad(fmt.Sprintf("the footer's virtual size %d plus the 512-byte footer is not the blob length %d", f.CurrentSize, blobSize), nil)
	}
	return f, nil
}

// checkUnmanaged refuses references that look like managed disks: an ARM
// disk resource id, or a managed disk's export URL.
func checkUnmanaged(serviceURL, container, name string) error {
	ref := container + "/" + name
	lower := strings.ToLower(ref)
	managed := strings.Contains(lower, "microsoft.compute/disks") || strings.Contains(lower, "/subscriptions/")
	if u, err := url.Parse(serviceURL); err == nil {
		h := strings.ToLower(u.Hostname())
		if strings.HasPrefix(h, "md-") || strings.HasSuffix(h, ".blob.storage.azure.net") {
			managed = true
		}
	}
	if managed {
		return &StorageError{Op: "open disk", Object: ref, Kind: ErrNotPageBlob,
			Hint: "this looks like a managed disk; only unmanaged disks (page blobs in your storage account) are supported: export the managed disk to a page blob (az disk grant-access, then copy the VHD into a container) and use that blob"}
	}
	return nil
}

// Name is container/blob, for messages.
func (d *Disk) Name() string { return d.container + "/" + d.name }

// Container and Blob name the disk.
func (d *Disk) Container() string { return d.container }

// Blob is the blob name inside the container.
func (d *Disk) Blob() string { return d.name }

// VirtualSize is the disk size the VM sees (the blob less the footer).
func (d *Disk) VirtualSize() int64 { return int64(d.footer.CurrentSize) }

// BlobSize is the page blob's length, footer included.
func (d *Disk) BlobSize() int64 { return d.blobSize }

// Footer is the validated VHD footer.
func (d *Disk) Footer() vdisk.VHDFooter { return *d.footer }

// WithLease returns the disk with a lease id that writes, metadata
// changes and deletes will carry (a blob leased by us).
func (d *Disk) WithLease(id string) *Disk {
	c := *d
	c.leaseID = id
	return &c
}

func (d *Disk) access() *blob.AccessConditions {
	if d.leaseID == "" {
		return nil
	}
	id := d.leaseID
	return &blob.AccessConditions{LeaseAccessConditions: &blob.LeaseAccessConditions{LeaseID: &id}}
}

// Metadata returns the blob's metadata with lower-case keys (Azurite
// capitalises them; Azure keeps them as written).
func (d *Disk) Metadata(ctx context.Context) (map[string]string, error) {
	props, err := d.pb.GetProperties(ctx, nil)
	if err != nil {
		return nil, wrapErr("get metadata", d.Name(), err)
	}
	return normMetadata(props.Metadata), nil
}

// SetMetadata merges kv into the blob's metadata (keys compared without
// case; an empty value removes a key).
func (d *Disk) SetMetadata(ctx context.Context, kv map[string]string) error {
	cur, err := d.Metadata(ctx)
	if err != nil {
		return err
	}
	for k, v := range kv {
		k = strings.ToLower(k)
		if v == "" {
			delete(cur, k)
		} else {
			cur[k] = v
		}
	}
	_, err = d.pb.SetMetadata(ctx, toMetadata(cur), &blob.SetMetadataOptions{AccessConditions: d.access()})
	return wrapErr("set metadata", d.Name(), err)
}

// MetadataValue looks key up without regard to case.
func MetadataValue(m map[string]string, key string) (string, bool) {
	if v, ok := m[key]; ok {
		return v, true
	}
	for k, v := range m {
		if strings.EqualFold(k, key) {
			return v, true
		}
	}
	return "", false
}

func normMetadata(m map[string]*string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		if v != nil {
			out[strings.ToLower(k)] = *v
		}
	}
	return out
}

func toMetadata(m map[string]string) map[string]*string {
	out := make(map[string]*string, len(m))
	for k, v := range m {
		out[strings.ToLower(k)] = &v
	}
	return out
}
