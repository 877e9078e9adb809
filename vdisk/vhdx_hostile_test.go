package vdisk

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// vxHostileBase is a small image we made (16 MiB, 1 MiB blocks, blocks 2
// and 5 written), as bytes to mutate. Our layout puts the log at 1 MiB,
// metadata at 2 MiB (items from 2 MiB+64 KiB) and the BAT at 3 MiB.
func vxHostileBase(t testing.TB) []byte {
	t.Helper()
	p := filepath.Join(t.TempDir(), "base.vhdx")
	img := vxCreate(t, p, CreateOptions{Size: 16 << 20, BlockSize: 1 << 20})
	vxApply(t, img, []vxWrite{{off: 2 << 20, data: vxFill(1<<20, 2)}, {off: 5<<20 + 100, data: vxFill(99, 5)}})
	vxClose(t, img)
	return vxMustRead(t, p)
}

// vxEditHeaders changes both header copies (re-checksummed).
func vxEditHeaders(b []byte, fn func(h *vhdxHeader)) {
	for _, off := range []int{vhdxHeader1Off, vhdxHeader2Off} {
		h, ok := parseHeader(b[off:])
		if !ok {
			panic("test base has a bad header")
		}
		fn(&h)
		copy(b[off:], h.encode())
	}
}

// vxEditRegions changes both region table copies (re-checksummed).
func vxEditRegions(b []byte, fn func([]regionEntry) []regionEntry) {
	rs, _ := parseRegionTable(b[vhdxRegion1Off:])
	rt := encodeRegionTable(fn(rs))
	copy(b[vhdxRegion1Off:], rt)
	copy(b[vhdxRegion2Off:], rt)
}

// vxEditMeta changes the metadata table.
func vxEditMeta(b []byte, fn func([]metaEntry) []metaEntry) {
	ms, _ := parseMetaTable(b[createMetaOff:])
	copy(b[createMetaOff:], encodeMetaTable(fn(ms)))
}

// vxMetaItem is the bytes of metadata item i (0 file parameters, 1 size,
// 2 page 83, 3 logical, 4 physical sector size) in our layout.
func vxMetaItem(b []byte, i int) []byte {
	return b[createMetaOff+vhdxTableSize+[]int{0, 8, 16, 32, 36}[i]:]
}

func vxSetBAT(b []byte, idx int, e uint64) {
	binary.LittleEndian.PutUint64(b[createBATOff+8*idx:], e)
}

// vxPendingLog puts a valid, unapplied log entry into the image.
func vxPendingLog(b []byte, p logEntryParams) {
	p.guid = newGUID()
	vxEditHeaders(b, func(h *vhdxHeader) { h.LogGUID = p.guid })
	copy(b[createLogOff:], encodeLogEntry(p))
}

type vxHostileCase struct {
	name string
	edit func(b []byte) []byte
	want error
}

