package labarm

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/pageblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/sas"
)

func (s *Server) snapID(sn *snapRec) string {
	return s.resourceID(sn.RG, "Microsoft.Compute/snapshots", sn.Name)
}

// sasActive reports whether the snapshot has a SAS that has not ended.
func (s *Server) sasActive(sn *snapRec) bool {
	return !sn.SASExpiry.IsZero() && s.now().Before(sn.SASExpiry)
}

// snapJSON is a snapshot as DiskRP answers it
// (Snapshot_GetIncrementalSnapshot.json).
func (s *Server) snapJSON(sn *snapRec, provisioning string) map[string]any {
	state := "Unattached"
	if s.sasActive(sn) {
		state = "ActiveSAS"
	}
	props := map[string]any{
		"creationData": map[string]any{"createOption": "Copy", "sourceResourceId": sn.SourceID, "sourceUniqueId": sn.SourceUniqueID},
		"incremental":  true, "incrementalSnapshotFamilyId": sn.FamilyID,
		"diskSizeGB": diskGB(sn.SizeBytes), "diskSizeBytes": sn.SizeBytes, "diskState": state,
		"uniqueId": sn.UniqueID, "timeCreated": armTime(sn.Created), "provisioningState": provisioning,
		"encryption":          map[string]any{"type": "EncryptionAtRestWithPlatformKey"},
		"networkAccessPolicy": "AllowAll",
	}
	if sn.OSType != "" {
		props["osType"] = sn.OSType
		props["hyperVGeneration"] = "V1"
	}
	if sn.AuthMode != "" {
		props["dataAccessAuthMode"] = sn.AuthMode
	}
	m := map[string]any{"id": s.snapID(sn), "name": sn.Name, "type": "Microsoft.Compute/snapshots", "location": sn.Location,
		"properties": props}
	if len(sn.Tags) > 0 {
		m["tags"] = sn.Tags
	}
	return m
}

func (s *Server) serveSnapshot(w http.ResponseWriter, r *http.Request, rt route) *apiError {
	switch {
	case rt.name == "" && r.Method == http.MethodGet:
		snaps, err := list[snapRec](s.st, kindSnap, rt.rg)
		if err != nil {
			return internal(err)
		}
		items := make([]any, 0, len(snaps))
		for _, sn := range snaps {
			items = append(items, s.snapJSON(sn, "Succeeded"))
		}
		return s.page(w, r, items)
	case rt.name == "":
		return methodNotAllowed(r, rt)
	case rt.action == "" && r.Method == http.MethodGet:
		sn, err := get[snapRec](s.st, kindSnap, rt.rg, rt.name)
		if err != nil {
			return internal(err)
		}
		if sn == nil {
			return notFound(rt)
		}
		writeJSON(w, 200, s.snapJSON(sn, "Succeeded"))
		return nil
	case rt.action == "" && r.Method == http.MethodPut:
		return s.putSnapshot(w, r, rt)
	case rt.action == "" && r.Method == http.MethodDelete:
		return s.deleteSnapshot(w, r, rt)
	case strings.EqualFold(rt.action, "beginGetAccess") && r.Method == http.MethodPost:
		return s.grantAccess(w, r, rt)
	case strings.EqualFold(rt.action, "endGetAccess") && r.Method == http.MethodPost:
		return s.revokeAccess(w, r, rt)
	}
	return methodNotAllowed(r, rt)
}

// snapshotRequest is the part of a snapshot PUT the lab reads.
type snapshotRequest struct {
	Location string             `json:"location"`
	Tags     map[string]*string `json:"tags"`
	SKU      *struct {
		Name string `json:"name"`
	} `json:"sku"`
	Properties *struct {
		CreationData *struct {
			CreateOption     string `json:"createOption"`
			SourceResourceID string `json:"sourceResourceId"`
		} `json:"creationData"`
		Incremental        *bool  `json:"incremental"`
		DataAccessAuthMode string `json:"dataAccessAuthMode"`
	} `json:"properties"`
}

