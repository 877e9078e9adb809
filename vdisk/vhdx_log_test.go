package vdisk

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"github.com/failback/failback/internal/testenv"
)

// vxCrash edits a closed VHDX file into the state a crash leaves: log
// entries written, their effects not (all) applied. It uses the package's
// encoders, which the qemu interop tests check, and every test below also
// lets qemu replay the same file, so a wrong encoder cannot pass unseen.
type vxCrash struct {
	t      testing.TB
	f      *os.File
	hdr    vhdxHeader
	slot   int
	logOff int64
	logLen int64
	batOff int64
}

func vxCrashOpen(t testing.TB, path string) *vxCrash {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	c := &vxCrash{t: t, f: f}
	var hs [2]vhdxHeader
	var ok [2]bool
	for i, off := range []int64{vhdxHeader1Off, vhdxHeader2Off} {
		hs[i], ok[i] = parseHeader(c.read(off, vhdxHeaderSize))
	}
	if !ok[0] || !ok[1] {
		t.Fatal("test image lacks two valid headers")
	}
	if hs[1].Seq > hs[0].Seq {
		c.slot = 1
	}
	c.hdr = hs[c.slot]
	c.logOff, c.logLen = int64(c.hdr.LogOffset), int64(c.hdr.LogLength)
	regions, ok1 := parseRegionTable(c.read(vhdxRegion1Off, vhdxTableSize))
	if !ok1 {
		t.Fatal("bad region table")
	}
	for _, r := range regions {
		if r.ID == guidBATRegion {
			c.batOff = int64(r.Off)
		}
	}
	return c
}

func (c *vxCrash) read(off, n int64) []byte {
	b := make([]byte, n)
	if _, err := c.f.ReadAt(b, off); err != nil {
		c.t.Fatal(err)
	}
	return b
}

func (c *vxCrash) write(b []byte, off int64) {
	if _, err := c.f.WriteAt(b, off); err != nil {
		c.t.Fatal(err)
	}
}

func (c *vxCrash) size() int64 {
	st, err := c.f.Stat()
	if err != nil {
		c.t.Fatal(err)
	}
	return st.Size()
}

// newBlock writes a block's payload at the end of the file, as an
// allocation does before its BAT entry is logged.
func (c *vxCrash) newBlock(data []byte) int64 {
	off := roundUp(c.size(), vhdxMiB)
	c.write(data, off)
	return off
}

// batSector returns the log write that sets BAT entry idx (first sector
// only: idx < 512) to e, on top of the file's current first BAT sector.
func (c *vxCrash) batSector(sets map[int]uint64) logWrite {
	b := c.read(c.batOff, batSector)
	for idx, e := range sets {
		binary.LittleEndian.PutUint64(b[idx*8:], e)
	}
	return logWrite{off: c.batOff, data: b}
}

// setLogGUID writes a header naming the log GUID (one copy, as a crash
// right after the first header write would leave it).
func (c *vxCrash) setLogGUID(g guid) {
	h := c.hdr
	h.Seq++
	h.LogGUID = g
	c.slot = 1 - c.slot
	c.write(h.encode(), []int64{vhdxHeader1Off, vhdxHeader2Off}[c.slot])
	c.hdr = h
}

// startLog names a new log GUID in the header and returns it with the
// file size, for the entries that follow.
func (c *vxCrash) startLog() (guid, int64) {
	g := newGUID()
	c.setLogGUID(g)
	return g, c.size()
}

// block5 writes a new block full of 0xb5 at the end of the file, records it
// in want as virtual block 5 and returns the BAT entry that maps it.
func (c *vxCrash) block5(want []byte) uint64 {
	copy(want[5<<20:6<<20], vxFill(1<<20, 0xb5))
	return uint64(c.newBlock(vxFill(1<<20, 0xb5))) | batFullyPresent
}

// entry writes a log entry at pos (wrapping around the log end) and
// returns its length.
func (c *vxCrash) entry(pos int64, p logEntryParams) int64 {
	b := encodeLogEntry(p)
	for i := int64(0); i < int64(len(b)); i += logSector {
		c.write(b[i:i+logSector], c.logOff+(pos+i)%c.logLen)
	}
	return int64(len(b))
}

func vxFill(n int, v byte) []byte { return bytes.Repeat([]byte{v}, n) }