var vxHostileCases = []vxHostileCase{
	{"not a VHDX", func(b []byte) []byte { copy(b, "vhdxfilf"); return b }, ErrCorrupt},
	{"shorter than the header section", func(b []byte) []byte { return b[:512<<10] }, ErrCorrupt},
	{"both headers fail CRC-32C", func(b []byte) []byte {
		b[vhdxHeader1Off+1000]++
		b[vhdxHeader2Off+1000]++
		return b
	}, ErrCorrupt},
	{"both headers of version 2", func(b []byte) []byte { vxEditHeaders(b, func(h *vhdxHeader) { h.Version = 2 }); return b }, ErrCorrupt},
	{"headers with one sequence number differ", func(b []byte) []byte {
		vxEditHeaders(b, func(h *vhdxHeader) { h.Seq = 9; h.DataWriteGUID = newGUID() })
		return b
	}, ErrCorrupt},
	{"log version 1", func(b []byte) []byte { vxEditHeaders(b, func(h *vhdxHeader) { h.LogVersion = 1 }); return b }, ErrUnsupported},
	{"log offset not 1 MiB aligned", func(b []byte) []byte {
		vxEditHeaders(b, func(h *vhdxHeader) { h.LogOffset += 4096 })
		return b
	}, ErrCorrupt},
	{"log past the end of the file", func(b []byte) []byte {
		vxEditHeaders(b, func(h *vhdxHeader) { h.LogLength = 1 << 30 })
		return b
	}, ErrCorrupt},
	{"both region tables fail CRC-32C", func(b []byte) []byte {
		b[vhdxRegion1Off+5000]++
		b[vhdxRegion2Off+5000]++
		return b
	}, ErrCorrupt},
	{"BAT region overlaps metadata region", func(b []byte) []byte {
		vxEditRegions(b, func(rs []regionEntry) []regionEntry { rs[0].Off = createMetaOff; return rs })
		return b
	}, ErrCorrupt},
	{"metadata region overlaps the log", func(b []byte) []byte {
		vxEditRegions(b, func(rs []regionEntry) []regionEntry { rs[1].Off = createLogOff; return rs })
		return b
	}, ErrCorrupt},
	{"BAT region in the header section", func(b []byte) []byte {
		vxEditRegions(b, func(rs []regionEntry) []regionEntry { rs[0].Off = 0; return rs })
		return b
	}, ErrCorrupt},
	{"BAT region past the end of the file", func(b []byte) []byte {
		vxEditRegions(b, func(rs []regionEntry) []regionEntry { rs[0].Len = 1 << 30; return rs })
		return b
	}, ErrCorrupt},
	{"no BAT region", func(b []byte) []byte {
		vxEditRegions(b, func(rs []regionEntry) []regionEntry { return rs[1:] })
		return b
	}, ErrCorrupt},
	{"two BAT regions", func(b []byte) []byte {
		vxEditRegions(b, func(rs []regionEntry) []regionEntry {
			return append(rs, regionEntry{ID: guidBATRegion, Off: 5 << 20, Len: 1 << 20})
		})
		return b
	}, ErrCorrupt},
	{"unknown required region", func(b []byte) []byte {
		vxEditRegions(b, func(rs []regionEntry) []regionEntry {
			return append(rs, regionEntry{ID: newGUID(), Off: 8 << 20, Len: 1 << 20, Required: true})
		})
		return b
	}, ErrUnsupported},
	{"metadata table signature", func(b []byte) []byte { b[createMetaOff]++; return b }, ErrCorrupt},
	{"metadata entry count 2048", func(b []byte) []byte { binary.LittleEndian.PutUint16(b[createMetaOff+10:], 2048); return b }, ErrCorrupt},
	{"metadata item past the region", func(b []byte) []byte {
		vxEditMeta(b, func(ms []metaEntry) []metaEntry { ms[1].Off = 1<<20 - 4; return ms })
		return b
	}, ErrCorrupt},
	{"metadata item inside the table", func(b []byte) []byte {
		vxEditMeta(b, func(ms []metaEntry) []metaEntry { ms[1].Off = 100; return ms })
		return b
	}, ErrCorrupt},
	{"metadata item of 2 MiB", func(b []byte) []byte {
		vxEditMeta(b, func(ms []metaEntry) []metaEntry { ms[1].Len = 2 << 20; return ms })
		return b
	}, ErrCorrupt},
	{"metadata items overlap", func(b []byte) []byte {
		vxEditMeta(b, func(ms []metaEntry) []metaEntry { ms[1].Len = 12; return ms })
		return b
	}, ErrCorrupt},
	{"virtual size item missing", func(b []byte) []byte {
		vxEditMeta(b, func(ms []metaEntry) []metaEntry { return append(ms[:1], ms[2:]...) })
		return b
	}, ErrCorrupt},
	{"unknown required metadata item", func(b []byte) []byte {
		vxEditMeta(b, func(ms []metaEntry) []metaEntry {
			return append(ms, metaEntry{ID: newGUID(), Off: 128 << 10, Len: 8, Flags: metaIsRequired})
		})
		return b
	}, ErrUnsupported},
	{"differencing (HasParent)", func(b []byte) []byte { vxMetaItem(b, 0)[4] |= fileParamHasParent; return b }, ErrUnsupported},
	{"differencing (parent locator)", func(b []byte) []byte {
		vxEditMeta(b, func(ms []metaEntry) []metaEntry {
			return append(ms, metaEntry{ID: guidParentLocator, Off: 128 << 10, Len: 64, Flags: metaIsRequired})
		})
		return b
	}, ErrUnsupported},
	{"block size 3 MiB", func(b []byte) []byte { binary.LittleEndian.PutUint32(vxMetaItem(b, 0), 3<<20); return b }, ErrCorrupt},
	{"block size 512 MiB", func(b []byte) []byte { binary.LittleEndian.PutUint32(vxMetaItem(b, 0), 512<<20); return b }, ErrCorrupt},
	{"logical sector 1000", func(b []byte) []byte { binary.LittleEndian.PutUint32(vxMetaItem(b, 3), 1000); return b }, ErrCorrupt},
	{"physical sector 0", func(b []byte) []byte { binary.LittleEndian.PutUint32(vxMetaItem(b, 4), 0); return b }, ErrCorrupt},
	{"virtual size 0", func(b []byte) []byte { binary.LittleEndian.PutUint64(vxMetaItem(b, 1), 0); return b }, ErrCorrupt},
	{"virtual size 65 TiB", func(b []byte) []byte { binary.LittleEndian.PutUint64(vxMetaItem(b, 1), 65<<40); return b }, ErrCorrupt},
	{"virtual size not whole sectors", func(b []byte) []byte { binary.LittleEndian.PutUint64(vxMetaItem(b, 1), 16<<20+1); return b }, ErrCorrupt},
	{"BAT larger than its region (64 TiB disk)", func(b []byte) []byte {
		binary.LittleEndian.PutUint64(vxMetaItem(b, 1), 64<<40)
		return b
	}, ErrCorrupt},
	{"BAT region larger than the file", func(b []byte) []byte {
		binary.LittleEndian.PutUint64(vxMetaItem(b, 1), 64<<40)
		vxEditRegions(b, func(rs []regionEntry) []regionEntry { rs[0].Len = 512 << 20; return rs })
		return b
	}, ErrCorrupt},
	{"BAT entry past the end of the file", func(b []byte) []byte { vxSetBAT(b, 7, 1<<40|batFullyPresent); return b }, ErrCorrupt},
	{"file cut inside the last block", func(b []byte) []byte { return b[:len(b)-512<<10] }, ErrCorrupt},
	{"BAT entries overlap", func(b []byte) []byte {
		vxSetBAT(b, 7, binary.LittleEndian.Uint64(b[createBATOff+2*8:]))
		return b
	}, ErrCorrupt},
	{"BAT entry points into the BAT", func(b []byte) []byte { vxSetBAT(b, 7, createBATOff|batFullyPresent); return b }, ErrCorrupt},
	{"BAT entry points into the log", func(b []byte) []byte { vxSetBAT(b, 7, createLogOff|batFullyPresent); return b }, ErrCorrupt},
	{"BAT entry in the header section", func(b []byte) []byte { vxSetBAT(b, 7, batFullyPresent); return b }, ErrCorrupt},
	{"BAT entry partially present", func(b []byte) []byte {
		vxSetBAT(b, 5, binary.LittleEndian.Uint64(b[createBATOff+5*8:])&batOffsetMask|batPartiallyPresent)
		return b
	}, ErrCorrupt},
	{"BAT entry state 5", func(b []byte) []byte { vxSetBAT(b, 9, 5); return b }, ErrCorrupt},
	{"log writes into the header section", func(b []byte) []byte {
		vxPendingLog(b, logEntryParams{seq: 1, flushed: int64(len(b)), last: int64(len(b)),
			writes: []logWrite{{off: vhdxHeader1Off, zeroLen: 4096}}})
		return b
	}, ErrCorrupt},
	{"log flushed past the end of the file", func(b []byte) []byte {
		vxPendingLog(b, logEntryParams{seq: 1, flushed: int64(len(b)) + 1<<20, last: int64(len(b)),
			writes: []logWrite{{off: 9 << 20, zeroLen: 4096}}})
		return b
	}, ErrCorrupt},
	{"log claims an absurd file size", func(b []byte) []byte {
		vxPendingLog(b, logEntryParams{seq: 1, flushed: int64(len(b)), last: 1 << 62,
			writes: []logWrite{{off: 9 << 20, zeroLen: 4096}}})
		return b
	}, ErrCorrupt},
	{"log zeroes past the file it declares", func(b []byte) []byte {
		vxPendingLog(b, logEntryParams{seq: 1, flushed: int64(len(b)), last: int64(len(b)),
			writes: []logWrite{{off: 9 << 20, zeroLen: 1 << 50}}})
		return b
	}, ErrCorrupt},
}

