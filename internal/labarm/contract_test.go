package labarm

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v6"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/pageblob"
	"github.com/failback/failback/azure"
	"github.com/failback/failback/vdisk"
)

// TestAuthAndVersions: no token is 401 in ARM's error shape; the
// api-version is required and must be the one the SDK sends.
func TestAuthAndVersions(t *testing.T) {
	e := newEnv(t, nil)
	resp, err := httpGet(e.url + e.path("Microsoft.Compute/disks", "x", apiDisks))
	if err != nil {
		t.Fatal(err)
	}
	if resp.status != 401 || resp.code != "AuthenticationFailed" || resp.message == "" {
		t.Fatalf("no token: %+v, want 401 AuthenticationFailed with a message", resp)
	}
	for _, c := range []struct {
		path, code string
		status     int
	}{
		{e.srv.resourceID(e.rg, "Microsoft.Compute/disks", "x"), "MissingApiVersionParameter", 400},
		{e.path("Microsoft.Compute/disks", "x", "2019-01-01"), "InvalidApiVersionParameter", 400},
		{e.path("Microsoft.Compute/disks", "x", apiDisks), "ResourceNotFound", 404},
		{e.path("Microsoft.Compute/galleries", "x", apiDisks), "InvalidResourceType", 400},
		{strings.Replace(e.path("Microsoft.Compute/disks", "x", apiDisks), e.srv.SubscriptionID(), "11111111-1111-1111-1111-111111111111", 1), "SubscriptionNotFound", 404},
	} {
		status, body, _ := e.do("GET", c.path, nil)
		var doc struct {
			Error struct{ Code, Message string }
		}
		_ = json.Unmarshal(body, &doc)
		if status != c.status || doc.Error.Code != c.code || doc.Error.Message == "" {
			t.Errorf("GET %s: %d %s, want %d %s with a message", c.path, status, body, c.status, c.code)
		}
	}
}