func vxSum(t testing.TB, p string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

// vxReplayAgrees proves that a file with a pending log reads as want:
// in memory on a read-only open (file untouched), after our writable open
// (log then marked empty, qemu-img check clean), and after qemu's own replay
// of a copy (qemu-img check -r all), which shows the entries are valid VHDX.
func vxReplayAgrees(t *testing.T, p string, want []byte, qemuReplays bool) {
	t.Helper()
	dir := t.TempDir()
	if qemuReplays {
		qcopy := filepath.Join(dir, "qemu-replayed.vhdx")
		if err := os.WriteFile(qcopy, vxMustRead(t, p), 0o644); err != nil {
			t.Fatal(err)
		}
		testenv.Qemu(t, "check", "-r", "all", "-f", "vhdx", qcopy)
		sameBytes(t, "after qemu's replay", vxQemuRaw(t, qcopy), want)
	}

	before := vxSum(t, p)
	img := vxOpen(t, p, true)
	sameBytes(t, "read-only open (replayed in memory)", readAll(t, img), want)
	vxCheckAllocated(t, img, want)
	vxClose(t, img)
	if vxSum(t, p) != before {
		t.Fatal("a read-only open changed the file")
	}

	img = vxOpen(t, p, false)
	sameBytes(t, "writable open (replayed into the file)", readAll(t, img), want)
	vxClose(t, img)
	c := vxCrashOpen(t, p)
	if !c.hdr.LogGUID.isZero() {
		t.Fatal("log GUID still set after replay and close")
	}
	raw := filepath.Join(dir, "want.raw")
	if err := os.WriteFile(raw, want, 0o644); err != nil {
		t.Fatal(err)
	}
	vxQemuAgrees(t, p, raw)
}

// vxLoseBATWrites flushes img, copies its file as a power cut right after
// the Flush could leave it: the log entry durable, the in-place BAT writes
// lost (the BAT sectors as oldBAT). img is closed; the copy's path returns.
func vxLoseBATWrites(t *testing.T, img Image, p string, oldBAT []byte) string {
	t.Helper()
	if err := img.Flush(); err != nil {
		t.Fatal(err)
	}
	crashed := filepath.Join(t.TempDir(), "crashed.vhdx")
	if err := os.WriteFile(crashed, vxMustRead(t, p), 0o644); err != nil {
		t.Fatal(err)
	}
	vxClose(t, img)
	c := vxCrashOpen(t, crashed)
	if c.hdr.LogGUID.isZero() {
		t.Fatal("no log GUID in the header while the log holds an entry")
	}
	c.write(oldBAT, c.batOff)
	return crashed
}

func vxMustRead(t testing.TB, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// vxBase is a closed 16 MiB dynamic image (1 MiB blocks) with block 2
// written, and its content.
func vxBase(t *testing.T) (string, []byte) {
	p := filepath.Join(t.TempDir(), "crashed.vhdx")
	img := vxCreate(t, p, CreateOptions{Size: 16 << 20, BlockSize: 1 << 20})
	want := make([]byte, 16<<20)
	copy(want[2<<20:3<<20], vxFill(1<<20, 0xa2))
	vxApply(t, img, []vxWrite{{off: 2 << 20, data: want[2<<20 : 3<<20]}})
	vxClose(t, img)
	return p, want
}

// TestVHDXReplaysPendingLog: a log entry that allocates a block (BAT
// sector), rewrites a payload sector and zeroes another, left unapplied as a
// crash would, is replayed on open.
func TestVHDXReplaysPendingLog(t *testing.T) {
	testenv.QemuImg(t)
	p, want := vxBase(t)
	c := vxCrashOpen(t, p)
	blk5 := c.block5(want)
	block2 := int64(binary.LittleEndian.Uint64(c.read(c.batOff+2*8, 8)) & batOffsetMask)
	copy(want[2<<20+8192:], vxFill(4096, 0xc2))
	clear(want[2<<20+65536 : 2<<20+65536+8192])
	g, end := c.startLog()
	c.entry(0, logEntryParams{guid: g, seq: 7, tail: 0, flushed: end, last: end, writes: []logWrite{
		c.batSector(map[int]uint64{5: blk5}),
		{off: block2 + 8192, data: vxFill(4096, 0xc2)},
		{off: block2 + 65536, zeroLen: 8192},
	}})
	vxReplayAgrees(t, p, want, true)
}

// TestVHDXLogIgnoresInvalidEntries: after a valid entry, an entry whose
// data was torn (CRC-32C fails), one with another log GUID, and one cut
// short are all ignored; only the valid entry is replayed.
func TestVHDXLogIgnoresInvalidEntries(t *testing.T) {
	testenv.QemuImg(t)
	for name, spoil := range map[string]func(c *vxCrash, pos int64, p *logEntryParams){
		"torn data sector": func(c *vxCrash, pos int64, p *logEntryParams) {
			c.entry(pos, *p)
			c.write([]byte{0xff}, c.logOff+pos+logSector+100) // inside the data sector
		},
		"other log GUID": func(c *vxCrash, pos int64, p *logEntryParams) {
			p.guid = newGUID()
			c.entry(pos, *p)
		},
		"data sector never written": func(c *vxCrash, pos int64, p *logEntryParams) {
			b := encodeLogEntry(*p)
			c.write(b[:logSector], c.logOff+pos)
		},
	} {
		t.Run(name, func(t *testing.T) {
			p, want := vxBase(t)
			c := vxCrashOpen(t, p)
			blk5 := c.block5(want)
			g, end := c.startLog()
			n := c.entry(0, logEntryParams{guid: g, seq: 41, tail: 0, flushed: end, last: end,
				writes: []logWrite{c.batSector(map[int]uint64{5: blk5})}})
			// The second entry would also allocate block 6, but never counts.
			blk6 := c.newBlock(vxFill(1<<20, 0xb6))
			end = c.size()
			spoil(c, n, &logEntryParams{guid: g, seq: 42, tail: n, flushed: end, last: end,
				writes: []logWrite{c.batSector(map[int]uint64{5: blk5, 6: uint64(blk6) | batFullyPresent})}})
			vxReplayAgrees(t, p, want, true)
		})
	}
}

// TestVHDXLogSequenceFromTail: two consecutive entries replay in order when
// the last one's Tail names the first; when it names itself, the first is
// already applied and must not be replayed again.
func TestVHDXLogSequenceFromTail(t *testing.T) {
	for _, fromFirst := range []bool{true, false} {
		p, want := vxBase(t)
		c := vxCrashOpen(t, p)
		withBlock5 := bytes.Clone(want)
		blk5 := c.block5(withBlock5)
		block2 := int64(binary.LittleEndian.Uint64(c.read(c.batOff+2*8, 8)) & batOffsetMask)
		g, end := c.startLog()
		n := c.entry(0, logEntryParams{guid: g, seq: 3, tail: 0, flushed: end, last: end, writes: []logWrite{
			c.batSector(map[int]uint64{5: blk5}),
			{off: block2, data: vxFill(4096, 0x01)},
		}})
		tail := int64(0)
		if !fromFirst {
			tail = n
		}
		c.entry(n, logEntryParams{guid: g, seq: 4, tail: tail, flushed: end, last: end,
			writes: []logWrite{{off: block2 + 4096, data: vxFill(4096, 0x02)}}})
		copy(want[2<<20+4096:], vxFill(4096, 0x02))
		if fromFirst {
			copy(want[2<<20:], vxFill(4096, 0x01))
			copy(want[5<<20:6<<20], withBlock5[5<<20:6<<20])
		}
		img := vxOpen(t, p, false)
		sameBytes(t, "replayed", readAll(t, img), want)
		vxClose(t, img)
	}
}

// TestVHDXLogEntryWrapsAround: an entry that starts in the last sector of
// the log and continues at its start is replayed (by us and by qemu).
func TestVHDXLogEntryWrapsAround(t *testing.T) {
	testenv.QemuImg(t)
	p, want := vxBase(t)
	c := vxCrashOpen(t, p)
	blk5 := c.block5(want)
	g, end := c.startLog()
	pos := c.logLen - logSector
	c.entry(pos, logEntryParams{guid: g, seq: 9, tail: pos, flushed: end, last: end,
		writes: []logWrite{c.batSector(map[int]uint64{5: blk5})}})
	vxReplayAgrees(t, p, want, true)
}

// TestVHDXLogExtendsFile: LastFileOffset past the end of the file (the
// block's space was reserved but the file extension was lost) makes replay
// extend the file, and the block reads as zeros. (qemu 7.2 only extends
// when LastFileOffset is not a MiB multiple, so it cannot replay this one.)
func TestVHDXLogExtendsFile(t *testing.T) {
	testenv.QemuImg(t)
	p, want := vxBase(t)
	c := vxCrashOpen(t, p)
	g, end := c.startLog()
	c.entry(0, logEntryParams{guid: g, seq: 1, tail: 0, flushed: end, last: end + 1<<20,
		writes: []logWrite{c.batSector(map[int]uint64{7: uint64(end) | batFullyPresent})}})
	vxReplayAgrees(t, p, want, false)
	if st, _ := os.Stat(p); st.Size() != end+1<<20 {
		t.Errorf("file is %d bytes after replay, want %d", st.Size(), end+1<<20)
	}
}

// TestVHDXFlushWritesReplayableLog: the log entry our Flush writes is valid
// on its own. Take the file right after Flush, undo the in-place BAT writes
// (as if they were lost in a crash): our replay and qemu's both restore
// every flushed block.
func TestVHDXFlushWritesReplayableLog(t *testing.T) {
	testenv.QemuImg(t)
	dir := t.TempDir()
	p := filepath.Join(dir, "flushed.vhdx")
	img := vxCreate(t, p, CreateOptions{Size: 64 << 20, BlockSize: 1 << 20})
	ws := vxScatter(3, 64<<20, 1<<20)
	vxApply(t, img, ws)
	crashed := vxLoseBATWrites(t, img, p, vxCrashOpen(t, p).read(createBATOff, 1<<20))
	want := vxRef(t, filepath.Join(dir, "want.raw"), 64<<20, ws)
	vxReplayAgrees(t, crashed, want, true)
}
