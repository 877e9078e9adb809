package workflow

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/failback/failback/azure"
	"github.com/failback/failback/engine"
	"github.com/failback/failback/hyperv"
	"github.com/failback/failback/vdisk"
)

// The pre-flight's room check. Phase 1 (or a full download) needs room in
// two places: where each dynamic image grows (its volume on the Hyper-V
// host: every block the job writes that is unallocated now becomes
// allocated) and where the undo journals go (the mover's state folder on
// the host, or for a share the state folder's volume on this machine: the
// old bytes of every allocated block that changes). A
// job that runs out of either dies with ENOSPC in the middle of phase 1,
// so the pre-flight adds both up per volume and refuses with the figures.
//
// The figures are upper bounds:
//   - growth: the blocks of the image that are unallocated now and that
//     the Azure disk's allocated ranges touch, at the image's block size
//     (a VHD's sector bitmap counted too). A page blob lists its ranges
//     without a snapshot; a managed disk cannot (it needs a snapshot or a
//     grant, and the pre-flight changes nothing), so then every
//     unallocated block counts and the detail says "at most".
//   - journal: every allocated block of the image, at the engine's block
//     size (a block the Azure disk no longer holds is zeroed, and its old
//     bytes journaled too), plus the records' overhead.
//   - a margin per volume (roomMargin) for the catch-up and final passes'
//     journals (the changes since phase 1), file-system metadata and
//     rounding.
//
// Images that do not exist yet (a VM to create) are counted by
// hyperv.CheckAlternate (checkPlace); images that do not open, or whose
// size differs from the Azure disk's, are refused by checkImage.

const (
	// roomMarginMin and roomMarginPct: the margin per volume is the
	// larger of 64 MiB and 2% of what was counted.
	roomMarginMin = 64 << 20
	roomMarginPct = 2
	// journalPerBlock is the journals' overhead per engine block of a
	// disk: a 24-byte undo record header, a 24-byte resume record and a
	// checksum, rounded up.
	journalPerBlock = 64
	// liveListTimeout bounds listing one Azure disk's allocated ranges.
	liveListTimeout = 2 * time.Minute
)

// stateSpace measures the state folder's volume (replaced by tests).
var stateSpace = hyperv.LocalFreeSpace

// liveLister is an Azure disk that lists its allocated ranges without a
// snapshot (a page blob: azure.Disk.LiveAllocated).
type liveLister interface {
	LiveAllocated(ctx context.Context) ([]engine.Extent, error)
}

// volumeRoom adds up what one volume must take.
type volumeRoom struct {
	host   string // "" for this machine (the state folder)
	volume string
	folder string
	free   int64
	err    error
	need   int64
	bound  bool // some part is an upper bound only
	// soft says the figure is a worst case the job is unlikely to reach
	// (a managed disk's growth counted as every unallocated block, the
	// journals of a delta sync counted as if every block changed):
	// exceeding it is a warning, and only a volume without room for the
	// margin itself is refused. A job that does fill a volume stops
	// before it overwrites anything (its journal records come first) and
	// resumes once there is room.
	soft bool
	// journals says the volume takes a host mover's journals.
	journals bool
	vms      []string
	parts    []string
}

func (v *volumeRoom) add(vm string, n int64, bound bool, part string) {
	v.need += n
	v.bound = v.bound || bound
	if len(v.vms) == 0 || v.vms[len(v.vms)-1] != vm {
		v.vms = append(v.vms, vm)
	}
	v.parts = append(v.parts, part)
}