// TestVHDXHostileImagesAreRefused: each kind of damage gives an error
// wrapping ErrCorrupt (or ErrUnsupported for valid features we lack), read-
// only and writable, never a panic; the file is left unchanged and the
// open allocates nothing near what the image claims.
func TestVHDXHostileImagesAreRefused(t *testing.T) {
	base := vxHostileBase(t)
	dir := t.TempDir()
	for _, c := range vxHostileCases {
		t.Run(c.name, func(t *testing.T) {
			b := c.edit(bytes.Clone(base))
			for _, ro := range []bool{true, false} {
				p := filepath.Join(dir, "hostile.vhdx")
				if err := os.WriteFile(p, b, 0o644); err != nil {
					t.Fatal(err)
				}
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				img, err := Open(p, OpenOptions{Format: VHDX, ReadOnly: ro})
				runtime.ReadMemStats(&after)
				if err == nil {
					img.Close()
					t.Fatalf("read-only %v: opened", ro)
				}
				if !errors.Is(err, c.want) {
					t.Fatalf("read-only %v: %v; want it to wrap %v", ro, err, c.want)
				}
				if grew := after.TotalAlloc - before.TotalAlloc; grew > 8<<20 {
					t.Errorf("read-only %v: the failed open allocated %d MiB", ro, grew>>20)
				}
				if !bytes.Equal(vxMustRead(t, p), b) {
					t.Fatalf("read-only %v: the failed open changed the file", ro)
				}
			}
		})
	}
}

