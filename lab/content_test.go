package lab

import (
	"bytes"
	"context"
	"encoding/binary"
	"hash/crc32"
	"testing"

	"github.com/failback/failback/engine"
)

// render writes regions onto a zeroed in-memory disk of the given size.
func render(t *testing.T, size int64, rs ...[]region) []byte {
	t.Helper()
	d := &memTarget{b: make([]byte, size)}
	for _, r := range rs {
		if err := writeRegions(context.Background(), r, d); err != nil {
			t.Fatal(err)
		}
	}
	return d.b
}

type memTarget struct{ b []byte }

func (m *memTarget) Size() int64 { return int64(len(m.b)) }
func (m *memTarget) ReadAt(_ context.Context, p []byte, off int64) error {
	copy(p, m.b[off:])
	return nil
}
func (m *memTarget) WriteAt(_ context.Context, p []byte, off int64) error {
	copy(m.b[off:], p)
	return nil
}
func (m *memTarget) Allocated(context.Context) ([]engine.Extent, error) { return nil, nil }
func (m *memTarget) Flush(context.Context) error                        { return nil }

func TestLayoutIsRepeatableMostlyZeroAndAligned(t *testing.T) {
	const size = 128 << 20
	for _, c := range []struct {
		name          string
		gpt, dataDisk bool
	}{{"gen2 os", true, false}, {"gen2 data", true, true}, {"gen1 os", false, false}} {
		t.Run(c.name, func(t *testing.T) {
			l := layoutDisk(size, 42, c.gpt, c.dataDisk)
			a := render(t, size, l.Regions)
			b := render(t, size, layoutDisk(size, 42, c.gpt, c.dataDisk).Regions)
			if !bytes.Equal(a, b) {
				t.Fatal("the same seed gave different disks")
			}
			if bytes.Equal(a, render(t, size, layoutDisk(size, 43, c.gpt, c.dataDisk).Regions)) {
				t.Fatal("another seed gave the same disk")
			}
			for _, r := range l.Regions {
				if r.Off%4096 != 0 || r.Len%4096 != 0 || r.Len <= 0 || r.Off+r.Len > size {
					t.Fatalf("region [%d, +%d) is not a 4 KiB-aligned range inside the disk", r.Off, r.Len)
				}
			}
			// Mostly unallocated: count the 64 KiB units holding data.
			var used int
			for o := 0; o < len(a); o += 64 << 10 {
				if !allZero(a[o : o+64<<10]) {
					used++
				}
			}
			share := float64(used) / float64(size/(64<<10))
			if share < 0.03 || share > 0.15 {
				t.Fatalf("%.1f%% of the disk holds data; a lab disk should be mostly zeros with some data (3-15%%)", 100*share)
			}
			hot := a[l.HotOff : l.HotOff+l.HotLen]
			if allZero(hot) || !bytes.HasPrefix(hot, []byte("PAGE")) {
				t.Fatal("the hot region does not hold the database pages the writers change")
			}
		})
	}
}

func allZero(b []byte) bool { return len(bytes.TrimLeft(b, "\x00")) == 0 }

func TestDivergenceChangesFewBlocks(t *testing.T) {
	const size = 256 << 20
	l := layoutDisk(size, 7, true, false)
	before := render(t, size, l.Regions)
	after := render(t, size, l.Regions, divergence(l, 8))
	const block = 1 << 20
	var differ, zeroed int
	for o := 0; o < size; o += block {
		if !bytes.Equal(before[o:o+block], after[o:o+block]) {
			differ++
			if !allZero(before[o:o+block]) && allZero(after[o:o+block]) {
				zeroed++
			}
		}
	}
	if differ == 0 || differ > size/block/10 {
		t.Fatalf("%d of %d 1 MiB blocks differ after the failover; want a few (more than 0, at most 10%%)", differ, size/block)
	}
	// The deleted file: blocks of data that read as zeros on Azure now.
	var trimmed bool
	for _, r := range divergence(l, 8) {
		trimmed = trimmed || r.Kind == kindZero
	}
	if !trimmed {
		t.Fatal("no deleted (trimmed) file among the changes")
	}
	if !bytes.Equal(before[:64<<10], after[:64<<10]) {
		t.Fatal("the partition table changed after the failover")
	}
	t.Logf("%d of %d blocks differ, %d of them now all zeros", differ, size/block, zeroed)
}