// checkRoom adds a row per volume that must take growth or journals;
// full says every block is written (a full download), so the journals'
// figure is what they will take, not a worst case.
func (m *Manager) checkRoom(ctx context.Context, p *prepared, full bool) {
	hostVols := map[string]*volumeRoom{}
	measured := map[string]hyperv.Space{}
	var order []string
	state := &volumeRoom{folder: m.paths.root, soft: !full}
	bs := m.cfg.Engine.BlockSize.Bytes()
	if bs <= 0 {
		bs = engine.DefaultBlockSize
	}
	for i, t := range p.targets {
		if t.api == nil || t.apiErr != nil || t.getErr != nil || (p.alternate && t.hostName == t.vm.Host) {
			continue // checkHost said why
		}
		for k, d := range t.disks {
			var src azure.VMDisk
			if i < len(p.disks) && k < len(p.disks[i]) {
				src = p.disks[i][k]
			}
			g, ok := m.imageRoom(ctx, t, d, src, bs)
			if !ok {
				continue
			}
			name := t.vm.Name + " " + hostBase(d.image)
			journals := state
			if t.usesMover() && !p.testCopiesElsewhere(t) {
				// The host's mover keeps the journals in its state folder.
				journals = m.moverStateRoom(ctx, t, hostVols, &order, !full)
			}
			journals.add(t.vm.Name, g.journal, false, fmt.Sprintf("%s %s", name, bytesText(g.journal)))
			if g.growth == 0 {
				continue
			}
			folder := hyperv.HostDir(d.image)
			sp, err := measured[t.hostName+"\x00"+folder], error(nil)
			if sp.Volume == "" { // one question per folder: over SSH each takes seconds
				if sp, err = t.api.FreeSpace(ctx, folder); err == nil {
					measured[t.hostName+"\x00"+folder] = sp
				}
			}
			key := t.hostName + "\x00" + sp.Volume
			if err != nil {
				key = t.hostName + "\x00" + folder
			}
			v := hostVols[key]
			if v == nil {
				v = &volumeRoom{host: t.hostName, volume: sp.Volume, folder: folder, free: sp.Free, err: err}
				hostVols[key] = v
				order = append(order, key)
			}
			part := fmt.Sprintf("%s grows by %s", name, bytesText(g.growth))
			if g.bound {
				part = fmt.Sprintf("%s grows by at most %s (%s)", name, bytesText(g.growth), g.why)
			}
			v.add(t.vm.Name, g.growth, g.bound, part)
		}
	}
	sort.Strings(order)
	for _, k := range order {
		p.add(hostVols[k].row())
	}
	if len(state.parts) > 0 {
		sp, err := stateSpace(state.folder)
		state.volume, state.free, state.err = sp.Volume, sp.Free, err
		p.add(state.row())
	}
}

// moverStateRoom is the volume of t's host where its mover keeps the
// journals, measured once per host.
func (m *Manager) moverStateRoom(ctx context.Context, t *target, vols map[string]*volumeRoom, order *[]string, soft bool) *volumeRoom {
	key := t.hostName + "\x00mover-state"
	if v := vols[key]; v != nil {
		return v
	}
	v := &volumeRoom{host: t.hostName, folder: t.hc.MoverStateDir(), journals: true, soft: soft}
	if c := m.deps.Movers[t.hostName]; c == nil {
		v.err = errNoMoverFor(t.hostName)
	} else if sp, err := c.StateSpace(ctx); err != nil {
		v.err = err
	} else {
		v.volume, v.free, v.folder = sp.Volume, sp.Free, sp.Folder
	}
	vols[key] = v
	*order = append(*order, key)
	return v
}

// row turns the sum into a check: OK when need and margin fit.
func (v *volumeRoom) row() CheckRow {
	where := "on " + v.host
	what := "room for the images' growth on " + v.volume + " of " + v.host
	switch {
	case v.host == "":
		where = "here (the state folder " + v.folder + ")"
		what = "room for the undo journals on " + v.volume + " (state folder " + v.folder + ")"
	case v.journals:
		what = "room for the undo journals on " + v.volume + " of " + v.host + " (the mover's state folder " + v.folder + ")"
	}
	vm := ""
	if len(v.vms) == 1 {
		vm = v.vms[0]
	}
	if v.err != nil {
		return CheckRow{VM: vm, What: "room " + where + " (" + v.folder + ")", Detail: v.err.Error(),
			Fix: fixFor(v.err, "check that "+v.folder+" can be reached and measured")}
	}
	margin := max(roomMarginMin, v.need*roomMarginPct/100)
	need := v.need + margin
	at := ""
	if v.bound {
		at = "at most "
	}
	soft := v.soft || v.bound
	row := CheckRow{VM: vm, What: what, OK: need <= v.free || soft && margin <= v.free,
		Detail: fmt.Sprintf("need %s%s on %s, %s free: %s, plus a margin of %s", at, bytesText(need), v.volume, bytesText(v.free),
			strings.Join(v.parts, ", "), bytesText(need-v.need))}
	if v.host == "" || v.journals {
		row.Detail = fmt.Sprintf("need %s on %s, %s free: the old bytes of every allocated image block, at most (%s), with their records and a margin",
			bytesText(need), v.volume, bytesText(v.free), strings.Join(v.parts, ", "))
	}
	if row.OK {
		if need > v.free {
			row.Detail = "warning, a worst case only: " + row.Detail + "; if the volume fills, the job stops before it overwrites anything and resumes once there is room"
		}
		return row
	}
	short := bytesText(need - v.free)
	if v.journals {
		row.Fix = fmt.Sprintf("free %s on %s of %s (the mover's state folder %s), or set mover_dir of host %s to a folder on a volume with room (the undo journals go there); then run the pre-flight again", short, v.volume, v.host, v.folder, v.host)
		return row
	}
	if v.host == "" {
		row.Fix = fmt.Sprintf("free %s on the volume of %s, or set state_dir in config.toml to a folder on a volume with room (the undo journals go there); then run the pre-flight again", short, v.folder)
		return row
	}
	row.Fix = fmt.Sprintf("free %s on %s of %s (the folder %s), or fail back to an alternate location with room; then run the pre-flight again", short, v.volume, v.host, v.folder)
	row.CLIFix = fmt.Sprintf("free %s on %s of %s (the folder %s), or fail back to an alternate location with room (--location alternate --host HOST); then run the pre-flight again", short, v.volume, v.host, v.folder)
	return row
}