// TestDisksAndSnapshotsThroughSDK reads every field failback reads of
// disks and snapshots through armcompute, pages included.
func TestDisksAndSnapshotsThroughSDK(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.PageSize = 2 })
	c := ctx(t)
	const size = 4 << 20
	var ids []string
	for _, n := range []string{"d1", "d2", "d3"} {
		id, err := e.srv.CreateDisk(c, e.rg, n, size, "StandardSSD_LRS")
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	disks, err := armcompute.NewDisksClient(e.srv.SubscriptionID(), azure.LabToken{}, e.armOptions())
	if err != nil {
		t.Fatal(err)
	}
	got, err := disks.Get(c, e.rg, "d1", nil)
	if err != nil {
		t.Fatal(err)
	}
	d := got.Disk
	p := d.Properties
	if *d.ID != ids[0] || *d.Name != "d1" || *d.Location == "" || *d.SKU.Name != armcompute.DiskStorageAccountTypesStandardSSDLRS ||
		*p.DiskSizeBytes != size || *p.DiskSizeGB != 1 || *p.DiskState != armcompute.DiskStateUnattached || p.TimeCreated.IsZero() ||
		*p.UniqueID == "" || *p.CreationData.CreateOption != armcompute.DiskCreateOptionEmpty || d.ManagedBy != nil || p.DataAccessAuthMode != nil {
		t.Fatalf("disk as the SDK reads it: %s", dump(d))
	}
	pages, names := 0, []string{}
	for pager := disks.NewListByResourceGroupPager(e.rg, nil); pager.More(); pages++ {
		page, err := pager.NextPage(c)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range page.Value {
			names = append(names, *v.Name)
		}
	}
	if pages != 2 || strings.Join(names, ",") != "d1,d2,d3" {
		t.Fatalf("list: %d pages, %v; want 2 pages of d1,d2,d3", pages, names)
	}
	if err := e.srv.SetDataAccessAuthMode(e.rg, "d2", "AzureActiveDirectory"); err != nil {
		t.Fatal(err)
	}
	if got, err := disks.Get(c, e.rg, "d2", nil); err != nil || *got.Properties.DataAccessAuthMode != armcompute.DataAccessAuthModeAzureActiveDirectory {
		t.Fatalf("dataAccessAuthMode: %v %s", err, dump(got.Disk))
	}
	if _, err := disks.Get(c, e.rg, "nope", nil); !isCode(err, 404, "ResourceNotFound") {
		t.Fatalf("missing disk: %v", err)
	}
	delp, err := disks.BeginDelete(c, e.rg, "d3", nil)
	poll(t, delp, err)
	if _, err := disks.Get(c, e.rg, "d3", nil); !isCode(err, 404, "ResourceNotFound") {
		t.Fatalf("deleted disk: %v", err)
	}
	gone, err := disks.BeginDelete(c, e.rg, "d3", nil)
	poll(t, gone, err)

	snaps, err := armcompute.NewSnapshotsClient(e.srv.SubscriptionID(), azure.LabToken{}, e.armOptions())
	if err != nil {
		t.Fatal(err)
	}
	body := armcompute.Snapshot{Location: to.Ptr("westeurope"), Tags: map[string]*string{"createdby": to.Ptr("failback")},
		Properties: &armcompute.SnapshotProperties{Incremental: to.Ptr(true),
			CreationData: &armcompute.CreationData{CreateOption: to.Ptr(armcompute.DiskCreateOptionCopy), SourceResourceID: &ids[0]}}}
	for _, n := range []string{"s1", "s2", "s3"} {
		sp, err := snaps.BeginCreateOrUpdate(c, e.rg, n, body, nil)
		r := poll(t, sp, err)
		sn := r.Snapshot
		q := sn.Properties
		if *sn.Name != n || *sn.Tags["createdby"] != "failback" || !*q.Incremental || *q.CreationData.SourceResourceID != ids[0] ||
			*q.CreationData.SourceUniqueID != *p.UniqueID || *q.IncrementalSnapshotFamilyID == "" || q.TimeCreated.IsZero() ||
			*q.DiskSizeBytes != size || *q.ProvisioningState != "Succeeded" || *q.DiskState != armcompute.DiskStateUnattached {
			t.Fatalf("snapshot as the SDK reads it: %s", dump(sn))
		}
	}
	retag := body
	retag.Tags = map[string]*string{"createdby": to.Ptr("failback"), "step": to.Ptr("again")}
	before, _ := snaps.Get(c, e.rg, "s2", nil)
	rp0, err := snaps.BeginCreateOrUpdate(c, e.rg, "s2", retag, nil)
	if r := poll(t, rp0, err); *r.Tags["step"] != "again" || *r.Properties.UniqueID != *before.Properties.UniqueID {
		t.Fatalf("a repeated PUT updates the tags of the same snapshot: %s", dump(r.Snapshot))
	}
	names, pages = nil, 0
	for pager := snaps.NewListByResourceGroupPager(e.rg, nil); pager.More(); pages++ {
		page, err := pager.NextPage(c)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range page.Value {
			names = append(names, *v.Name)
		}
	}
	if pages != 2 || strings.Join(names, ",") != "s1,s2,s3" {
		t.Fatalf("snapshot list: %d pages, %v", pages, names)
	}

	gp, err := snaps.BeginGrantAccess(c, e.rg, "s1", armcompute.GrantAccessData{Access: to.Ptr(armcompute.AccessLevelRead), DurationInSeconds: to.Ptr[int32](60)}, nil)
	grant := poll(t, gp, err)
	if grant.AccessSAS == nil || !strings.HasPrefix(*grant.AccessSAS, e.front+"/") || !strings.Contains(*grant.AccessSAS, "snapshot=") {
		t.Fatalf("grant: %s; want a SAS on a blob snapshot through the front %s", dump(grant), e.front)
	}
	pb, err := pageblob.NewClientWithNoCredential(*grant.AccessSAS, nil)
	if err != nil {
		t.Fatal(err)
	}
	props, err := pb.GetProperties(c, nil)
	if err != nil || *props.ContentLength != size+vdisk.VHDFooterSize {
		t.Fatalf("read through the SAS: %v, length %v; want the disk and its VHD footer", err, props.ContentLength)
	}
	if got, err := snaps.Get(c, e.rg, "s1", nil); err != nil || *got.Properties.DiskState != armcompute.DiskStateActiveSAS {
		t.Fatalf("a granted snapshot is ActiveSAS: %v %s", err, dump(got.Snapshot))
	}
	if _, err := snaps.BeginDelete(c, e.rg, "s1", nil); !isCode(err, 409, "OperationNotAllowed") {
		t.Fatalf("delete with an active SAS: %v, want 409 OperationNotAllowed", err)
	}
	rp, err := snaps.BeginRevokeAccess(c, e.rg, "s1", nil)
	poll(t, rp, err)
	dp, err := snaps.BeginDelete(c, e.rg, "s1", nil)
	poll(t, dp, err)
	if _, err := snaps.Get(c, e.rg, "s1", nil); !isCode(err, 404, "ResourceNotFound") {
		t.Fatalf("deleted snapshot: %v", err)
	}
	bad := body
	bad.Properties = &armcompute.SnapshotProperties{Incremental: to.Ptr(true),
		CreationData: &armcompute.CreationData{CreateOption: to.Ptr(armcompute.DiskCreateOptionCopy), SourceResourceID: to.Ptr(strings.Replace(ids[0], e.srv.SubscriptionID(), "11111111-1111-1111-1111-111111111111", 1))}}
	if _, err := snaps.BeginCreateOrUpdate(c, e.rg, "other", bad, nil); !isCode(err, 400, "InvalidParameter") {
		t.Fatalf("snapshot of another subscription's disk: %v", err)
	}
	bad.Location = nil
	if _, err := snaps.BeginCreateOrUpdate(c, e.rg, "other", bad, nil); !isCode(err, 400, "LocationRequired") {
		t.Fatalf("snapshot without a location: %v", err)
	}
}

func dump(v any) string {
	b, _ := json.MarshalIndent(v, "", " ")
	return string(b)
}

func isCode(err error, status int, code string) bool {
	s, c := errCode(err)
	return s == status && c == code
}
