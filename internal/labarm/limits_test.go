package labarm

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v6"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/pageblob"
	"github.com/failback/failback/azure"
)

// counter counts the request lines of the server's log that hold a word.
type counter struct {
	mu    sync.Mutex
	lines []string
}

func (c *counter) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lines = append(c.lines, string(p))
	return len(p), nil
}

func (c *counter) count(word string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, l := range c.lines {
		if strings.Contains(l, word) {
			n++
		}
	}
	return n
}

func snapshotBody(diskID string) armcompute.Snapshot {
	return armcompute.Snapshot{Location: to.Ptr("westeurope"), Properties: &armcompute.SnapshotProperties{Incremental: to.Ptr(true),
		CreationData: &armcompute.CreationData{CreateOption: to.Ptr(armcompute.DiskCreateOptionCopy), SourceResourceID: &diskID}}}
}

// TestSnapshotRateLimit: the 8th snapshot of a disk within the window is
// refused; ManagedDisks.CreateSnapshot waits it out and says so.
func TestSnapshotRateLimit(t *testing.T) {
	const window = 3 * time.Second
	e := newEnv(t, func(o *Options) { o.SnapshotWindow = window })
	c := ctx(t)
	id, err := e.srv.CreateDisk(c, e.rg, "busy", 1<<20, "")
	if err != nil {
		t.Fatal(err)
	}
	snaps, _ := armcompute.NewSnapshotsClient(e.srv.SubscriptionID(), azure.LabToken{}, e.armOptions())
	for i := range 7 {
		p, err := snaps.BeginCreateOrUpdate(c, e.rg, fmt.Sprintf("s%d", i), snapshotBody(id), nil)
		poll(t, p, err)
	}
	_, err = snaps.BeginCreateOrUpdate(c, e.rg, "s7", snapshotBody(id), nil)
	if !isCode(err, 409, "OperationNotAllowed") || !strings.Contains(err.Error(), "Up to 7 incremental snapshots") {
		t.Fatalf("8th snapshot within the window: %v, want 409 OperationNotAllowed", err)
	}
	m := e.managed(func(o *azure.ManagedOptions) { o.Window = window })
	d, err := m.OpenVMDisk(c, azure.DiskRef{Kind: azure.KindManaged, ResourceGroup: e.rg, Name: "busy"})
	if err != nil {
		t.Fatal(err)
	}
	var waited []string
	start := time.Now()
	s, err := d.CreateSnapshot(c, azure.SnapshotOptions{Purpose: "paced", Waiting: func(w time.Duration, why string) {
		waited = append(waited, fmt.Sprintf("%v: %s", w, why))
	}})
	if err != nil {
		t.Fatalf("CreateSnapshot after 7 in the window: %v (it should wait, not fail)", err)
	}
	if len(waited) == 0 || !strings.Contains(waited[0], "7 snapshots of a disk per 3s") || time.Since(start) < window/2 {
		t.Fatalf("CreateSnapshot did not wait and say so: %v after %v", waited, time.Since(start))
	}
	if s.ID == "" {
		t.Fatal("no snapshot id")
	}
}

