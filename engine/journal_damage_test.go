package engine

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/failback/failback/engine/enginetest"
)

// damageCase is a finished two-run sync (the first cut short by a read
// error, the second resuming it) whose journal the tests damage: its
// undo journal holds data, zero and zero-range records of both runs.
type damageCase struct {
	bs           int64
	orig         []byte              // the target before the sync
	synced       *enginetest.MemDisk // the target after it
	undo, resume []byte              // the journal files
	records      []undoRec           // the undo journal's records, without data
}

const damageTarget = "/images/disk.vhdx"

var (
	damageOnce   sync.Once
	damageCached *damageCase
)

// theDamageCase builds the case once per test binary: the fuzz target
// runs it many times.
func theDamageCase(t testing.TB) *damageCase {
	damageOnce.Do(func() { damageCached = buildDamageCase(t) })
	if damageCached == nil {
		t.Fatal("building the damage case failed")
	}
	return damageCached
}

func buildDamageCase(t testing.TB) *damageCase {
	const bs, size = 4 << 10, 48<<12 + 1000
	rng := rand.New(rand.NewPCG(42, 7))
	dst, src := enginetest.NewMemDisk(size, bs), enginetest.NewMemDisk(size, bs)
	for off := int64(0); off < size; off += bs {
		n := min(bs, size-off)
		switch rng.IntN(4) { // the target: unallocated, allocated zeros, data
		case 1:
			mustWrite(dst, make([]byte, n), off)
		case 2, 3:
			mustWrite(dst, randBytes(rng, n), off)
		}
		switch rng.IntN(4) { // the source: unallocated, data, the target's
		case 1, 2:
			mustWrite(src, randBytes(rng, n), off)
		case 3:
			p := make([]byte, n)
			_ = dst.ReadAt(bg, p, off)
			mustWrite(src, p, off)
		}
	}
	c := &damageCase{bs: bs, orig: dst.Bytes()}
	dir := filepath.Join(t.TempDir(), "j")
	o := Options{BlockSize: bs, Threads: 2, JournalDir: dir, TargetID: damageTarget, CheckpointInterval: time.Millisecond}
	ext, _ := src.Allocated(bg)
	if _, err := Sync(bg, &failOnce{MemDisk: src, at: ext[len(ext)/2].Off / bs * bs}, dst, o); err == nil {
		t.Log("the injected read error was not reached: one run only")
	}
	if _, err := Sync(bg, src, dst, o); err != nil {
		t.Fatal(err)
	}
	c.synced = dst
	var err error
	if c.undo, err = os.ReadFile(filepath.Join(dir, undoName)); err != nil {
		t.Fatal(err)
	}
	if c.resume, err = os.ReadFile(filepath.Join(dir, resumeName)); err != nil {
		t.Fatal(err)
	}
	h, off := headerOf(t, c.undo)
	if err := scanUndo(bytes.NewReader(c.undo), int64(len(c.undo)), off, h, true, func(it undoItem) error {
		if it.bad || it.dataBad {
			t.Fatalf("the fresh journal has a bad item %+v", it)
		}
		it.rec.data = nil
		c.records = append(c.records, it.rec)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	kinds := map[byte]int{}
	for _, r := range c.records {
		kinds[r.kind]++
	}
	if kinds[recData] < 10 || kinds[recZero] == 0 || kinds[recZeroRange] == 0 {
		t.Fatalf("the case should have records of every kind: %v", kinds)
	}
	return c
}

func headerOf(t testing.TB, undo []byte) (jobHeader, int64) {
	t.Helper()
	f := filepath.Join(t.TempDir(), "u")
	if err := os.WriteFile(f, undo, 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := os.Open(f)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	h, off, err := readHeader(r, undoMagic)
	if err != nil {
		t.Fatal(err)
	}
	return h, off
}

// rollbackDamaged rolls back a copy of the synced target with the given
// journal files and fails unless the outcome is an exact rollback (the
// target byte-equal to before, the journal gone) or a loud refusal: an
// error, the journal kept as it was, and, for a JournalDamage, every
// block left unlike before named in it.
func rollbackDamaged(t testing.TB, c *damageCase, undo, resume []byte) (*enginetest.MemDisk, error) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "j")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{undoName: undo, resumeName: resume} {
		if b != nil {
			if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	dst := c.synced.Clone()
	_, err := Rollback(bg, dir, dst, RollbackOptions{TargetID: damageTarget})
	got := dst.Bytes()
	if err == nil {
		if !bytes.Equal(got, c.orig) {
			t.Fatalf("rollback succeeded but the target is not as before (blocks %v differ)", differing(got, c.orig, c.bs))
		}
		if exists(dir) {
			t.Fatal("a successful rollback left its journal")
		}
		return dst, nil
	}
	if kept, _ := os.ReadFile(filepath.Join(dir, undoName)); !bytes.Equal(kept, undo) {
		t.Fatalf("a refused rollback (%v) did not keep the undo journal as it was", err)
	}
	var d *JournalDamage
	if !errors.As(err, &d) {
		if !errors.Is(err, ErrJournalCorrupt) && !errors.Is(err, ErrJournalUnreadable) {
			t.Fatalf("refusal that is not about the journal: %v", err)
		}
		return dst, err
	}
	if !errors.Is(err, ErrRollbackIncomplete) || !d.RolledBack {
		t.Fatalf("a JournalDamage from Rollback must say it rolled back the rest: %v", err)
	}
	for _, b := range differing(got, c.orig, c.bs) {
		named := d.Unknown > 0 && b*c.bs >= d.UnknownFrom
		for _, x := range d.Lost {
			named = named || x.Off <= b*c.bs && b*c.bs < x.End()
		}
		if !named {
			t.Fatalf("block %d is not restored and the error does not name it: %v", b, err)
		}
	}
	return dst, err
}

// differing lists the blocks where a and b differ.
func differing(a, b []byte, bs int64) []int64 {
	var out []int64
	for off := int64(0); off < int64(len(a)); off += bs {
		end := min(off+bs, int64(len(a)))
		if !bytes.Equal(a[off:end], b[off:end]) {
			out = append(out, off/bs)
		}
	}
	return out
}

// TestDamagedJournalIsNeverASilentPartialRollback: a byte flipped in the
// middle of a record (its data, or its header) or the undo journal cut to
// a third: the rollback restores every other block, fails naming exactly
// the blocks it could not restore, and keeps the journal; a second
// rollback does the same. Damage to a header alone, or to the resume
// journal alone, costs nothing: the other file stands in.
func TestDamagedJournalIsNeverASilentPartialRollback(t *testing.T) {
	c := theDamageCase(t)
	var data []undoRec
	for _, r := range c.records {
		if r.kind == recData {
			data = append(data, r)
		}
	}
	mid := data[len(data)/2]
	flip := func(b []byte, at int64) []byte {
		b = bytes.Clone(b)
		b[at] ^= 0x10
		return b
	}
	third := c.undo[:len(c.undo)/3]
	// The blocks of the records the cut removes, whole or in part: all
	// are named, those the sync changed are not restored.
	var cutNamed, cutLost []int64
	syncedBytes := c.synced.Bytes()
	for _, r := range c.records {
		for b := r.block; b < r.end && r.off+r.size > int64(len(third)); b++ {
			cutNamed = append(cutNamed, b)
			at, end := b*c.bs, min((b+1)*c.bs, int64(len(c.orig)))
			if !bytes.Equal(c.orig[at:end], syncedBytes[at:end]) {
				cutLost = append(cutLost, b)
			}
		}
	}
	slices.Sort(cutNamed)
	slices.Sort(cutLost)
	for _, tc := range []struct {
		name         string
		undo, resume []byte
		lost         []int64 // blocks not restored; nil: an exact rollback
		named        []int64 // blocks the error names (nil: lost)
	}{
		{"byte flipped in a record's data", flip(c.undo, mid.off+recHeaderSize+mid.n/2), c.resume, []int64{mid.block}, nil},
		{"byte flipped in a record's header", flip(c.undo, mid.off+30), c.resume, []int64{mid.block}, nil},
		{"undo journal cut to a third", third, c.resume, cutLost, cutNamed},
		{"undo header flipped", flip(c.undo, 20), c.resume, nil, nil},
		{"resume header flipped", c.undo, flip(c.resume, 20), nil, nil},
		{"resume checkpoint flipped", c.undo, flip(c.resume, int64(len(c.resume))-30), nil, nil},
		{"resume journal cut to a third", c.undo, c.resume[:len(c.resume)/3], nil, nil},
		{"resume journal gone", c.undo, nil, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst, err := rollbackDamaged(t, c, tc.undo, tc.resume)
			if tc.lost == nil {
				if err != nil {
					t.Fatalf("want an exact rollback: %v", err)
				}
				return
			}
			var d *JournalDamage
			if !errors.As(err, &d) {
				t.Fatalf("want a JournalDamage, got %v", err)
			}
			if got := differing(dst.Bytes(), c.orig, c.bs); !equalInts(got, tc.lost) {
				t.Fatalf("blocks not restored %v, want %v", got, tc.lost)
			}
			var named []int64
			for _, x := range d.Lost {
				for b := x.Off / c.bs; b*c.bs < x.End(); b++ {
					named = append(named, b)
				}
			}
			want := tc.named
			if want == nil {
				want = tc.lost
			}
			if d.Unknown != 0 || !equalInts(named, want) {
				t.Fatalf("the error names blocks %v (and %d unknown), want exactly %v: %v", named, d.Unknown, want, err)
			}
			// Running it again gives the same result, and keeps the journal.
			before := dst.Bytes()
			_, err2 := Rollback(bg, d.Dir, dst, RollbackOptions{TargetID: damageTarget})
			if err2 == nil || err2.Error() != err.Error() || !bytes.Equal(dst.Bytes(), before) || !exists(filepath.Join(d.Dir, undoName)) {
				t.Fatalf("a second rollback differs: %v", err2)
			}
		})
	}
}

func equalInts(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// damage applies ops to a copy of b: each 5 bytes flip a byte (op%4 < 3:
// at a position the next 4 bytes choose) or cut the file there (op%4 ==
// 3).
func damage(b, ops []byte) []byte {
	b = bytes.Clone(b)
	for len(ops) >= 5 && len(b) > 0 {
		pos := int64(binary.LittleEndian.Uint32(ops[1:]))
		if ops[0]%4 == 3 {
			b = b[:pos%int64(len(b)+1)]
		} else {
			b[pos%int64(len(b))] ^= ops[0] | 1
		}
		ops = ops[5:]
	}
	return b
}

// FuzzJournalDamage damages one journal file at random (byte flips and a
// cut, anywhere, the first byte choosing the file): every outcome is an
// exact rollback or a loud refusal, never a silent partial one. Damage to
// the resume journal alone must cost nothing. (Damage to both files at
// once is outside what the format promises: cutting both back to an
// earlier checkpoint looks like a crash there.)
func FuzzJournalDamage(f *testing.F) {
	for _, seed := range [][]byte{
		{0, 0, 0x00, 0x08, 0, 0},       // undo: a flip in the middle
		{0, 3, 0x00, 0x04, 0, 0},       // undo: cut
		{0, 2, 20, 0, 0, 0},            // undo: header
		{1, 1, 100, 0, 0, 0},           // resume: a flip
		{1, 3, 90, 0, 0, 0},            // resume: cut
		{0, 1, 0, 1, 0, 0, 3, 0, 2, 0}, // undo: flip, then cut
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) == 0 {
			return
		}
		c := theDamageCase(t)
		undo, resume := c.undo, c.resume
		if in[0]%2 == 0 {
			undo = damage(undo, in[1:])
		} else {
			resume = damage(resume, in[1:])
		}
		if _, err := rollbackDamaged(t, c, undo, resume); err != nil && in[0]%2 == 1 {
			t.Fatalf("damage to the resume journal alone made the rollback fail: %v", err)
		}
	})
}

// TestJournalDamageRandom is a short random run of the fuzz target's
// property in the normal suite.
func TestJournalDamageRandom(t *testing.T) {
	c := theDamageCase(t)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 5))
	for i := range 150 {
		ops := make([]byte, 5*(1+rng.IntN(4)))
		for j := range ops {
			ops[j] = byte(rng.Uint32())
		}
		undo, resume := c.undo, c.resume
		if i%3 == 2 {
			resume = damage(resume, ops)
		} else {
			undo = damage(undo, ops)
		}
		if _, err := rollbackDamaged(t, c, undo, resume); err != nil && i%3 == 2 {
			t.Fatalf("ops %x on the resume journal: %v", ops, err)
		}
	}
}