// diskRoom is what one image needs.
type diskRoom struct {
	growth  int64 // on the image's volume
	journal int64 // in the state folder
	bound   bool  // growth counts every unallocated block
	why     string
}

// imageRoom measures one existing image against its Azure disk; false
// when the image is not there or not readable (other checks say so).
func (m *Manager) imageRoom(ctx context.Context, t *target, d targetDisk, src azure.VMDisk, engineBlock int64) (diskRoom, bool) {
	if !d.reachable(t) {
		return diskRoom{}, false
	}
	im, err := m.inspect(ctx, t, d, true, false)
	if err != nil || im.Info == nil || im.Problem != "" {
		return diskRoom{}, false
	}
	info := *im.Info
	size := info.VirtualSize
	if src != nil && src.Size() != size {
		return diskRoom{}, false
	}
	alloc := im.Allocated
	var r diskRoom
	r.journal = blockCount(alloc, engineBlock, size, true)*engineBlock + journalPerBlock*ceilDiv(size, engineBlock)
	if info.Fixed {
		return r, true
	}
	data := []vdisk.Extent{{Off: 0, Len: size}}
	r.bound, r.why = true, "every unallocated block: the Azure disk's allocation cannot be listed without a snapshot"
	if l, ok := src.(liveLister); ok {
		lctx, cancel := context.WithTimeout(ctx, liveListTimeout)
		ex, err := l.LiveAllocated(lctx)
		cancel()
		if err == nil {
			data, r.bound, r.why = ex, false, ""
		} else {
			r.why = "every unallocated block: listing the Azure disk's ranges failed: " + err.Error()
		}
	}
	gran, per := info.BlockSize, info.BlockSize
	switch {
	case info.Format == vdisk.Raw || gran <= 0:
		gran, per = 4096, 4096
	case info.Format == vdisk.VHD:
		per += (gran/4096 + 511) / 512 * 512 // the block's sector bitmap
	}
	touched := blockRuns(data, gran, size, true)
	present := blockRuns(alloc, gran, size, false)
	r.growth = (runsLen(touched) - overlapLen(touched, present)) * per
	return r, true
}

// blockRun is the block indexes [first, end).
type blockRun struct{ first, end int64 }

// blockRuns turns extents into sorted, merged runs of the blocks they
// touch (outward) or cover whole (inward; the disk's last block counts
// as whole up to the disk's end).
func blockRuns(ex []vdisk.Extent, gran, size int64, outward bool) []blockRun {
	var out []blockRun
	for _, e := range vdisk.NormalizeExtents(ex, size) {
		r := blockRun{first: e.Off / gran, end: ceilDiv(e.End(), gran)}
		if !outward {
			r.first = ceilDiv(e.Off, gran)
			if e.End() < size {
				r.end = e.End() / gran
			}
		}
		if r.end <= r.first {
			continue
		}
		if n := len(out); n > 0 && out[n-1].end >= r.first {
			out[n-1].end = max(out[n-1].end, r.end)
			continue
		}
		out = append(out, r)
	}
	return out
}

// blockCount is how many blocks the extents touch (or cover whole).
func blockCount(ex []vdisk.Extent, gran, size int64, outward bool) int64 {
	return runsLen(blockRuns(ex, gran, size, outward))
}

func runsLen(rs []blockRun) int64 {
	var n int64
	for _, r := range rs {
		n += r.end - r.first
	}
	return n
}

// overlapLen is how many blocks two sorted, merged run lists share.
func overlapLen(a, b []blockRun) int64 {
	var n int64
	for i, j := 0, 0; i < len(a) && j < len(b); {
		lo, hi := max(a[i].first, b[j].first), min(a[i].end, b[j].end)
		if hi > lo {
			n += hi - lo
		}
		if a[i].end < b[j].end {
			i++
		} else {
			j++
		}
	}
	return n
}

func ceilDiv(a, b int64) int64 { return (a + b - 1) / b }
