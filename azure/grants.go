package azure

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v6"
)

// grant is read access to one snapshot: the SAS URL a grant gave (a
// secret: never printed, logged or saved), when it ends, and how many
// readers share it. One grant per snapshot per process; the last reader
// to let go revokes it, so no access outlives its need.
type grant struct {
	rg, name string
	family   string // the source disk's id, lower case
	refs     int    // under ManagedDisks.mu
	// ready is closed once the first grant succeeded or failed (err).
	ready chan struct{}
	err   error

	mu      sync.Mutex
	url     string
	expires time.Time
}

// semaphore bounds the grants on snapshots of one disk.
type semaphore chan struct{}

func (s semaphore) acquire(ctx context.Context) error {
	select {
	case s <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s semaphore) release() { <-s }

func grantKey(rg, name string) string { return strings.ToLower(rg + "/" + name) }

// acquire returns the grant on snapshot rg/name (of the disk family),
// granting access when none is active in this process. A new grant takes
// one of the family's MaxGrants slots (Azure refuses more at once): it
// waits for one while other snapshots of the disk are being read.
// Readers arriving while the first is granted wait for its outcome.
func (m *ManagedDisks) acquire(ctx context.Context, rg, name, family string) (*grant, error) {
	key := grantKey(rg, name)
	m.mu.Lock()
	if g := m.grants[key]; g != nil {
		g.refs++
		m.mu.Unlock()
		select {
		case <-g.ready:
		case <-ctx.Done():
			m.forget(g)
			return nil, ctx.Err()
		}
		if g.err != nil {
			m.forget(g)
			return nil, g.err
		}
		if _, err := m.access(ctx, g, false); err != nil {
			_ = m.release(context.WithoutCancel(ctx), g)
			return nil, err
		}
		return g, nil
	}
	sem := m.family[family]
	if sem == nil {
		sem = make(semaphore, m.o.MaxGrants)
		m.family[family] = sem
	}
	g := &grant{rg: rg, name: name, family: family, refs: 1, ready: make(chan struct{})}
	m.grants[key] = g
	m.mu.Unlock()
	g.err = sem.acquire(ctx)
	if g.err != nil {
		g.err = fmt.Errorf("read access to snapshot %s: waiting for one of the %d grants Azure allows on snapshots of one disk at once: %w", name, m.o.MaxGrants, g.err)
	} else if _, g.err = m.access(ctx, g, true); g.err != nil {
		sem.release()
	}
	if g.err != nil {
		m.mu.Lock()
		if m.grants[key] == g {
			delete(m.grants, key) // the next reader tries afresh
		}
		m.mu.Unlock()
	}
	close(g.ready)
	if g.err != nil {
		return nil, g.err
	}
	return g, nil
}

// forget drops a reader of a grant that failed or was not waited for.
func (m *ManagedDisks) forget(g *grant) {
	m.mu.Lock()
	defer m.mu.Unlock()
	g.refs--
}

// release lets go of a grant; the last user revokes it and frees its
// slot.
func (m *ManagedDisks) release(ctx context.Context, g *grant) error {
	m.mu.Lock()
	g.refs--
	last := g.refs <= 0
	if last {
		delete(m.grants, grantKey(g.rg, g.name))
	}
	sem := m.family[g.family]
	m.mu.Unlock()
	if !last {
		return nil
	}
	defer sem.release()
	return m.revoke(ctx, g.rg, g.name)
}

// renewMargin is how long before its end a grant is renewed.
func (m *ManagedDisks) renewMargin() time.Duration {
	return min(5*time.Minute, m.o.SASDuration/4)
}

// access returns the grant's SAS URL, granting (again) when there is
// none yet, when it ends within the margin, or when force says the
// service refused it.
func (m *ManagedDisks) access(ctx context.Context, g *grant, force bool) (string, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := m.o.Now()
	if !force && g.url != "" && now.Add(m.renewMargin()).Before(g.expires) {
		return g.url, nil
	}
	url, err := m.grantRead(ctx, g.rg, g.name)
	if err != nil {
		return "", err
	}
	g.url, g.expires = url, now.Add(m.o.SASDuration)
	return url, nil
}

// grantRead asks ARM for a read SAS on a snapshot.
func (m *ManagedDisks) grantRead(ctx context.Context, rg, name string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, m.o.ARM.OperationTimeout)
	defer cancel()
	secs := int32(m.o.SASDuration / time.Second)
	read := armcompute.AccessLevelRead
	p, err := m.snaps.BeginGrantAccess(ctx, rg, name, armcompute.GrantAccessData{Access: &read, DurationInSeconds: &secs}, nil)
	if err != nil {
		return "", m.wrapARM("grant read access to snapshot", rg+"/"+name, err)
	}
	resp, err := p.PollUntilDone(ctx, &runtime.PollUntilDoneOptions{Frequency: m.o.ARM.PollInterval})
	if err != nil {
		return "", m.wrapARM("grant read access to snapshot", rg+"/"+name, err)
	}
	if resp.AccessSAS == nil || *resp.AccessSAS == "" {
		return "", fmt.Errorf("azure grant read access to snapshot %s/%s: ARM returned no SAS; retry", rg, name)
	}
	return *resp.AccessSAS, nil
}

