package agent

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/failback/failback/engine"
	"github.com/failback/failback/engine/enginetest"
)

// pacer is one direction of a simulated WAN link, shared by all its
// connections: bytes pass at rate bytes per second.
type pacer struct {
	rate float64
	mu   sync.Mutex
	next time.Time
}

func (p *pacer) wait(n int) {
	if p == nil || p.rate <= 0 || n <= 0 {
		return
	}
	p.mu.Lock()
	now := time.Now()
	if p.next.Before(now) {
		p.next = now
	}
	p.next = p.next.Add(time.Duration(float64(n) / p.rate * float64(time.Second)))
	until := p.next
	p.mu.Unlock()
	time.Sleep(time.Until(until))
}

// wanConn counts a connection's bytes and paces them through the link.
type wanConn struct {
	net.Conn
	l *wanLink
}

func (c *wanConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.l.in.Add(int64(n))
	c.l.down.wait(n)
	return n, err
}

func (c *wanConn) Write(p []byte) (int, error) {
	c.l.up.wait(len(p))
	n, err := c.Conn.Write(p)
	c.l.out.Add(int64(n))
	return n, err
}

// wanLink is the simulated WAN between on premises and Azure.
type wanLink struct {
	up, down *pacer
	in, out  atomic.Int64
}

func newWAN(mbit float64) *wanLink {
	rate := mbit * 1e6 / 8
	return &wanLink{up: &pacer{rate: rate}, down: &pacer{rate: rate}}
}

func (l *wanLink) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return &wanConn{Conn: c, l: l}, nil
}

func (l *wanLink) bytes() int64 { return l.in.Load() + l.out.Load() }

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v >= 0 {
		return v
	}
	return def
}

// BenchmarkPhase1 measures phase 1 (a delta sync of a fully written disk
// from its snapshot onto an on-premises copy that differs in 1% or 10%
// of its 1 MiB blocks) with and without the agent, over a simulated WAN
// of FAILBACK_BENCH_WAN_MBIT (default 200 Mbit/s each way; 0 = no limit)
// between the on-premises side and Azure (Azurite). The agent reads
// Azurite at loopback speed, as it would in the Azure region. Reported:
// wan-MB (both directions at the TCP level), s (wall time), and for the
// agent the MB compression and zero markers kept off the link. Disk size:
// FAILBACK_BENCH_SIZE_MIB (default 256). Run: scripts/bench-agent.sh.
func BenchmarkPhase1(b *testing.B) {
	size := int64(envInt("FAILBACK_BENCH_SIZE_MIB", 256)) * mib
	mbit := float64(envInt("FAILBACK_BENCH_WAN_MBIT", 200))
	const bs = mib
	st := newStorage(b, nil)
	d := newDisk(b, st, size)
	data := randomBytes(9, int(size))
	d.put(b, data, 0)
	snap := d.snapshot(b)
	a := startAgent(b, newStorage(b, nil), ServerOptions{RequestParallel: envInt("FAILBACK_BENCH_AGENT_PAR", 0)}, nil)
	nblocks := size / bs
	for _, pct := range []int{1, 10} {
		// The on-premises copy: the snapshot with pct% of its blocks
		// holding other (old) data.
		old := enginetest.NewMemDisk(size, 0)
		ctx := context.Background()
		if err := old.WriteAt(ctx, data, 0); err != nil {
			b.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(uint64(pct), 1))
		changed := max(1, nblocks*int64(pct)/100)
		for _, blk := range rng.Perm(int(nblocks))[:changed] {
			if err := old.WriteAt(ctx, randomBytes(uint64(blk)+1000, bs), int64(blk)*bs); err != nil {
				b.Fatal(err)
			}
		}
		for _, mode := range []string{"direct", "agent"} {
			b.Run(fmt.Sprintf("change=%d%%/%s", pct, mode), func(b *testing.B) {
				for range b.N {
					target := old.Clone()
					wan := newWAN(mbit)
					src := phase1Source(b, mode, d, snap, a, wan)
					start := time.Now()
					est, err := engine.Sync(ctx, src, target, engine.Options{BlockSize: bs, NoJournal: true})
					if err != nil {
						b.Fatal(err)
					}
					el := time.Since(start)
					if est.BlocksDiffered != changed {
						b.Fatalf("%d blocks differed, want %d", est.BlocksDiffered, changed)
					}
					b.ReportMetric(float64(wan.bytes())/1e6, "wan-MB")
					b.ReportMetric(el.Seconds(), "s")
					if as, ok := src.(*Source); ok {
						b.ReportMetric(float64(as.Stats().CompressionSaved())/1e6, "saved-MB")
						as.Close()
					}
				}
			})
		}
	}
}

// phase1Source is the engine's source for one mode: the snapshot read
// directly over the WAN, or through the agent over the WAN.
func phase1Source(b *testing.B, mode string, d *testDisk, snap string, a *testAgent, wan *wanLink) engine.Source {
	b.Helper()
	if mode == "agent" {
		o := a.options(d, snap)
		o.DialContext = wan.dial
		src, err := NewSource(context.Background(), o)
		if err != nil {
			b.Fatal(err)
		}
		return src
	}
	tr := &http.Client{Transport: &http.Transport{DialContext: wan.dial, MaxIdleConnsPerHost: 32}}
	return d.direct(b, newStorage(b, tr), snap)
}