// TestVHDXAbsurdBATOffsetSaysPastTheEnd: an offset with the top bits set
// is reported as past the end of the file, not as a negative offset.
func TestVHDXAbsurdBATOffsetSaysPastTheEnd(t *testing.T) {
	b := bytes.Clone(vxHostileBase(t))
	vxSetBAT(b, 7, 0xe8e0_0000_0000_0000|batFullyPresent)
	p := filepath.Join(t.TempDir(), "absurd.vhdx")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Open(p, OpenOptions{ReadOnly: true})
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "past the end") || strings.Contains(err.Error(), "offset -") {
		t.Fatalf("open: %v; want a corrupt image whose block runs past the end", err)
	}
}

// TestVHDXDamagedFirstCopiesUseSecond: a torn first header or first region
// table is not fatal: the other copy is used and the data reads right.
func TestVHDXDamagedFirstCopiesUseSecond(t *testing.T) {
	base := vxHostileBase(t)
	for name, off := range map[string]int{"header": vhdxHeader1Off + 2000, "region table": vhdxRegion1Off + 9000} {
		b := bytes.Clone(base)
		b[off]++
		p := filepath.Join(t.TempDir(), "torn.vhdx")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		img := vxOpen(t, p, false)
		got := make([]byte, 2)
		if _, err := img.ReadAt(got, 2<<20); err != nil || !bytes.Equal(got, []byte{2, 2}) {
			t.Errorf("%s: read %v, %v", name, got, err)
		}
		vxClose(t, img)
	}
}
