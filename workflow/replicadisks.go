package workflow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/failback/failback/azure"
	"github.com/failback/failback/config"
	"github.com/failback/failback/internal/units"
)

// The way back to Azure if the site is lost again: a recovery point of
// reverse replication (every disk of a VM snapshotted together) becomes
// managed disks, ready to attach to a VM in Azure. Each point snapshot is
// first copied into a blob of its own in the same account (server-side),
// then imported (createOption Import). Nothing else changes: the job and
// its replicas stay as they are.

// Importer makes managed disks from VHD blobs (azure.ManagedDisks).
type Importer interface {
	Import(ctx context.Context, o azure.ImportOptions) (azure.DiskRef, error)
}

// ReplicaDisksOptions say which recovery point becomes disks, and where.
type ReplicaDisksOptions struct {
	// Point is the recovery point's time (the newest at or before it);
	// zero takes the newest.
	Point time.Time
	// ResourceGroup and Location of the new disks (default: the group of
	// [azure] and the original disks' location).
	ResourceGroup, Location string
	// DryRun says what would be created and creates nothing.
	DryRun bool
}

// ReplicaDisk is one managed disk made (or to be made) from a point.
type ReplicaDisk struct {
	VM     string `json:"vm"`
	Disk   string `json:"disk"` // the disk it is a copy of
	Name   string `json:"name"` // the new managed disk
	SKU    string `json:"sku"`
	Size   int64  `json:"size"`
	ID     string `json:"id,omitempty"`
	Source string `json:"source"` // the blob it was imported from
}

// ReplicaDisksReport says what MakeReplicaDisks created.
type ReplicaDisksReport struct {
	Job    string        `json:"job"`
	Point  time.Time     `json:"point"`
	DryRun bool          `json:"dry_run"`
	Disks  []ReplicaDisk `json:"disks"`
	// Cost says what the disks cost while they exist.
	Cost string `json:"cost"`
}

// MakeReplicaDisks turns a recovery point of job id into managed disks.
// It reads the job's record from the state folder (it needs no driver)
// and Azure through d (Disks, Replicas, Importer).
func MakeReplicaDisks(ctx context.Context, cfg *config.Config, d Deps, id string, o ReplicaDisksOptions) (ReplicaDisksReport, error) {
	rep := ReplicaDisksReport{Job: id, DryRun: o.DryRun, Disks: []ReplicaDisk{}}
	root := d.StateDir
	if root == "" {
		root = cfg.StateDir
	}
	r, err := readRecord(paths{root: root}, id)
	if err != nil {
		return rep, err
	}
	if o.ResourceGroup == "" {
		o.ResourceGroup = cfg.Azure.ResourceGroup
	}
	var total int64
	for _, vm := range r.VMs {
		p, ok := pickPoint(vm.Points, o.Point)
		if !ok {
			return rep, fmt.Errorf("job %s: VM %s has no recovery point%s yet: run reverse replication (failback reverse %s --once) first", id, vm.Name, atOrBefore(o.Point), id)
		}
		rep.Point = p.At
		for di, dr := range vm.Disks {
			if di >= len(p.Snapshots) {
				return rep, fmt.Errorf("job %s: recovery point %s of %s lacks disk %d", id, p.At.Format(time.DateTime), vm.Name, di)
			}
			rd := ReplicaDisk{VM: vm.Name, Disk: dr.name(), SKU: "Standard_LRS", Size: dr.Size,
				Name: fmt.Sprintf("%s-%s-%s", vm.Name, dr.name(), p.At.UTC().Format("20060102t1504"))}
			rd.Name = strings.TrimSuffix(nameSafe(rd.Name), ".vhd")
			loc := o.Location
			if orig, err := openIfManaged(ctx, d, dr); err == nil && orig != nil {
				if s := orig.SKU(); s != "" {
					rd.SKU = s
				}
				if loc == "" {
					loc = diskLocation(orig)
				}
			}
			if loc == "" {
				return rep, fmt.Errorf("the location of the new disks is not known (the original disk %s is gone): give --location", dr.name())
			}
			total += dr.Size
			if o.DryRun {
				rep.Disks = append(rep.Disks, rd)
				continue
			}
			if err := importPoint(ctx, d, r, vm, dr, di, p, o.ResourceGroup, loc, &rd); err != nil {
				return rep, err
			}
			rep.Disks = append(rep.Disks, rd)
		}
	}
	rep.Cost = fmt.Sprintf("%d managed disk(s), %s in all: each is billed by its size and SKU every month while it exists (Azure's managed disks pricing); delete the ones you do not attach", len(rep.Disks), units.Bytes(total))
	return rep, nil
}

