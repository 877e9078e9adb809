package lab

import (
	"math/rand/v2"
	"sort"
)

// A lab disk's content is a list of regions, each filled by a deterministic
// generator: the same seed gives the same bytes, so the Azure blob and the
// on-premises image are written from one description without holding a
// whole disk in memory.

// regionKind says what a region looks like.
type regionKind int

const (
	kindRandom  regionKind = iota // compressed files, binaries: incompressible
	kindText                      // logs, configuration: words and lines
	kindRecords                   // file-system metadata: 1 KiB records
	kindDBPages                   // database pages: 8 KiB, header and rows
	kindZero                      // a freed range (TRIM): reads as zeros
	kindRaw                       // fixed bytes (the partition table)
)

// region is one run of a disk's content.
type region struct {
	Off, Len int64
	Kind     regionKind
	Seed     uint64
	// Raw holds the bytes of a kindRaw region.
	Raw []byte
}

// dataBytes sums the lengths of the regions that hold data.
func dataBytes(rs []region) int64 {
	var n int64
	for _, r := range rs {
		if r.Kind != kindZero {
			n += r.Len
		}
	}
	return n
}

const (
	kib = int64(1) << 10
	mib = int64(1) << 20
)

// alignDown rounds n down to a multiple of a (a power of two).
func alignDown(n, a int64) int64 { return n &^ (a - 1) }

// diskLayout describes a disk as of the failover: a partition table, file
// system metadata, system files, a database (the hot region the running VM
// keeps writing) and scattered files; everything else is unallocated
// zeros. About 5% of the disk holds data.
type diskLayout struct {
	Size    int64
	Regions []region
	// HotOff and HotLen place the database: where the VM writes most.
	HotOff, HotLen int64
}

// hotRegion is where a disk of the given size keeps its database. It is a
// function of the size alone, so one writer setting fits all disks of a VM.
func hotRegion(size int64) (off, n int64) {
	off = alignDown(size/4, mib)
	n = max(alignDown(size*3/100, 64*kib), 256*kib)
	return off, n
}

// layoutDisk builds the content of one disk. gpt selects a GPT (generation
// 2) or MBR (generation 1) partition table; data disks get a bigger
// database and no boot partition.
func layoutDisk(size int64, seed uint64, gpt, dataDisk bool) diskLayout {
	rng := rand.New(rand.NewPCG(seed, seed^0x9E3779B97F4A7C15))
	next := func() uint64 { return rng.Uint64() }
	l := diskLayout{Size: size}
	pt := partitionTable(size, seed, gpt, dataDisk)
	l.Regions = append(l.Regions, pt...)

	partStart := mib
	if gpt && !dataDisk {
		esp := espSize(size)
		// The EFI system partition: a boot loader and a few small files.
		l.Regions = append(l.Regions, region{Off: partStart, Len: min(esp/8, 2*mib), Kind: kindRandom, Seed: next()})
		partStart += esp + msrSize(size)
	}
	// File-system metadata at the start of the data partition.
	meta := max(alignDown(size/128, 64*kib), 256*kib)
	l.Regions = append(l.Regions, region{Off: partStart, Len: meta, Kind: kindRecords, Seed: next()})
	sysOff := partStart + meta
	if !dataDisk {
		// System files: binaries and text, mixed.
		sysLen := alignDown(size/80, 64*kib)
		for o := sysOff; o < sysOff+sysLen; {
			n := min(int64(16+rng.IntN(240))*4*kib, sysOff+sysLen-o)
			k := kindRandom
			if rng.IntN(3) == 0 {
				k = kindText
			}
			l.Regions = append(l.Regions, region{Off: o, Len: n, Kind: k, Seed: next()})
			o += n
		}
	}
	l.HotOff, l.HotLen = hotRegion(size)
	dbLen := l.HotLen
	if dataDisk {
		dbLen = max(alignDown(size*6/100, 64*kib), dbLen)
	}
	l.Regions = append(l.Regions, region{Off: l.HotOff, Len: dbLen, Kind: kindDBPages, Seed: next()})

	// Scattered files in the second half of the partition.
	lo, hi := l.HotOff+dbLen+mib, size-2*mib
	files := 8 + rng.IntN(6)
	for range files {
		if hi-lo < mib {
			break
		}
		n := int64(1+rng.IntN(128)) * 4 * kib
		n = min(n, hi-lo)
		off := lo + alignDown(rng.Int64N(hi-lo-n+1), 4*kib)
		k := kindRandom
		if rng.IntN(2) == 0 {
			k = kindText
		}
		l.Regions = append(l.Regions, region{Off: off, Len: n, Kind: k, Seed: next()})
	}
	sortRegions(l.Regions)
	return l
}

// sortRegions orders regions by offset; overlapping ones are written in
// that order, so the later one wins where they overlap.
func sortRegions(rs []region) {
	sort.SliceStable(rs, func(i, j int) bool { return rs[i].Off < rs[j].Off })
}