// putSnapshot makes an incremental snapshot of a disk: a blob snapshot of
// the disk's blob, taken now. Putting an existing snapshot of the same
// disk again updates its tags only.
func (s *Server) putSnapshot(w http.ResponseWriter, r *http.Request, rt route) *apiError {
	var req snapshotRequest
	if e := readBody(r, &req); e != nil {
		return e
	}
	if req.Location == "" {
		return errf(400, "LocationRequired", "The location property is required for this definition.")
	}
	p := req.Properties
	if p == nil || p.CreationData == nil || p.CreationData.SourceResourceID == "" {
		return errf(400, "InvalidParameter", "Required parameter 'properties.creationData.sourceResourceId' is missing (null).")
	}
	if !strings.EqualFold(p.CreationData.CreateOption, "Copy") {
		return errf(400, "InvalidParameter", "The lab makes incremental snapshots of a disk only: createOption must be Copy, not '%s'.", p.CreationData.CreateOption)
	}
	if p.Incremental == nil || !*p.Incremental {
		return errf(400, "InvalidParameter", "The lab makes incremental snapshots only: set properties.incremental to true.")
	}
	tags := map[string]string{}
	for k, v := range req.Tags {
		if v != nil {
			tags[k] = *v
		}
	}
	unlock, err := s.st.lock()
	if err != nil {
		return internal(err)
	}
	defer unlock()
	d, e := s.diskByID(p.CreationData.SourceResourceID)
	if e != nil {
		return e
	}
	sn, err := get[snapRec](s.st, kindSnap, rt.rg, rt.name)
	if err != nil {
		return internal(err)
	}
	if sn != nil {
		if !strings.EqualFold(sn.SourceID, s.diskID(d)) || sn.SourceUniqueID != d.UniqueID {
			return errf(409, "PropertyChangeNotAllowed", "Changing property 'sourceResourceId' is not allowed for snapshot %s.", rt.name)
		}
		sn.Tags = tags
	} else {
		if e := s.paceSnapshot(d); e != nil {
			return e
		}
		resp, err := s.blob(d.Container, d.Blob).CreateSnapshot(r.Context(), nil)
		if err != nil || resp.Snapshot == nil {
			return internal(err)
		}
		d.SnapshotTimes = append(d.SnapshotTimes, s.now())
		if err := s.st.put(kindDisk, d.RG, d.Name, d); err != nil {
			return internal(err)
		}
		sku, mode := "Standard_LRS", d.AuthMode
		if req.SKU != nil && req.SKU.Name != "" {
			sku = req.SKU.Name
		}
		// The snapshot keeps its disk's dataAccessAuthMode unless the PUT
		// sets one: the lab's choice (whether Azure copies it is not
		// documented), so an Entra-only disk's snapshots are Entra-only.
		if p.DataAccessAuthMode != "" {
			mode = p.DataAccessAuthMode
		}
		sn = &snapRec{Name: rt.name, RG: rt.rg, Location: req.Location, SKU: sku, UniqueID: newGUID(), FamilyID: d.FamilyID,
			SourceID: s.diskID(d), SourceUniqueID: d.UniqueID, Created: s.now(), SizeBytes: d.SizeBytes, OSType: d.OSType,
			AuthMode: mode, Tags: tags, Container: d.Container, Blob: d.Blob, BlobSnapshot: *resp.Snapshot}
	}
	if err := s.st.put(kindSnap, rt.rg, rt.name, sn); err != nil {
		return internal(err)
	}
	s.accept(w, r, rt, sn.Location, http.StatusAccepted, s.snapJSON(sn, "Updating"), nil)
	return nil
}

// paceSnapshot refuses a snapshot beyond Azure's rate: SnapshotsPerWindow
// per disk within SnapshotWindow. It drops creations older than the
// window from d.
func (s *Server) paceSnapshot(d *diskRec) *apiError {
	since := s.now().Add(-s.o.SnapshotWindow)
	keep := d.SnapshotTimes[:0]
	for _, t := range d.SnapshotTimes {
		if t.After(since) {
			keep = append(keep, t)
		}
	}
	d.SnapshotTimes = keep
	if len(keep) < s.o.SnapshotsPerWindow {
		return nil
	}
	retry := keep[len(keep)-s.o.SnapshotsPerWindow].Add(s.o.SnapshotWindow)
	// The lab's choice of code and words: Azure documents the limit, not
	// its error.
	return errf(409, "OperationNotAllowed", "Up to %d incremental snapshots per disk can be created every %v; disk '%s' had %d. Retry after %s.",
		s.o.SnapshotsPerWindow, s.o.SnapshotWindow, d.Name, len(keep), retry.Format(time.RFC3339))
}