// importPoint copies one disk's point snapshot into a blob and imports it.
func importPoint(ctx context.Context, d Deps, r *jobRecord, vm vmRecord, dr diskRecord, di int, p recoveryPoint, rg, loc string, rd *ReplicaDisk) error {
	if d.Importer == nil {
		return errors.New("managed disks cannot be created: no Azure subscription is configured ([azure] subscription_id)")
	}
	var copyDisk azure.VMDisk
	var err error
	var account string
	switch {
	case dr.Replica.Kind != "":
		if d.Replicas == nil {
			return errors.New("the replicas' storage account is not configured ([reverse.storage] or [azure.storage])")
		}
		copyDisk, err = d.Replicas.Open(ctx, dr.Replica)
		account = d.Replicas.Storage.AccountID()
	default:
		copyDisk, err = d.Disks.OpenVMDisk(ctx, dr.Azure)
		if ds, ok := d.Disks.(*azure.Disks); ok && ds.Storage != nil {
			account = ds.Storage.AccountID()
		}
	}
	if err != nil {
		return fmt.Errorf("the copy of %s %s: %w", vm.Name, dr.name(), err)
	}
	if account == "" {
		return errors.New("importing a blob as a managed disk needs its storage account's ARM id: set account_id in [reverse.storage] (or [azure.storage])")
	}
	pe, ok := copyDisk.(azure.PointExporter)
	if !ok {
		return fmt.Errorf("the copy of %s %s cannot export its recovery points", vm.Name, dr.name())
	}
	blobName := fmt.Sprintf("points/%s/%s/%s.vhd", r.ID, vm.Name, rd.Name)
	src, err := pe.PointBlob(ctx, p.Snapshots[di], blobName)
	if err != nil {
		return fmt.Errorf("recovery point of %s %s: %w", vm.Name, dr.name(), err)
	}
	rd.Source = src
	ref, err := d.Importer.Import(ctx, azure.ImportOptions{ResourceGroup: rg, Name: rd.Name, Location: loc, SKU: rd.SKU,
		SourceURI: src, StorageAccountID: account,
		Tags: map[string]string{azure.MetaCreatedBy: azure.CreatedByValue, azure.MetaJobID: r.ID, "failbackpoint": p.At.UTC().Format(time.RFC3339)}})
	if err != nil {
		return err
	}
	rd.ID = ref.ID
	return nil
}

// openIfManaged opens the original disk when it is a managed disk that
// still exists (nil otherwise).
func openIfManaged(ctx context.Context, d Deps, dr diskRecord) (azure.VMDisk, error) {
	if dr.Azure.Kind != azure.KindManaged || d.Disks == nil {
		return nil, nil
	}
	return d.Disks.OpenVMDisk(ctx, dr.Azure)
}

// diskLocation is a disk's Azure region, when it says.
func diskLocation(d azure.VMDisk) string {
	if l, ok := d.(interface{ Location() string }); ok {
		return l.Location()
	}
	return ""
}

// pickPoint is the newest point at or before at (zero: the newest).
func pickPoint(ps []recoveryPoint, at time.Time) (recoveryPoint, bool) {
	for i := len(ps) - 1; i >= 0; i-- {
		if at.IsZero() || !ps[i].At.After(at) {
			return ps[i], true
		}
	}
	return recoveryPoint{}, false
}

func atOrBefore(at time.Time) string {
	if at.IsZero() {
		return ""
	}
	return " at or before " + at.Format(time.DateTime)
}

// nameSafe keeps an ARM name to letters, digits, '-', '_' and '.', 80 long.
func nameSafe(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			b[i] = '-'
		}
	}
	if len(b) > 80 {
		b = b[:80]
	}
	return string(b)
}

// readRecord reads one job's record from the state folder, read-only.
func readRecord(p paths, id string) (*jobRecord, error) {
	b, err := os.ReadFile(p.record(id))
	if err != nil {
		return nil, fmt.Errorf("job %s: %w (failback jobs lists the jobs)", id, err)
	}
	var r jobRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("job %s: %s is damaged: %w", id, p.record(id), err)
	}
	upgradeRecord(&r)
	return &r, nil
}