func TestGPTIsValid(t *testing.T) {
	const size = 128 << 20
	d := render(t, size, partitionTable(size, 1, true, false))
	if d[510] != 0x55 || d[511] != 0xAA || d[446+4] != 0xEE {
		t.Fatal("sector 0 is not a protective MBR")
	}
	last := int64(size/512 - 1)
	primary := checkGPTHeader(t, d, 1, last)
	backup := checkGPTHeader(t, d, last, 1)
	if !bytes.Equal(primary[56:72], backup[56:72]) {
		t.Fatal("primary and backup headers name different disks")
	}
	// Entries: ESP, MSR, basic data, inside the usable range, in order.
	entries := d[2*512 : 2*512+gptArrayBytes]
	want := []string{guidESP, guidMSR, guidBasicData}
	prevEnd := uint64(33)
	for i, typ := range want {
		e := entries[i*gptEntrySize:]
		if !bytes.Equal(e[:16], guidBytes(typ)) {
			t.Fatalf("partition %d has the wrong type", i+1)
		}
		first, end := binary.LittleEndian.Uint64(e[32:]), binary.LittleEndian.Uint64(e[40:])
		if first <= prevEnd || end < first || end > uint64(last-33) || first%2048 != 0 {
			t.Fatalf("partition %d spans LBA %d-%d: overlapping, unaligned or outside the usable range", i+1, first, end)
		}
		prevEnd = end
	}
}

// checkGPTHeader verifies the header at LBA my and its entry array CRC.
func checkGPTHeader(t *testing.T, d []byte, my, alt int64) []byte {
	t.Helper()
	h := append([]byte(nil), d[my*512:my*512+92]...)
	if string(h[:8]) != "EFI PART" {
		t.Fatalf("no GPT header at LBA %d", my)
	}
	crc := binary.LittleEndian.Uint32(h[16:])
	binary.LittleEndian.PutUint32(h[16:], 0)
	if crc32.ChecksumIEEE(h) != crc {
		t.Fatalf("GPT header at LBA %d: bad CRC", my)
	}
	if int64(binary.LittleEndian.Uint64(h[24:])) != my || int64(binary.LittleEndian.Uint64(h[32:])) != alt {
		t.Fatalf("GPT header at LBA %d names the wrong locations", my)
	}
	at := int64(binary.LittleEndian.Uint64(h[72:]))
	if crc32.ChecksumIEEE(d[at*512:at*512+gptArrayBytes]) != binary.LittleEndian.Uint32(h[88:]) {
		t.Fatalf("GPT header at LBA %d: the partition entries' CRC does not match", my)
	}
	return h
}

func TestMBRIsValid(t *testing.T) {
	const size = 64 << 20
	d := render(t, size, partitionTable(size, 1, false, false))
	e := d[446:462]
	if d[510] != 0x55 || d[511] != 0xAA || e[0] != 0x80 || e[4] != 0x07 {
		t.Fatal("sector 0 is not a Windows MBR with an active NTFS partition")
	}
	first, n := binary.LittleEndian.Uint32(e[8:]), binary.LittleEndian.Uint32(e[12:])
	if first != 2048 || int64(first+n)*512 > size {
		t.Fatalf("the partition spans sectors %d+%d of a %d-sector disk", first, n, size/512)
	}
}

func TestGUIDBytesIsMixedEndian(t *testing.T) {
	// The ESP type GUID as it sits on disk (UEFI specification).
	want := []byte{0x28, 0x73, 0x2A, 0xC1, 0x1F, 0xF8, 0xD2, 0x11, 0xBA, 0x4B, 0x00, 0xA0, 0xC9, 0x3E, 0xC9, 0x3B}
	if got := guidBytes(guidESP); !bytes.Equal(got, want) {
		t.Fatalf("got % X, want % X", got, want)
	}
}