// divergence is what happens on Azure after the failover, before the lab
// starts: the database changes, a new file appears, an old one is deleted
// (its pages trimmed). Only the Azure disk gets it, so a delta sync has
// real, small work: a few percent of the blocks.
func divergence(l diskLayout, seed uint64) []region {
	rng := rand.New(rand.NewPCG(seed, seed^0xD1B54A32D192ED03))
	next := func() uint64 { return rng.Uint64() }
	var out []region
	// Database updates: 8 KiB-aligned page writes in the hot region.
	updates := 16 + rng.IntN(32)
	for range updates {
		n := int64(1+rng.IntN(8)) * 8 * kib
		n = min(n, l.HotLen)
		off := l.HotOff + alignDown(rng.Int64N(l.HotLen-n+1), 8*kib)
		out = append(out, region{Off: off, Len: n, Kind: kindDBPages, Seed: next()})
	}
	// A new file in space that was free at the failover.
	n := int64(128+rng.IntN(384)) * 4 * kib
	free := l.freeRange(n, rng)
	if free >= 0 {
		out = append(out, region{Off: free, Len: n, Kind: kindText, Seed: next()})
	}
	// A deleted file: its range is trimmed, so it reads as zeros.
	var files []region
	for _, r := range l.Regions {
		if r.Off > l.HotOff+l.HotLen && r.Kind != kindRaw {
			files = append(files, r)
		}
	}
	if len(files) > 0 {
		f := files[rng.IntN(len(files))]
		out = append(out, region{Off: f.Off, Len: f.Len, Kind: kindZero})
	}
	sortRegions(out)
	return out
}

// freeRange finds an aligned range of n bytes that no region uses, or -1.
func (l diskLayout) freeRange(n int64, rng *rand.Rand) int64 {
	lo, hi := l.HotOff+l.HotLen+mib, l.Size-2*mib
	for range 64 {
		if hi-lo <= n {
			return -1
		}
		off := lo + alignDown(rng.Int64N(hi-lo-n), mib)
		clash := false
		for _, r := range l.Regions {
			if off < r.Off+r.Len && r.Off < off+n {
				clash = true
				break
			}
		}
		if !clash {
			return off
		}
	}
	return -1
}

// regionFiller produces a region's bytes in order, a chunk at a time. The
// bytes depend only on the region and the chunk size, so writers use
// chunkSize throughout.
type regionFiller struct {
	r   region
	rng *rand.Rand
	pos int64
}

func newFiller(r region) *regionFiller {
	return &regionFiller{r: r, rng: rand.New(rand.NewPCG(r.Seed, r.Seed^0xA0761D6478BD642F))}
}

// fill writes the next len(p) bytes of the region into p.
func (f *regionFiller) fill(p []byte) {
	switch f.r.Kind {
	case kindZero:
		clear(p)
	case kindRaw:
		copy(p, f.r.Raw[f.pos:])
	case kindText:
		fillText(p, f.rng)
	case kindRecords:
		fillRecords(p, f.rng, f.pos)
	case kindDBPages:
		fillDBPages(p, f.rng, f.pos)
	default:
		fillRandom(p, f.rng)
	}
	f.pos += int64(len(p))
}

func fillRandom(p []byte, rng *rand.Rand) {
	i := 0
	for ; i+8 <= len(p); i += 8 {
		v := rng.Uint64()
		p[i], p[i+1], p[i+2], p[i+3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
		p[i+4], p[i+5], p[i+6], p[i+7] = byte(v>>32), byte(v>>40), byte(v>>48), byte(v>>56)
	}
	for ; i < len(p); i++ {
		p[i] = byte(rng.Uint32())
	}
}

var words = []string{
	"failback", "azure", "hyper-v", "replica", "snapshot", "page", "blob", "disk",
	"INFO", "WARN", "service", "started", "request", "GET", "/api/orders", "200",
	"user", "session", "commit", "checkpoint", "database", "index", "backup", "ok",
	"web01", "db01", "latency_ms=12", "bytes=4096", "retry", "connected", "closed", "the",
}

// fillText writes log-like lines of words, space padded at the end.
func fillText(p []byte, rng *rand.Rand) {
	i := 0
	for i < len(p) {
		w := words[rng.IntN(len(words))]
		sep := byte(' ')
		if rng.IntN(10) == 0 {
			sep = '\n'
		}
		if i+len(w)+1 > len(p) {
			for ; i < len(p); i++ {
				p[i] = ' '
			}
			break
		}
		i += copy(p[i:], w)
		p[i] = sep
		i++
	}
}

// fillRecords writes 1 KiB records like an NTFS MFT: a "FILE" signature,
// a record number, then mostly small random attributes and zeros.
func fillRecords(p []byte, rng *rand.Rand, pos int64) {
	clear(p)
	for o := 0; o+1024 <= len(p); o += 1024 {
		rec := p[o : o+1024]
		copy(rec, "FILE0")
		n := uint64(pos+int64(o)) / 1024
		for j := range 8 {
			rec[8+j] = byte(n >> (8 * j))
		}
		fillRandom(rec[48:48+64+rng.IntN(256)], rng)
	}
}

// fillDBPages writes 8 KiB database pages: a header with the page number,
// rows of random data, free space at the end of each page.
func fillDBPages(p []byte, rng *rand.Rand, pos int64) {
	clear(p)
	for o := 0; o < len(p); o += 8192 {
		page := p[o:min(o+8192, len(p))]
		n := uint64(pos+int64(o)) / 8192
		copy(page, "PAGE")
		for j := 0; j < 8 && 4+j < len(page); j++ {
			page[4+j] = byte(n >> (8 * j))
		}
		used := min(96+rng.IntN(8000), len(page))
		if used > 96 {
			fillRandom(page[96:used], rng)
		}
	}
}
