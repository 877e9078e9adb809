package workflow

import (
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/failback/failback/azure"
	"github.com/failback/failback/engine"
)

// A pass's ranges (the changes since the base snapshot plus those of
// aborted passes) are merged, sorted, free of empty ranges and inside
// the disk, whatever order and overlaps the lists came in.
func TestUnionRangesMergesAndClipsToTheDisk(t *testing.T) {
	a := []engine.Extent{{Off: 100, Len: 10}, {Off: 0, Len: 10}, {Off: 70, Len: 0}}
	b := []engine.Extent{{Off: 5, Len: 10}, {Off: 110, Len: 5}, {Off: 50, Len: 1}, {Off: 190, Len: 50}, {Off: 300, Len: 8}}
	got := unionRanges(200, a, b)
	want := []engine.Extent{{Off: 0, Len: 15}, {Off: 50, Len: 1}, {Off: 100, Len: 15}, {Off: 190, Len: 10}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v want %v", got, want)
	}
	if a[0].Off != 100 || len(a) != 3 {
		t.Fatalf("the input list was changed: %v", a)
	}
}

func TestHostPathsKeepTheHostsStyle(t *testing.T) {
	for _, c := range []struct{ dir, name, want string }{
		{`D:\Hyper-V`, "web01", `D:\Hyper-V\web01`},
		{`D:\Hyper-V\`, "x.vhdx", `D:\Hyper-V\x.vhdx`},
		{"/srv/lab/alt", "web01", "/srv/lab/alt/web01"},
	} {
		if got := joinHost(c.dir, c.name); got != c.want {
			t.Errorf("joinHost(%q, %q) = %q, want %q", c.dir, c.name, got, c.want)
		}
	}
	if got := hostBase(`D:\VMs\web01\web01-os.vhd`); got != "web01-os.vhd" {
		t.Errorf("hostBase: %q", got)
	}
}

// TestControllersFollowHyperVDefaults: without the original's layout a
// generation 1 VM's disks go to IDE 0:0, 0:1 and 1:1, never to IDE 1:0,
// where New-VM puts the DVD drive (a disk there fails), then to SCSI.
func TestControllersFollowHyperVDefaults(t *testing.T) {
	if c := controllerFor(1, 2); c.Type != "IDE" || c.Number != 1 || c.Location != 1 {
		t.Errorf("gen 1 disk 2: %+v", c)
	}
	if c := controllerFor(1, 3); c.Type != "SCSI" || c.Location != 0 {
		t.Errorf("gen 1 disk 3: %+v", c)
	}
	for i := range 8 {
		if c := controllerFor(1, i); c.Type == "IDE" && c.Number == 1 && c.Location == 0 {
			t.Errorf("gen 1 disk %d at IDE 1:0, the DVD drive's slot", i)
		}
	}
	if c := controllerFor(2, 2); c.Type != "SCSI" || c.Location != 2 {
		t.Errorf("gen 2 disk 2: %+v", c)
	}
}

func TestHubCoalescesAndNeverBlocks(t *testing.T) {
	h := newHub()
	ch, stop := h.subscribe()
	defer stop()
	for range 1000 {
		h.notify() // nobody reads: must not block
	}
	<-ch
	select {
	case <-ch:
		t.Fatal("a second notice was queued: notices must coalesce")
	default:
	}
}

// Sizes in check details and log lines read as the console writes them,
// and a disk attached to a running Azure VM is not "lease leased".
func TestDetailTextsReadLikeTheConsole(t *testing.T) {
	for n, want := range map[int64]string{512: "512 B", 768 << 10: "768 KiB", 1536: "1.5 KiB", 512 << 20: "512 MiB", 40 << 20: "40.0 MiB", 3 << 30: "3.0 GiB"} {
		if got := bytesText(n); got != want {
			t.Errorf("bytesText(%d) = %q, want %q", n, got, want)
		}
	}
	if got := azure.LeaseText("leased"); got != "leased (attached to a VM)" {
		t.Errorf("azure.LeaseText(leased) = %q", got)
	}
	if got := azure.LeaseText("available"); got != "not leased" {
		t.Errorf("azure.LeaseText(available) = %q", got)
	}
}

// A job.json of format 1 (page blobs named by container and blob) loads
// with each disk's Azure reference, so jobs survive the upgrade.
func TestFormat1RecordLoadsWithDiskReferences(t *testing.T) {
	dir := t.TempDir()
	p := paths{root: dir}
	old := `{"version":1,"id":"j1","state":"committed","flow":"commit","vms":[{"name":"db","disks":[{"container":"vhds","blob":"db-os.vhd","image":"D:\\db.vhdx","local":"/x/db.vhdx","size":1048576}]}]}`
	if err := os.MkdirAll(p.job("j1"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p.record("j1"), []byte(old), 0o600); err != nil {
		t.Fatal(err)
	}
	recs, errs := p.loadRecords()
	if len(errs) != 0 || len(recs) != 1 {
		t.Fatalf("load: %v %v", recs, errs)
	}
	d := recs[0].VMs[0].Disks[0]
	if d.Azure != azure.PageBlobRef("vhds", "db-os.vhd") || d.Container != "" || d.Blob != "" || recs[0].Version != recordVersion {
		t.Fatalf("format 1 disk loaded as %+v (version %d)", d, recs[0].Version)
	}
	if d.name() != "db-os.vhd" {
		t.Errorf("log name %q, want the blob's", d.name())
	}
}

// A job over several hosts says each host's throughput while it moves;
// one host, or nothing moving, says nothing more.
func TestHostsMovingSaysEachHostsThroughput(t *testing.T) {
	v := JobView{State: StatePhase1, Hosts: []HostView{
		{Host: "hv01.example.com", Mover: true, Moving: 2, Rate: 180 << 20, TransferRate: 12 << 20},
		{Host: "hv02.example.com", Mover: true}}}
	got := strings.Join(v.HostsMoving(), "; ")
	if want := "hv01.example.com 180 MiB/s (2 disk(s), writing 12.0 MiB/s); hv02.example.com idle"; got != want {
		t.Fatalf("hosts: %q, want %q", got, want)
	}
	idle := v
	idle.Hosts = []HostView{{Host: "hv01.example.com"}, {Host: "hv02.example.com"}}
	one := v
	one.Hosts = v.Hosts[:1]
	for _, w := range []JobView{idle, one} {
		if hs := w.HostsMoving(); hs != nil {
			t.Errorf("%d host(s) in state %s: %q, want nothing", len(w.Hosts), w.State, hs)
		}
	}
}