// revoke ends any read access to a snapshot (none is fine).
func (m *ManagedDisks) revoke(ctx context.Context, rg, name string) error {
	ctx, cancel := context.WithTimeout(ctx, m.o.ARM.OperationTimeout)
	defer cancel()
	p, err := m.snaps.BeginRevokeAccess(ctx, rg, name, nil)
	if err == nil {
		_, err = p.PollUntilDone(ctx, &runtime.PollUntilDoneOptions{Frequency: m.o.ARM.PollInterval})
	}
	if err != nil && statusOf(err) != 404 {
		return m.wrapARM("revoke read access to snapshot", rg+"/"+name, err)
	}
	return nil
}

// Grants lists the snapshots this process holds read access to, for
// status displays: "group/name until 15:04".
func (m *ManagedDisks) Grants() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for _, g := range m.grants {
		g.mu.Lock()
		if g.url != "" {
			out = append(out, fmt.Sprintf("%s/%s until %s", g.rg, g.name, g.expires.Format("15:04")))
		}
		g.mu.Unlock()
	}
	return out
}

// diffLock serialises the diffs of one disk family; it returns the unlock.
func (m *ManagedDisks) diffLock(family string) func() {
	m.mu.Lock()
	l := m.diffs[family]
	if l == nil {
		l = &sync.Mutex{}
		m.diffs[family] = l
	}
	m.mu.Unlock()
	l.Lock()
	return l.Unlock
}

// Hold keeps read access to the snapshots ids of the disk until release:
// the diffs, listings and reads made meanwhile share those grants instead
// of granting and revoking access for each call (two ARM operations
// apiece). The grants are taken one disk pair at a time, as withPair
// takes them, so holders never wait on each other for the family's slots.
func (d *managedDisk) Hold(ctx context.Context, ids ...string) (release func(), err error) {
	family, rg := strings.ToLower(d.ref.ID), d.snapshotGroup()
	var held []*grant
	release = func() {
		for _, g := range held {
			_ = d.m.release(context.WithoutCancel(ctx), g)
		}
	}
	unlock := d.m.diffLock(family)
	defer unlock()
	for _, id := range ids {
		if id == "" {
			continue
		}
		g, err := d.m.acquire(ctx, rg, id, family)
		if err != nil {
			release()
			return nil, err
		}
		held = append(held, g)
	}
	return release, nil
}

// SnapshotHolder is a disk whose snapshot reads need access granted
// (a managed disk): Hold keeps that access across calls.
type SnapshotHolder interface {
	Hold(ctx context.Context, ids ...string) (release func(), err error)
}

// HoldSnapshots keeps read access to the snapshots ids of disk open until
// release, where the disk's reads need a grant; elsewhere it does nothing.
func HoldSnapshots(ctx context.Context, disk VMDisk, ids ...string) (release func(), err error) {
	if h, ok := disk.(SnapshotHolder); ok {
		return h.Hold(ctx, ids...)
	}
	return func() {}, nil
}
