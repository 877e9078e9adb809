package azure

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestSnapshotAccessURLReadsThatSnapshotAlone: the URL a driver hands a
// mover reads the snapshot's bytes (not the live blob's, written after),
// through a source of its own that lists the same allocation; it reads
// no other blob, and it takes no writes. A refused URL is renewed once.
func TestSnapshotAccessURLReadsThatSnapshotAlone(t *testing.T) {
	ctx := context.Background()
	s, _, c := newTestStorage(t)
	d, err := s.CreateDisk(ctx, c, "vm1-os.vhd", 4*mib, CreateDiskOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pb := rawPageBlob(s, c, "vm1-os.vhd")
	want := make([]byte, 4*mib)
	p := pattern(mib, 64<<10, 5)
	rawPut(t, pb, mib, p)
	copy(want[mib:], p)
	snap, err := d.CreateSnapshot(ctx, SnapshotOptions{JobID: "j", Purpose: "phase1"})
	if err != nil {
		t.Fatal(err)
	}
	rawPut(t, pb, 2*mib, pattern(2*mib, 4096, 6)) // after the snapshot
	if _, err := s.CreateDisk(ctx, c, "vm2-os.vhd", 4*mib, CreateDiskOptions{}); err != nil {
		t.Fatal(err)
	}

	src, err := d.OpenSnapshot(ctx, snap.ID)
	if err != nil {
		t.Fatal(err)
	}
	acc, err := src.AccessURL(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	u := acc.URL.Reveal()
	if !strings.Contains(u, "sig=") || !strings.Contains(u, "snapshot=") || time.Until(acc.Expires) <= 0 || time.Until(acc.Expires) > 2*time.Hour {
		t.Fatalf("access: %q until %v", redactURL(u), acc.Expires)
	}
	if strings.Contains(src.obj, "sig=") {
		t.Fatal("the source's name holds the SAS")
	}

	renewed := 0
	bad := Access{URL: NewSecret(strings.Replace(u, "sig=", "sig=AAAA", 1)), Expires: time.Now().Add(time.Hour)}
	remote, err := OpenSnapshotURL(ctx, URLSnapshot{Name: "vm1-os.vhd@" + snap.ID, Size: 4 * mib, Access: bad,
		Renew: func(ctx context.Context, force bool) (Access, error) {
			renewed++
			if !force {
				t.Error("renewed without being refused")
			}
			return src.AccessURL(ctx, force)
		}, Read: testOptions(t)})
	if err != nil {
		t.Fatal(err)
	}
	if renewed != 1 {
		t.Fatalf("renewed %d times, want 1 (the first URL was refused)", renewed)
	}
	alloc, err := remote.Allocated(ctx)
	if err != nil {
		t.Fatal(err)
	}
	local, _ := src.Allocated(ctx)
	if len(alloc) != len(local) || alloc[0] != local[0] {
		t.Fatalf("allocation through the URL %v, directly %v", alloc, local)
	}
	got := make([]byte, 4*mib)
	if err := remote.ReadAt(ctx, got, 0); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("the URL does not read the snapshot's bytes")
	}

	// The signature covers that snapshot only: another blob, or the live
	// blob, is refused with it.
	q := u[strings.IndexByte(u, '?'):]
	for _, target := range []string{
		strings.Replace(u[:strings.IndexByte(u, '?')], "vm1-os.vhd", "vm2-os.vhd", 1) + q,
		u[:strings.IndexByte(u, '?')] + "?" + dropSnapshot(q[1:]),
	} {
		_, err := OpenSnapshotURL(ctx, URLSnapshot{Name: "other", Size: 4 * mib, Access: Access{URL: NewSecret(target)}, Read: testOptions(t)})
		if !errors.Is(err, ErrAccessDenied) && !errors.Is(err, ErrNotFound) {
			t.Errorf("%s: %v, want refused", redactURL(target), err)
		}
	}
}

// TestRenewDue: a handed-over URL is renewed in its last five minutes,
// or its last quarter when it is short, never while fresh.
func TestRenewDue(t *testing.T) {
	now := time.Now()
	cases := []struct {
		got, exp time.Time
		due      bool
	}{
		{now, now.Add(time.Hour), false},
		{now.Add(-56 * time.Minute), now.Add(4 * time.Minute), true},
		{now, now.Add(8 * time.Second), false},
		{now.Add(-7 * time.Second), now.Add(time.Second), true},
		{now, time.Time{}, false},
	}
	for i, c := range cases {
		if got := renewDue(c.exp, c.got); got != c.due {
			t.Errorf("case %d: renewDue = %v, want %v", i, got, c.due)
		}
	}
}

func dropSnapshot(q string) string {
	var keep []string
	for _, kv := range strings.Split(q, "&") {
		if !strings.HasPrefix(kv, "snapshot=") {
			keep = append(keep, kv)
		}
	}
	return strings.Join(keep, "&")
}
