package labarm

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/failback/failback/azure"
	"github.com/failback/failback/vdisk"
)

// diskImportRequest is the part of a disk PUT the lab serves: a disk
// imported from a VHD page blob (createOption Import), as a recovery
// point of a replica becomes a disk again.
type diskImportRequest struct {
	Location string `json:"location"`
	SKU      *struct {
		Name string `json:"name"`
	} `json:"sku"`
	Tags       map[string]*string `json:"tags"`
	Properties *struct {
		CreationData *struct {
			CreateOption     string `json:"createOption"`
			SourceURI        string `json:"sourceUri"`
			StorageAccountID string `json:"storageAccountId"`
		} `json:"creationData"`
	} `json:"properties"`
}

// importDisk makes a managed disk from a fixed-VHD page blob of the lab's
// storage account (sourceUri, a blob URL of the front or of Azurite): the
// blob is copied into the disk's own blob. Other createOptions are not
// served: the builder makes the lab's disks.
func (s *Server) importDisk(w http.ResponseWriter, r *http.Request, rt route) *apiError {
	var req diskImportRequest
	if e := readBody(r, &req); e != nil {
		return e
	}
	if req.Location == "" {
		return errf(400, "LocationRequired", "The location property is required for this definition.")
	}
	p := req.Properties
	if p == nil || p.CreationData == nil || !strings.EqualFold(p.CreationData.CreateOption, "Import") {
		return errf(400, "InvalidParameter", "The lab creates disks over HTTP only by importing a VHD blob: createOption must be Import.")
	}
	cd := p.CreationData
	if cd.SourceURI == "" || cd.StorageAccountID == "" {
		return errf(400, "InvalidParameter", "Import needs properties.creationData.sourceUri (the VHD blob) and storageAccountId (its storage account).")
	}
	container, blob, e := s.sourceBlob(cd.SourceURI)
	if e != nil {
		return e
	}
	sku := "Standard_LRS"
	if req.SKU != nil && req.SKU.Name != "" {
		sku = req.SKU.Name
	}
	if !containsFold(diskSKUs, sku) {
		return errf(400, "InvalidParameter", "The value '%s' of sku.name is not valid.", sku)
	}
	unlock, err := s.st.lock()
	if err != nil {
		return internal(err)
	}
	defer unlock()
	if old, err := get[diskRec](s.st, kindDisk, rt.rg, rt.name); err != nil || old != nil {
		if err != nil {
			return internal(err)
		}
		return errf(409, "Conflict", "Disk '%s' exists already; the lab does not update disks.", rt.name)
	}
	src, err := s.stor.OpenDisk(r.Context(), container, blob)
	if err != nil {
		return errf(400, "InvalidParameter", "The blob %s cannot be imported: %v", cd.SourceURI, err)
	}
	uid := newGUID()
	d := &diskRec{Name: rt.name, RG: rt.rg, Location: req.Location, SKU: sku, SizeBytes: src.VirtualSize(), UniqueID: uid,
		FamilyID: newGUID(), Created: s.now(), Container: s.o.Container, Blob: strings.ToLower(rt.rg+"/"+rt.name) + "-" + uid[:8] + ".vhd",
		Tags: map[string]string{}}
	for k, v := range req.Tags {
		if v != nil {
			d.Tags[k] = *v
		}
	}
	if err := s.copyBlob(r.Context(), container, blob, d.Container, d.Blob); err != nil {
		return internal(err)
	}
	if err := s.st.put(kindDisk, d.RG, d.Name, d); err != nil {
		return internal(err)
	}
	s.accept(w, r, rt, d.Location, http.StatusAccepted, s.diskJSON(r.Context(), d), nil)
	return nil
}

// sourceBlob reads a blob URL of the lab's account: .../ACCOUNT/CONTAINER/NAME.
func (s *Server) sourceBlob(raw string) (container, blob string, e *apiError) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", "", errf(400, "InvalidParameter", "sourceUri is not a URL.")
	}
	parts := strings.SplitN(strings.TrimPrefix(u.Path, "/"), "/", 3)
	if len(parts) != 3 || parts[1] == "" || parts[2] == "" {
		return "", "", errf(400, "InvalidParameter", "sourceUri %s names no container and blob of the lab's account.", u.Path)
	}
	if u.RawQuery != "" {
		return "", "", errf(400, "InvalidParameter", "sourceUri must name a blob, not a snapshot or a SAS: copy a snapshot to a blob first.")
	}
	name, err := url.PathUnescape(parts[2])
	if err != nil {
		return "", "", errf(400, "InvalidParameter", "sourceUri: %v", err)
	}
	return parts[1], name, nil
}

// copyBlob copies a fixed-VHD page blob into a new one, page range by
// page range, inside the lab's account.
func (s *Server) copyBlob(ctx context.Context, fromC, from, toC, to string) error {
	src, err := s.stor.OpenDisk(ctx, fromC, from)
	if err != nil {
		return err
	}
	if err := s.stor.CreateContainer(ctx, toC); err != nil {
		return err
	}
	dst, err := s.stor.CreateDisk(ctx, toC, to, src.VirtualSize(), azure.CreateDiskOptions{})
	if err != nil {
		return err
	}
	snap, err := src.CreateSnapshot(ctx, azure.SnapshotOptions{Purpose: "lab-import"})
	if err != nil {
		return err
	}
	defer func() { _ = src.DeleteSnapshot(context.WithoutCancel(ctx), snap.ID) }()
	rd, err := src.OpenSnapshot(ctx, snap.ID)
	if err != nil {
		return err
	}
	tg, err := dst.OpenTarget(ctx)
	if err != nil {
		return err
	}
	alloc, err := rd.Allocated(ctx)
	if err != nil {
		return err
	}
	buf := make([]byte, 4<<20)
	for _, e := range vdisk.NormalizeExtents(alloc, rd.Size()) {
		for off := e.Off; off < e.End(); off += int64(len(buf)) {
			n := min(int64(len(buf)), e.End()-off)
			if err := rd.ReadAt(ctx, buf[:n], off); err != nil {
				return err
			}
			if err := tg.WriteAt(ctx, buf[:n], off); err != nil {
				return fmt.Errorf("import into %s/%s: %w", toC, to, err)
			}
		}
	}
	return nil
}
