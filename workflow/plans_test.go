package workflow_test

import (
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/failback/failback/azure"
	"github.com/failback/failback/config"
	"github.com/failback/failback/workflow"
	"github.com/failback/failback/workflow/labtest"
)

// gate is an HTTP transport that holds every request until it is opened,
// and counts the blob property reads (HEAD).
type gate struct {
	open  chan struct{}
	once  sync.Once
	heads atomic.Int64
}

func (g *gate) Do(req *http.Request) (*http.Response, error) {
	<-g.open
	if req.Method == http.MethodHead {
		g.heads.Add(1)
	}
	return http.DefaultClient.Do(req)
}

func (g *gate) release() { g.once.Do(func() { close(g.open) }) }

func diskInfos(ps []workflow.PlanInfo, plan string) []workflow.DiskInfo {
	var out []workflow.DiskInfo
	for _, p := range ps {
		if p.Name != plan || p.Single {
			continue
		}
		for _, g := range p.Groups {
			for _, v := range g {
				out = append(out, v.Disks...)
			}
		}
	}
	return out
}

// Plans answers at once, even while Azure does not; the sizes arrive in
// the background (with a hub notice), a missing blob says why, and the
// answers are cached until they are sizeTTL old.
func TestPlansShowDiskSizesReadInTheBackground(t *testing.T) {
	l := labtest.New(t, labtest.Options{VMs: []labtest.VM{{Name: "db", Disks: []int64{4 << 20, 2 << 20}}},
		Plans: map[string][][]string{"p": {{"db"}}}})
	l.Cfg.VMs[0].Disks = append(l.Cfg.VMs[0].Disks, config.Disk{Blob: l.Container + "/gone.vhd",
		Image: filepath.Join(l.Dir, "gone.vhdx")})
	g := &gate{open: make(chan struct{})}
	t.Cleanup(g.release)
	st, err := azure.NewStorage(azure.StorageOptions{ConnectionString: azure.NewSecret(l.Conn), Transport: g,
		RetryDelay: 10 * time.Millisecond, MaxRetryDelay: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	var clock atomic.Int64
	clock.Store(time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC).UnixNano())
	d := l.Deps()
	d.Disks = &azure.Disks{Storage: st}
	d.Now = func() time.Time { return time.Unix(0, clock.Load()) }
	m := l.Open(d)
	ch, stop := m.Subscribe()
	defer stop()

	// Azure holds every request: Plans still answers, sizes not known yet.
	got := make(chan []workflow.PlanInfo, 1)
	go func() { got <- m.Plans() }()
	select {
	case ps := <-got:
		for _, di := range diskInfos(ps, "p") {
			if di.Size != 0 || di.SizeError != "" {
				t.Fatalf("before any answer from Azure: %+v", di)
			}
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Plans waits for Azure")
	}

	g.release()
	want := []int64{4 << 20, 2 << 20, 0}
	var ds []workflow.DiskInfo
	for deadline := time.After(30 * time.Second); ; {
		ds = diskInfos(m.Plans(), "p")
		if len(ds) == 3 && ds[0].Size == want[0] && ds[1].Size == want[1] && ds[2].SizeError != "" {
			break
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("sizes never arrived: %+v", ds)
		}
	}
	if !strings.Contains(ds[2].SizeError, "no such blob") {
		t.Fatalf("the missing blob's reason: %q", ds[2].SizeError)
	}

	// Cached: asking again reads nothing from Azure, until the TTL.
	time.Sleep(100 * time.Millisecond) // let the first lookups' requests finish
	before := g.heads.Load()
	for range 5 {
		m.Plans()
	}
	time.Sleep(200 * time.Millisecond)
	if n := g.heads.Load(); n != before {
		t.Fatalf("Plans read %d blob properties again within the TTL", n-before)
	}
	clock.Add(int64(time.Minute))
	m.Plans()
	labtest.WaitFor(t, "a lookup after the TTL", 30*time.Second, func() bool { return g.heads.Load() >= before+3 })
}

// With a connection string (the lab's), the Direction step still names
// the storage account and its endpoint, and no key.
func TestSitesNameTheAccountOfAConnectionString(t *testing.T) {
	l := labtest.New(t, labtest.Options{VMs: []labtest.VM{{Name: "web", Disks: []int64{1 << 20}}}})
	m := l.Open(workflow.Deps{ReadOnly: true})
	d := m.Sites().Source.Detail
	if !strings.Contains(d, "storage account devstoreaccount1 at 127.0.0.1:") || !strings.HasSuffix(d, "(lab)") {
		t.Fatalf("source site detail %q", d)
	}
	if strings.Contains(d, "AccountKey") || strings.Contains(d, "Eby8") {
		t.Fatalf("source site detail shows the key: %q", d)
	}
}
