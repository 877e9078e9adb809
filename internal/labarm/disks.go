package labarm

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/failback/failback/azure"
)

// SKUs a lab disk may have (DiskStorageAccountTypes).
var diskSKUs = []string{"Standard_LRS", "Premium_LRS", "StandardSSD_LRS", "UltraSSD_LRS", "Premium_ZRS", "StandardSSD_ZRS", "PremiumV2_LRS"}

// CreateDisk makes an empty managed disk rg/name of size bytes (a whole
// number of MiB; Azure's are whole GiB, the lab allows small disks for
// tests) with storage type sku ("" for Premium_LRS), unattached, in
// Options.Location. It returns the disk's ARM id.
func (s *Server) CreateDisk(ctx context.Context, rg, name string, size int64, sku string) (string, error) {
	if e := checkNames(rg, name); e != nil {
		return "", fmt.Errorf("lab create disk: %s", e.message)
	}
	if size <= 0 || size%(1<<20) != 0 {
		return "", fmt.Errorf("lab create disk %s/%s: size %d is not a positive whole number of MiB", rg, name, size)
	}
	if sku == "" {
		sku = "Premium_LRS"
	}
	if !containsFold(diskSKUs, sku) {
		return "", fmt.Errorf("lab create disk %s/%s: sku %q is not one of %s", rg, name, sku, strings.Join(diskSKUs, ", "))
	}
	unlock, err := s.st.lock()
	if err != nil {
		return "", err
	}
	defer unlock()
	if old, err := get[diskRec](s.st, kindDisk, rg, name); err != nil || old != nil {
		if err == nil {
			err = fmt.Errorf("lab create disk %s/%s: a disk of that name exists already", rg, name)
		}
		return "", err
	}
	uid := newGUID()
	d := &diskRec{Name: name, RG: rg, Location: s.o.Location, SKU: sku, SizeBytes: size, UniqueID: uid, FamilyID: newGUID(),
		Created: s.now(), Container: s.o.Container, Blob: strings.ToLower(rg+"/"+name) + "-" + uid[:8] + ".vhd"}
	if err := s.stor.CreateContainer(ctx, d.Container); err != nil {
		return "", fmt.Errorf("lab create disk %s/%s: %w", rg, name, err)
	}
	if _, err := s.stor.CreateDisk(ctx, d.Container, d.Blob, size, azure.CreateDiskOptions{}); err != nil {
		return "", fmt.Errorf("lab create disk %s/%s: %w", rg, name, err)
	}
	if err := s.st.put(kindDisk, rg, name, d); err != nil {
		return "", err
	}
	return s.diskID(d), nil
}

// DiskBlob names the page blob (in the lab's storage account) that holds
// managed disk rg/name as a fixed VHD: writers and tests write the disk
// there, as its VM's guest would.
func (s *Server) DiskBlob(rg, name string) (container, blob string, err error) {
	d, err := get[diskRec](s.st, kindDisk, rg, name)
	if err != nil {
		return "", "", err
	}
	if d == nil {
		return "", "", fmt.Errorf("lab disk %s/%s: %w (create it with CreateDisk)", rg, name, azure.ErrNotFound)
	}
	return d.Container, d.Blob, nil
}

// SetDataAccessAuthMode sets a disk's dataAccessAuthMode:
// "AzureActiveDirectory" (exporting it needs Entra ID) or "None" ("" clears
// it, as a disk that never had it set). Snapshots made later inherit it.
func (s *Server) SetDataAccessAuthMode(rg, name, mode string) error {
	if mode != "" && mode != "None" && mode != "AzureActiveDirectory" {
		return fmt.Errorf("lab disk %s/%s: dataAccessAuthMode %q: want AzureActiveDirectory, None or empty", rg, name, mode)
	}
	unlock, err := s.st.lock()
	if err != nil {
		return err
	}
	defer unlock()
	d, err := get[diskRec](s.st, kindDisk, rg, name)
	if err != nil {
		return err
	}
	if d == nil {
		return fmt.Errorf("lab disk %s/%s: %w", rg, name, azure.ErrNotFound)
	}
	d.AuthMode = mode
	return s.st.put(kindDisk, rg, name, d)
}

func (s *Server) diskID(d *diskRec) string {
	return s.resourceID(d.RG, "Microsoft.Compute/disks", d.Name)
}

// diskGB is the size in whole GiB, rounded up (a lab disk may be smaller
// than 1 GiB).
func diskGB(size int64) int64 { return (size + 1<<30 - 1) >> 30 }

// diskState is Attached (to a running or stopped VM), Reserved (to a
// deallocated one) or Unattached.
func (s *Server) diskState(ctx context.Context, d *diskRec) string {
	if d.ManagedBy == "" {
		return "Unattached"
	}
	if vm := s.vmByID(d.ManagedBy); vm != nil {
		if p, err := s.o.Compute.State(ctx, vm.ComputeName); err == nil && p == azure.PowerDeallocated {
			return "Reserved"
		}
	}
	return "Attached"
}