// TestGrantLimit: a 6th concurrent SAS in one disk family is refused by
// the server; a repeat grant gives a fresh SAS; ManagedDisks never asks
// for a 6th: its 6th reader waits for a slot.
func TestGrantLimit(t *testing.T) {
	log := &counter{}
	e := newEnv(t, func(o *Options) { o.Log = log })
	c := ctx(t)
	id, err := e.srv.CreateDisk(c, e.rg, "fam", 1<<20, "")
	if err != nil {
		t.Fatal(err)
	}
	snaps, _ := armcompute.NewSnapshotsClient(e.srv.SubscriptionID(), azure.LabToken{}, e.armOptions())
	read := armcompute.GrantAccessData{Access: to.Ptr(armcompute.AccessLevelRead), DurationInSeconds: to.Ptr[int32](600)}
	grant := func(name string) (string, error) {
		p, err := snaps.BeginGrantAccess(c, e.rg, name, read, nil)
		if err != nil {
			return "", err
		}
		r, err := p.PollUntilDone(c, nil)
		if err != nil || r.AccessSAS == nil {
			return "", fmt.Errorf("grant %s: %v", name, err)
		}
		return *r.AccessSAS, nil
	}
	var first string
	for i := range 6 {
		p, err := snaps.BeginCreateOrUpdate(c, e.rg, fmt.Sprintf("g%d", i), snapshotBody(id), nil)
		poll(t, p, err)
		if i < 5 {
			u, err := grant(fmt.Sprintf("g%d", i))
			if err != nil {
				t.Fatal(err)
			}
			if i == 0 {
				first = u
			}
		}
	}
	if _, err := grant("g5"); !isCode(err, 409, "OperationNotAllowed") {
		t.Fatalf("6th SAS in the family: %v, want 409 OperationNotAllowed", err)
	}
	time.Sleep(1100 * time.Millisecond) // a fresh SAS ends later, so it differs
	again, err := grant("g0")
	if err != nil || again == first {
		t.Fatalf("a repeat grant must give a fresh SAS: %v (same: %v)", err, again == first)
	}
	for i := range 5 {
		p, err := snaps.BeginRevokeAccess(c, e.rg, fmt.Sprintf("g%d", i), nil)
		poll(t, p, err)
	}

	refused := log.count(" 409 ")
	m := e.managed(nil)
	d, err := m.OpenVMDisk(c, azure.DiskRef{Kind: azure.KindManaged, ResourceGroup: e.rg, Name: "fam"})
	if err != nil {
		t.Fatal(err)
	}
	// The client lists only its own snapshots; read the server's by name.
	var open []*azure.SnapshotSource
	for i := range 5 {
		src, err := d.OpenSnapshot(c, fmt.Sprintf("g%d", i))
		if err != nil {
			t.Fatal(err)
		}
		open = append(open, src)
	}
	done := make(chan error, 1)
	go func() {
		src, err := d.OpenSnapshot(c, "g5")
		if err == nil {
			err = src.Close(c)
		}
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("a 6th reader did not wait for a grant slot: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	if err := open[0].Close(c); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("the 6th reader, once a slot is free: %v", err)
	}
	for _, src := range open[1:] {
		_ = src.Close(c)
	}
	if n := log.count(" 409 ") - refused; n != 0 {
		t.Fatalf("the client was refused %d times; it must wait instead", n)
	}
}

// TestExpiredGrantIsRefusedAndRenewed: Azurite (through the front)
// refuses a SAS after its end; a SnapshotSource renews its grant
// mid-read, ahead of the end or once refused.
func TestExpiredGrantIsRefusedAndRenewed(t *testing.T) {
	log := &counter{}
	e := newEnv(t, func(o *Options) { o.Log = log })
	c := ctx(t)
	id, err := e.srv.CreateDisk(c, e.rg, "short", 2<<20, "")
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("failback"), (2<<20)/8)
	e.write(e.rg, "short", data, 0)
	snaps, _ := armcompute.NewSnapshotsClient(e.srv.SubscriptionID(), azure.LabToken{}, e.armOptions())
	p, err := snaps.BeginCreateOrUpdate(c, e.rg, "snap", snapshotBody(id), nil)
	poll(t, p, err)
	gp, err := snaps.BeginGrantAccess(c, e.rg, "snap", armcompute.GrantAccessData{Access: to.Ptr(armcompute.AccessLevelRead), DurationInSeconds: to.Ptr[int32](1)}, nil)
	g := poll(t, gp, err)
	pb, _ := pageblob.NewClientWithNoCredential(*g.AccessSAS, nil)
	if _, err := pb.GetProperties(c, nil); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)
	if _, err := pb.GetProperties(c, nil); err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("a SAS past its end: %v, want 403", err)
	}
	rp, err := snaps.BeginRevokeAccess(c, e.rg, "snap", nil)
	poll(t, rp, err)

	for _, slow := range []bool{false, true} {
		t.Run(fmt.Sprintf("slowClock=%v", slow), func(t *testing.T) {
			var clock func() time.Time
			if slow {
				// The client's clock runs 10x slow: it trusts a grant past
				// its end, is refused, and renews then.
				start := time.Now()
				clock = func() time.Time { return start.Add(time.Since(start) / 10) }
			}
			m := e.managed(func(o *azure.ManagedOptions) { o.SASDuration = 2 * time.Second; o.Now = clock })
			d, err := m.OpenVMDisk(c, azure.DiskRef{Kind: azure.KindManaged, ResourceGroup: e.rg, Name: "short"})
			if err != nil {
				t.Fatal(err)
			}
			before := log.count("beginGetAccess")
			src, err := d.OpenSnapshot(c, "snap")
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close(c)
			buf := make([]byte, 1<<20)
			for i, off := range []int64{0, 1 << 20} {
				if i > 0 {
					time.Sleep(2500 * time.Millisecond)
				}
				if err := src.ReadAt(c, buf, off); err != nil {
					t.Fatalf("read at %d: %v", off, err)
				}
				if !bytes.Equal(buf, data[off:off+1<<20]) {
					t.Fatalf("read at %d: wrong bytes", off)
				}
			}
			if n := log.count("beginGetAccess") - before; n < 2 {
				t.Fatalf("%d grants for a read that outlived its grant; want a renewal", n)
			}
		})
	}
}

