package azure

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v6"
	"github.com/failback/failback/internal/units"
)

// ManagedOptions say how to reach managed disks and how to read them.
type ManagedOptions struct {
	// ARM reaches Azure Resource Manager (subscription, credential,
	// endpoint override); its ResourceGroup is the default group of a
	// disk whose reference names none.
	ARM ARMOptions
	// SnapshotResourceGroup is where snapshots are made (default: each
	// disk's own group).
	SnapshotResourceGroup string
	// SASDuration is how long one read grant on a snapshot lasts (default
	// 1 h); a reader renews it before it ends.
	SASDuration time.Duration
	// Read says how snapshot data is read through a grant: retries, try
	// timeout, parallel requests and transport (credentials unused: the
	// SAS is the credential).
	Read StorageOptions
	// SnapshotsPerWindow and Window pace snapshots of one disk, as Azure
	// allows (default 7 per 5 minutes).
	SnapshotsPerWindow int
	Window             time.Duration
	// MaxGrants is how many snapshots of one disk may be granted read
	// access at once (default 5, Azure's limit).
	MaxGrants int
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

func (o ManagedOptions) withDefaults() ManagedOptions {
	o.ARM = o.ARM.withDefaults()
	if o.SASDuration <= 0 {
		o.SASDuration = time.Hour
	}
	o.Read = o.Read.withDefaults()
	if o.SnapshotsPerWindow <= 0 {
		o.SnapshotsPerWindow = 7
	}
	if o.Window <= 0 {
		o.Window = 5 * time.Minute
	}
	if o.MaxGrants <= 0 {
		o.MaxGrants = 5
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// ManagedDisks opens managed disks (Microsoft.Compute/disks) as VMDisks:
// incremental snapshots made through ARM, read through a SAS that a
// grant on the snapshot gives, diffed with Get Page Ranges Diff against
// the previous snapshot's SAS. Safe for concurrent use.
type ManagedDisks struct {
	o     ManagedOptions
	disks *armcompute.DisksClient
	snaps *armcompute.SnapshotsClient
	read  StorageOptions
	rp    readPolicy

	mu     sync.Mutex
	grants map[string]*grant    // by snapshot key
	family map[string]semaphore // grant slots by source disk id
	paced  map[string][]pacedSnap
	diffs  map[string]*sync.Mutex // one diff per disk family at a time
}

// NewManagedDisks builds the clients (no request is sent yet).
func NewManagedDisks(o ManagedOptions) (*ManagedDisks, error) {
	if o.ARM.SubscriptionID == "" {
		return nil, errors.New("managed disks: a subscription id is required")
	}
	o = o.withDefaults()
	cred, co, err := o.ARM.client()
	if err != nil {
		return nil, fmt.Errorf("managed disks: %w", err)
	}
	dc, err := armcompute.NewDisksClient(o.ARM.SubscriptionID, cred, co)
	if err != nil {
		return nil, fmt.Errorf("managed disks: %w", err)
	}
	sc, err := armcompute.NewSnapshotsClient(o.ARM.SubscriptionID, cred, co)
	if err != nil {
		return nil, fmt.Errorf("managed disks: %w", err)
	}
	return &ManagedDisks{o: o, disks: dc, snaps: sc, read: o.Read,
		rp:     readPolicy{attempts: max(o.Read.MaxRetries, 0) + 1, delay: o.Read.RetryDelay, maxDelay: o.Read.MaxRetryDelay},
		grants: map[string]*grant{}, family: map[string]semaphore{}, paced: map[string][]pacedSnap{},
		diffs: map[string]*sync.Mutex{}}, nil
}

var _ DiskOpener = (*ManagedDisks)(nil)

// OpenVMDisk opens a managed disk by reference (its ARM id, or its group
// and name).
func (m *ManagedDisks) OpenVMDisk(ctx context.Context, ref DiskRef) (VMDisk, error) {
	if ref.Kind != KindManaged {
		return nil, fmt.Errorf("disk %s: %w: not a managed disk", ref, ErrKindUnsupported)
	}
	rg, name := ref.ResourceGroup, ref.Name
	if ref.ID != "" {
		id, err := ParseResourceID(ref.ID)
		if err != nil {
			return nil, fmt.Errorf("managed disk %s: %w", ref, err)
		}
		rg, name = id.ResourceGroup, id.Name
	}
	if rg == "" {
		rg = m.o.ARM.ResourceGroup
	}
	resp, err := m.disks.Get(ctx, rg, name, nil)
	if err != nil {
		return nil, m.wrapARM("open managed disk", rg+"/"+name, err)
	}
	d := &managedDisk{m: m, disk: resp.Disk, rg: rg, name: name}
	if d.disk.ID == nil {
		return nil, fmt.Errorf("managed disk %s/%s: ARM returned no id", rg, name)
	}
	d.ref = DiskRef{Kind: KindManaged, ResourceGroup: rg, Name: name, ID: *d.disk.ID}
	if d.Size() <= 0 {
		return nil, fmt.Errorf("managed disk %s: ARM returned no size", d.Name())
	}
	return d, nil
}

// managedDisk is a managed disk as ARM described it when it was opened.
type managedDisk struct {
	m        *ManagedDisks
	disk     armcompute.Disk
	rg, name string
	ref      DiskRef
}

var _ VMDisk = (*managedDisk)(nil)

func (d *managedDisk) Ref() DiskRef { return d.ref }

func (d *managedDisk) Name() string { return d.name }

func (d *managedDisk) Size() int64 {
	p := d.disk.Properties
	switch {
	case p == nil:
		return 0
	case p.DiskSizeBytes != nil:
		return *p.DiskSizeBytes
	case p.DiskSizeGB != nil:
		return int64(*p.DiskSizeGB) << 30
	}
	return 0
}

// SKU is the disk's storage type (Premium_LRS, ...).
func (d *managedDisk) SKU() string {
	if d.disk.SKU != nil && d.disk.SKU.Name != nil {
		return string(*d.disk.SKU.Name)
	}
	return ""
}

func (d *managedDisk) state() string {
	if p := d.disk.Properties; p != nil && p.DiskState != nil {
		return string(*p.DiskState)
	}
	return ""
}

// entraOnly reports whether exporting the disk's data requires Entra ID
// (dataAccessAuthMode AzureActiveDirectory), so a plain SAS is refused.
func (d *managedDisk) entraOnly() bool {
	p := d.disk.Properties
	return p != nil && p.DataAccessAuthMode != nil && *p.DataAccessAuthMode == armcompute.DataAccessAuthModeAzureActiveDirectory
}

// Problem says why the disk's snapshots cannot be read through a SAS.
func (d *managedDisk) Problem() error {
	if d.entraOnly() {
		return fmt.Errorf("managed disk %s: exporting its data requires Microsoft Entra ID (dataAccessAuthMode AzureActiveDirectory), and failback reads snapshots through a SAS only: set the disk's data access auth mode to None for the failback (az disk update --name %s --resource-group %s --data-access-auth-mode None), or give the identity the 'Data Operator for Managed Disks' role once failback reads with a token (not yet)", d.name, d.name, d.rg)
	}
	return nil
}

func (d *managedDisk) Describe() string {
	parts := []string{"managed disk"}
	if s := d.SKU(); s != "" {
		parts = append(parts, s)
	}
	parts = append(parts, units.Bytes(d.Size()))
	if st := d.state(); st != "" {
		switch {
		case d.disk.ManagedBy != nil && *d.disk.ManagedBy != "":
			id, _ := ParseResourceID(*d.disk.ManagedBy)
			parts = append(parts, "attached to "+id.Name)
		default:
			parts = append(parts, strings.ToLower(st))
		}
	}
	return strings.Join(parts, ", ")
}

func (d *managedDisk) Metadata(context.Context) (map[string]string, error) {
	out := map[string]string{}
	for k, v := range d.disk.Tags {
		if v != nil {
			out[strings.ToLower(k)] = *v
		}
	}
	return out, nil
}

func (d *managedDisk) OpenWriter(context.Context, WriterOptions) (*PageBlobTarget, error) {
	return nil, fmt.Errorf("managed disk %s: %w: a managed disk takes no writes while it exists as a disk; reverse replication writes to a replica page blob", d.name, ErrNotWritable)
}

// Detach has nothing to do: Azure detaches a deleted VM's managed disks.
func (d *managedDisk) Detach(context.Context) error { return nil }

// snapshotGroup is the resource group the disk's snapshots live in.
func (d *managedDisk) snapshotGroup() string {
	if g := d.m.o.SnapshotResourceGroup; g != "" {
		return g
	}
	return d.rg
}

// Location is the disk's Azure region.
func (d *managedDisk) Location() string { return d.location() }

func (d *managedDisk) location() string {
	if d.disk.Location != nil {
		return *d.disk.Location
	}
	return ""
}

// wrapARM gives a disk or snapshot call's error one line and a next step.
func (m *ManagedDisks) wrapARM(op, what string, err error) error {
	if err == nil {
		return nil
	}
	where := fmt.Sprintf("azure %s %s", op, what)
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: no result within %v; check it in the Azure portal, then retry: %w", where, m.o.ARM.OperationTimeout, err)
	}
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		switch {
		case re.StatusCode == http.StatusNotFound:
			return &StorageError{Op: op, Object: what, Status: 404, Code: re.ErrorCode, Kind: ErrNotFound, Err: errHidden{err},
				Hint: "check the disk's name and resource group (the VM's storage profile names it)"}
		case re.StatusCode == http.StatusUnauthorized || re.StatusCode == http.StatusForbidden:
			return &StorageError{Op: op, Object: what, Status: re.StatusCode, Code: re.ErrorCode, Kind: ErrAccessDenied, Err: errHidden{err},
				Hint: "the identity needs the Disk Snapshot Contributor role (or Contributor) on the disks' and snapshots' resource groups"}
		default:
			msg := armMessage(re)
			if msg == "" {
				msg = "see the activity log in the Azure portal"
			}
			return fmt.Errorf("%s: HTTP %d %s: %s%w", where, re.StatusCode, re.ErrorCode, msg, errHidden{err})
		}
	}
	return fmt.Errorf("%s: %w", where, errOneLine{err})
}

var _ Remover = (*managedDisk)(nil)

// Remove deletes the managed disk (its snapshots stay); gone is fine.
func (d *managedDisk) Remove(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, d.m.o.ARM.OperationTimeout)
	defer cancel()
	p, err := d.m.disks.BeginDelete(ctx, d.rg, d.name, nil)
	if err == nil {
		_, err = p.PollUntilDone(ctx, &runtime.PollUntilDoneOptions{Frequency: d.m.o.ARM.PollInterval})
	}
	if err != nil && statusOf(err) != http.StatusNotFound {
		return d.m.wrapARM("delete managed disk", d.rg+"/"+d.name, err)
	}
	return nil
}