// diskJSON is a disk as DiskRP answers it (Disk_Get.json).
func (s *Server) diskJSON(ctx context.Context, d *diskRec) map[string]any {
	props := map[string]any{
		"creationData":      map[string]any{"createOption": "Empty"},
		"diskSizeGB":        diskGB(d.SizeBytes),
		"diskSizeBytes":     d.SizeBytes,
		"diskState":         s.diskState(ctx, d),
		"uniqueId":          d.UniqueID,
		"timeCreated":       armTime(d.Created),
		"provisioningState": "Succeeded",
		"encryption":        map[string]any{"type": "EncryptionAtRestWithPlatformKey"},
	}
	if d.OSType != "" {
		props["osType"] = d.OSType
		props["hyperVGeneration"] = "V1"
	}
	if d.AuthMode != "" {
		props["dataAccessAuthMode"] = d.AuthMode
	}
	m := map[string]any{"id": s.diskID(d), "name": d.Name, "type": "Microsoft.Compute/disks", "location": d.Location,
		"sku": map[string]any{"name": d.SKU}, "properties": props}
	if len(d.Tags) > 0 {
		m["tags"] = d.Tags
	}
	if d.ManagedBy != "" {
		m["managedBy"] = d.ManagedBy
	}
	return m
}

// serveDisk answers GET of a disk, the list of a group's disks and
// DELETE of a disk.
func (s *Server) serveDisk(w http.ResponseWriter, r *http.Request, rt route) *apiError {
	if r.Method == http.MethodDelete && rt.name != "" && rt.action == "" {
		return s.deleteDisk(w, r, rt)
	}
	if r.Method == http.MethodPut && rt.name != "" && rt.action == "" {
		return s.importDisk(w, r, rt)
	}
	if r.Method != http.MethodGet || rt.action != "" {
		if rt.action != "" {
			return errf(405, "MethodNotAllowed", "The lab serves no %s on disks: grant access to a snapshot of the disk instead.", rt.action)
		}
		return methodNotAllowed(r, rt)
	}
	if rt.name == "" {
		disks, err := list[diskRec](s.st, kindDisk, rt.rg)
		if err != nil {
			return internal(err)
		}
		items := make([]any, 0, len(disks))
		for _, d := range disks {
			items = append(items, s.diskJSON(r.Context(), d))
		}
		return s.page(w, r, items)
	}
	d, err := get[diskRec](s.st, kindDisk, rt.rg, rt.name)
	if err != nil {
		return internal(err)
	}
	if d == nil {
		return notFound(rt)
	}
	writeJSON(w, 200, s.diskJSON(r.Context(), d))
	return nil
}

// deleteDisk deletes an unattached disk; its snapshots stay (and with
// them its blob, until the last goes).
func (s *Server) deleteDisk(w http.ResponseWriter, r *http.Request, rt route) *apiError {
	unlock, err := s.st.lock()
	if err != nil {
		return internal(err)
	}
	defer unlock()
	d, err := get[diskRec](s.st, kindDisk, rt.rg, rt.name)
	if err != nil || d == nil {
		return noneToDelete(w, err)
	}
	if d.ManagedBy != "" {
		return errf(409, "OperationNotAllowed", "Disk '%s' is attached to VM '%s'; delete the VM or detach the disk first.", d.Name, d.ManagedBy)
	}
	if err := s.st.del(kindDisk, d.RG, d.Name); err != nil {
		return internal(err)
	}
	if err := s.deleteDiskBlob(r.Context(), d.Container, d.Blob); err != nil {
		return internal(err)
	}
	s.accept(w, r, rt, d.Location, http.StatusAccepted, nil, nil)
	return nil
}

// diskByID finds a disk of the served subscription by its ARM id.
func (s *Server) diskByID(id string) (*diskRec, *apiError) {
	rid, err := azure.ParseResourceID(id)
	if err != nil || !strings.EqualFold(rid.Type, "Microsoft.Compute/disks") {
		return nil, errf(400, "InvalidParameter", "The value '%s' of sourceResourceId is not the id of a managed disk (/subscriptions/S/resourceGroups/G/providers/Microsoft.Compute/disks/NAME).", id)
	}
	if !strings.EqualFold(rid.Subscription, s.o.SubscriptionID) {
		return nil, errf(400, "InvalidParameter", "An incremental snapshot must be made in the subscription of its disk; disk '%s' is in subscription %s.", id, rid.Subscription)
	}
	if checkNames(rid.ResourceGroup, rid.Name) != nil {
		return nil, errf(404, "NotFound", "Resource %s is not found.", id)
	}
	d, err := get[diskRec](s.st, kindDisk, rid.ResourceGroup, rid.Name)
	if err != nil {
		return nil, internal(err)
	}
	if d == nil {
		return nil, errf(404, "NotFound", "Resource %s is not found.", id)
	}
	return d, nil
}

// deleteDiskBlob removes a deleted disk's blob unless snapshots still use
// it (incremental snapshots outlive their disk). Call with the lock held.
func (s *Server) deleteDiskBlob(ctx context.Context, container, blob string) error {
	snaps, err := list[snapRec](s.st, kindSnap, "")
	if err != nil {
		return err
	}
	for _, sn := range snaps {
		if sn.Container == container && sn.Blob == blob {
			return nil
		}
	}
	disks, err := list[diskRec](s.st, kindDisk, "")
	if err != nil {
		return err
	}
	for _, d := range disks {
		if d.Container == container && d.Blob == blob {
			return nil
		}
	}
	return s.stor.DeleteDisk(ctx, container, blob, true)
}

func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}