// TestEntraOnlySnapshotRefused: a snapshot of a disk whose
// dataAccessAuthMode is AzureActiveDirectory is refused with the clear
// message, before any grant.
func TestEntraOnlySnapshotRefused(t *testing.T) {
	log := &counter{}
	e := newEnv(t, func(o *Options) { o.Log = log })
	c := ctx(t)
	if _, err := e.srv.CreateDisk(c, e.rg, "entra", 1<<20, ""); err != nil {
		t.Fatal(err)
	}
	if err := e.srv.SetDataAccessAuthMode(e.rg, "entra", "AzureActiveDirectory"); err != nil {
		t.Fatal(err)
	}
	d, err := e.managed(nil).OpenVMDisk(c, azure.DiskRef{Kind: azure.KindManaged, ResourceGroup: e.rg, Name: "entra"})
	if err != nil {
		t.Fatal(err)
	}
	s, err := d.CreateSnapshot(c, azure.SnapshotOptions{Purpose: "entra"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = d.OpenSnapshot(c, s.ID)
	if err == nil || !strings.Contains(err.Error(), "Microsoft Entra ID") || !strings.Contains(err.Error(), "--data-access-auth-mode None") {
		t.Fatalf("open an Entra-only snapshot: %v", err)
	}
	if n := log.count("beginGetAccess"); n != 0 {
		t.Fatalf("%d grants asked for an Entra-only snapshot", n)
	}
}

// TestHoldSharesGrants: while azure.HoldSnapshots holds two snapshots of
// a disk, its diff, its listings and reads of either use those grants:
// one grant and one revocation each, against one per call without it.
func TestHoldSharesGrants(t *testing.T) {
	log := &counter{}
	e := newEnv(t, func(o *Options) { o.Log = log })
	c := ctx(t)
	id, err := e.srv.CreateDisk(c, e.rg, "held", 1<<20, "")
	if err != nil {
		t.Fatal(err)
	}
	snaps, _ := armcompute.NewSnapshotsClient(e.srv.SubscriptionID(), azure.LabToken{}, e.armOptions())
	for _, name := range []string{"h0", "h1"} {
		p, err := snaps.BeginCreateOrUpdate(c, e.rg, name, snapshotBody(id), nil)
		poll(t, p, err)
	}
	d, err := e.managed(nil).OpenVMDisk(c, azure.DiskRef{Kind: azure.KindManaged, ResourceGroup: e.rg, Name: "held"})
	if err != nil {
		t.Fatal(err)
	}
	work := func() {
		if _, err := d.ChangedRanges(c, "h0", "h1"); err != nil {
			t.Fatal(err)
		}
		if _, err := d.ClearedRanges(c, "h0", "h1"); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			src, err := d.OpenSnapshot(c, "h1")
			if err != nil {
				t.Fatal(err)
			}
			if err := src.Close(c); err != nil {
				t.Fatal(err)
			}
		}
	}
	grants := func() (int, int) { return log.count("/beginGetAccess"), log.count("/endGetAccess") }
	work()
	g0, r0 := grants()
	if g0 < 6 || r0 < 6 {
		t.Fatalf("without a hold: %d grants, %d revocations; want one per snapshot per call (6)", g0, r0)
	}
	release, err := azure.HoldSnapshots(c, d, "h0", "h1")
	if err != nil {
		t.Fatal(err)
	}
	work()
	if g, r := grants(); g-g0 != 2 || r-r0 != 0 {
		t.Fatalf("while held: %d grants, %d revocations; want 2 and none", g-g0, r-r0)
	}
	release()
	if g, r := grants(); g-g0 != 2 || r-r0 != 2 {
		t.Fatalf("after the hold: %d grants, %d revocations in all; want 2 and 2", g-g0, r-r0)
	}
}