func (s *Server) deleteSnapshot(w http.ResponseWriter, r *http.Request, rt route) *apiError {
	unlock, err := s.st.lock()
	if err != nil {
		return internal(err)
	}
	defer unlock()
	sn, err := get[snapRec](s.st, kindSnap, rt.rg, rt.name)
	if err != nil {
		return internal(err)
	}
	if sn == nil {
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	// Whether Azure refuses to delete a snapshot with an active SAS, or
	// waits, or revokes it, is unconfirmed (arm-notes.md §7.5): the lab
	// refuses, so a client that forgets to revoke first is caught.
	if s.sasActive(sn) {
		return errf(409, "OperationNotAllowed", "Snapshot '%s' has an active SAS until %s; revoke access (endGetAccess) before deleting it.", sn.Name, sn.SASExpiry.Format(time.RFC3339))
	}
	pb, err := s.blob(sn.Container, sn.Blob).WithSnapshot(sn.BlobSnapshot)
	if err == nil {
		_, err = pb.Delete(r.Context(), nil)
	}
	if err != nil && !strings.Contains(err.Error(), "BlobNotFound") {
		return internal(err)
	}
	if err := s.st.del(kindSnap, rt.rg, rt.name); err != nil {
		return internal(err)
	}
	if err := s.deleteDiskBlob(r.Context(), sn.Container, sn.Blob); err != nil {
		return internal(err)
	}
	s.accept(w, r, rt, sn.Location, http.StatusAccepted, nil, nil)
	return nil
}

// grantAccess gives a read SAS on the snapshot's blob snapshot, through
// the front. A repeat grant gives a fresh SAS; at most MaxActiveSAS
// snapshots of one disk have one at once.
func (s *Server) grantAccess(w http.ResponseWriter, r *http.Request, rt route) *apiError {
	var req struct {
		Access            string `json:"access"`
		DurationInSeconds int64  `json:"durationInSeconds"`
	}
	if e := readBody(r, &req); e != nil {
		return e
	}
	if !strings.EqualFold(req.Access, "Read") {
		return errf(400, "InvalidParameter", "A snapshot can be granted Read access only, not '%s'.", req.Access)
	}
	if req.DurationInSeconds <= 0 {
		return errf(400, "InvalidParameter", "durationInSeconds must be a positive number of seconds, not %d.", req.DurationInSeconds)
	}
	unlock, err := s.st.lock()
	if err != nil {
		return internal(err)
	}
	defer unlock()
	sn, err := get[snapRec](s.st, kindSnap, rt.rg, rt.name)
	if err != nil {
		return internal(err)
	}
	if sn == nil {
		return notFound(rt)
	}
	if !s.sasActive(sn) {
		all, err := list[snapRec](s.st, kindSnap, "")
		if err != nil {
			return internal(err)
		}
		active := 0
		for _, o := range all {
			if o.FamilyID == sn.FamilyID && s.sasActive(o) {
				active++
			}
		}
		if active >= s.o.MaxActiveSAS {
			return errf(409, "OperationNotAllowed", "At most %d snapshots of one disk can have an active SAS at a time; %d of disk '%s' have one. Revoke access (endGetAccess) to one of them first.",
				s.o.MaxActiveSAS, active, sn.SourceID)
		}
	}
	expiry := s.now().Add(time.Duration(req.DurationInSeconds) * time.Second)
	u, err := s.snapshotSAS(sn, expiry)
	if err != nil {
		return internal(err)
	}
	if expiry.After(sn.SASExpiry) {
		sn.SASExpiry = expiry
	}
	if err := s.st.put(kindSnap, rt.rg, rt.name, sn); err != nil {
		return internal(err)
	}
	result := map[string]any{"accessSAS": u}
	s.accept(w, r, rt, sn.Location, http.StatusAccepted, nil, func(context.Context) (any, *apiError) { return result, nil })
	return nil
}

// snapshotSAS is a read SAS on the snapshot's blob snapshot, ending at
// expiry, pointing at the front.
func (s *Server) snapshotSAS(sn *snapRec, expiry time.Time) (string, error) {
	pb, err := s.blob(sn.Container, sn.Blob).WithSnapshot(sn.BlobSnapshot)
	if err != nil {
		return "", err
	}
	start := s.now().Add(-time.Minute)
	u, err := pb.GetSASURL(sas.BlobPermissions{Read: true}, expiry, &blob.GetSASURLOptions{StartTime: &start})
	if err != nil {
		return "", err
	}
	if rest, ok := strings.CutPrefix(u, s.o.AzuriteURL); ok {
		u = s.o.BlobURL + rest
	}
	return u, nil
}

func (s *Server) revokeAccess(w http.ResponseWriter, r *http.Request, rt route) *apiError {
	unlock, err := s.st.lock()
	if err != nil {
		return internal(err)
	}
	defer unlock()
	sn, err := get[snapRec](s.st, kindSnap, rt.rg, rt.name)
	if err != nil {
		return internal(err)
	}
	if sn == nil {
		return notFound(rt)
	}
	sn.SASExpiry = time.Time{}
	if err := s.st.put(kindSnap, rt.rg, rt.name, sn); err != nil {
		return internal(err)
	}
	s.accept(w, r, rt, sn.Location, http.StatusAccepted, nil, nil)
	return nil
}

// blob is the page blob container/name in Azurite.
func (s *Server) blob(container, name string) *pageblob.Client {
	return s.svc.NewContainerClient(container).NewPageBlobClient(name)
}
