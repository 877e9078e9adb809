package vdisk

import (
	"encoding/binary"
	"path/filepath"
	"testing"

	"github.com/failback/failback/internal/testenv"
)

type vxSeed struct {
	file       []byte
	fix, write bool
}

// vxFuzzSeeds makes small images of every kind the parser meets. Data
// writes are tiny so that the sparse encoding stays a few KiB.
func vxFuzzSeeds(t *testing.T) map[string]vxSeed {
	dir := t.TempDir()
	seeds := map[string]vxSeed{}
	ours := func(name string, o CreateOptions) string {
		p := filepath.Join(dir, name+".vhdx")
		img := vxCreate(t, p, o)
		vxApply(t, img, []vxWrite{{off: 4096, data: vxFill(100, 0x11)}, {off: o.Size - 700, data: vxFill(200, 0x22)}})
		if o.Size > 3*o.BlockSize {
			vxApply(t, img, []vxWrite{{off: 2 * o.BlockSize, data: vxFill(50, 0x33)}, {off: 2 * o.BlockSize, data: make([]byte, o.BlockSize), zero: true}})
		}
		vxClose(t, img)
		seeds[name] = vxSeed{file: vxMustRead(t, p), write: true}
		return p
	}
	ours("ours-dynamic-1M", CreateOptions{Size: 8 << 20, BlockSize: 1 << 20})
	ours("ours-fixed-4k", CreateOptions{Size: 4 << 20, BlockSize: 1 << 20, LogicalSector: 4096, Fixed: true})
	ours("ours-dynamic-32M", CreateOptions{Size: 100 << 20, BlockSize: 32 << 20})

	testenv.QemuImg(t)
	for _, sub := range []string{"dynamic", "fixed"} {
		p := filepath.Join(dir, "qemu-"+sub+".vhdx")
		testenv.Qemu(t, "create", "-f", "vhdx", "-o", "subformat="+sub+",block_size=1M", p, "6M")
		vxQemuIO(t, p, "write -P 7 1048576 512", "write -P 9 5242880 1024")
		seeds["qemu-"+sub] = vxSeed{file: vxMustRead(t, p), write: true}
	}

	// Pending logs, built like the log tests build them.
	pending := func(name string, spoil func(c *vxCrash, pos int64)) {
		p := ours(name, CreateOptions{Size: 8 << 20, BlockSize: 1 << 20})
		c := vxCrashOpen(t, p)
		blk := c.newBlock(vxFill(64, 0x44))
		g := newGUID()
		c.setLogGUID(g)
		end := c.size()
		block0 := int64(binary.LittleEndian.Uint64(c.read(c.batOff, 8)) & batOffsetMask)
		pos := int64(0)
		if spoil == nil {
			pos = c.logLen - logSector // wraps
		}
		n := c.entry(pos, logEntryParams{guid: g, seq: 5, tail: pos, flushed: end, last: end, writes: []logWrite{
			c.batSector(map[int]uint64{6: uint64(blk) | batFullyPresent}),
			{off: block0 + 8192, data: vxFill(4096, 0)},
			{off: block0, zeroLen: 4096},
		}})
		if spoil != nil {
			spoil(c, n)
		}
		seeds[name] = vxSeed{file: vxMustRead(t, p), write: true}
	}
	pending("pending-log-wrapped", nil)
	pending("pending-log-torn-second", func(c *vxCrash, pos int64) {
		end := c.size()
		c.entry(pos, logEntryParams{guid: c.hdr.LogGUID, seq: 6, tail: 0, flushed: end, last: end,
			writes: []logWrite{{off: c.batOff + 4096, zeroLen: 4096}}})
		c.write([]byte{1}, c.logOff+pos+100)
	})

	// Damaged copies of ours (block 0 is allocated there).
	base := seeds["ours-dynamic-1M"].file
	for name, edit := range map[string]func(b []byte){
		"damaged-bat-overlap":  func(b []byte) { copy(b[createBATOff+3*8:], b[createBATOff:createBATOff+8]) },
		"damaged-bat-state7":   func(b []byte) { b[createBATOff] |= batPartiallyPresent },
		"damaged-differencing": func(b []byte) { vxMetaItem(b, 0)[4] |= fileParamHasParent },
		"damaged-meta-overlap": func(b []byte) {
			vxEditMeta(b, func(ms []metaEntry) []metaEntry { ms[1].Len = 12; return ms })
		},
	} {
		b := append([]byte(nil), base...)
		edit(b)
		seeds[name] = vxSeed{file: b, fix: true}
	}
	return seeds
}
