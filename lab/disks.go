package lab

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/failback/failback/azure"
	"github.com/failback/failback/crypt"
	"github.com/failback/failback/engine"
	"github.com/failback/failback/hyperv"
	"github.com/failback/failback/internal/labarm"
	"github.com/failback/failback/vdisk"
)

// chunkSize is the unit in which region content is generated and written
// (the generators' output depends on it, see regionFiller).
const chunkSize = 1 << 20

// vhdxBlockSize is the lab images' VHDX block size: small, so the images
// stay small on the lab's file system (Hyper-V's default is 32 MiB).
const vhdxBlockSize = 2 << 20

// diskSeed derives a disk's content seed from the lab seed.
func diskSeed(seed uint64, vm, disk int) uint64 {
	return seed*0x9E3779B97F4A7C15 ^ uint64(vm+1)<<32 ^ uint64(disk+1)
}

// buildDisks makes every VM's Azure disks (managed disks through the lab
// ARM builder, page blobs in the storage account) and writes them: the
// content as of the failover to both the Azure disk and hv01's VHDX, then
// the changes Azure made since only to the Azure disk. Disks are built in
// parallel.
func buildDisks(ctx context.Context, st *azure.Storage, arm *labarm.Server, m *Manifest, enc *labCert) error {
	if err := st.CreateContainer(ctx, m.Container); err != nil {
		return err
	}
	type job struct{ vm, disk int }
	var jobs []job
	for i, v := range m.VMs {
		for j := range v.Disks {
			jobs = append(jobs, job{i, j})
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	sem := make(chan struct{}, 8)
	for _, jb := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			v := &m.VMs[jb.vm]
			d := &v.Disks[jb.disk]
			err := buildDisk(ctx, st, arm, m.ResourceGroup, d, v, diskSeed(m.Seed, jb.vm, jb.disk), jb.disk > 0, enc)
			if err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = fmt.Errorf("build disk %s of VM %s: %w", d.Describe(), v.Name, err)
					cancel()
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return firstErr
}

func buildDisk(ctx context.Context, st *azure.Storage, arm *labarm.Server, rg string, d *Disk, v *VM, seed uint64, dataDisk bool, enc *labCert) error {
	layout := layoutDisk(d.Size, seed, v.Generation == 2, dataDisk)
	changes := divergence(layout, seed+1)
	d.DataBytes, d.ChangedBytes = dataBytes(layout.Regions), 0
	for _, r := range changes {
		d.ChangedBytes += r.Len
	}

	var opts azure.CreateDiskOptions
	var key *crypt.DataKey
	if v.Encrypted {
		k, meta, err := crypt.NewDiskKey(enc.x509)
		if err != nil {
			return err
		}
		defer k.Destroy()
		key, opts.Metadata = k, meta.Strings()
	}
	disk, err := createAzureDisk(ctx, st, arm, rg, d, opts)
	if err != nil {
		return err
	}
	blob, err := disk.OpenTarget(ctx)
	if err != nil {
		return err
	}
	var cloud engine.Target = blob
	if key != nil {
		if cloud, err = crypt.EncryptingTarget(blob, key); err != nil {
			return err
		}
	}

	if err := os.MkdirAll(filepath.Dir(d.Image), 0o755); err != nil {
		return err
	}
	img, err := vdisk.Create(d.Image, vdisk.CreateOptions{Format: vdisk.VHDX, Size: d.Size, BlockSize: vhdxBlockSize})
	if err != nil {
		return fmt.Errorf("create %s: %w", d.Image, err)
	}
	onprem := engine.ImageTarget(img)
	err = writeRegions(ctx, layout.Regions, onprem, cloud)
	if cerr := img.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	// Azure moved on after the failover; the on-premises copy did not.
	return writeRegions(ctx, changes, cloud)
}

// createAzureDisk makes the disk in Azure: a managed disk through the ARM
// builder (then d.Blob names the blob behind it), or a page blob.
func createAzureDisk(ctx context.Context, st *azure.Storage, arm *labarm.Server, rg string, d *Disk, opts azure.CreateDiskOptions) (*azure.Disk, error) {
	if d.Managed == "" {
		cont, name := splitBlob(d.Blob)
		return st.CreateDisk(ctx, cont, name, d.Size, opts)
	}
	if len(opts.Metadata) > 0 {
		return nil, fmt.Errorf("managed disk %s: the lab encrypts page blobs only (the replica format lives in blob metadata)", d.Managed)
	}
	if _, err := arm.CreateDisk(ctx, rg, d.Managed, d.Size, d.SKU); err != nil {
		return nil, err
	}
	cont, name, err := arm.DiskBlob(rg, d.Managed)
	if err != nil {
		return nil, err
	}
	d.Blob = cont + "/" + name
	return st.OpenDisk(ctx, cont, name)
}

// writeRegions writes the regions' content to every target, in order, in
// writes of up to 4 MiB (Azure's largest Put Page: fewer, larger requests).
func writeRegions(ctx context.Context, rs []region, targets ...engine.Target) error {
	buf := make([]byte, 4*chunkSize)
	for _, r := range rs {
		if r.Kind == kindZero {
			for _, t := range targets {
				if err := zeroRange(ctx, t, r.Off, r.Len); err != nil {
					return err
				}
			}
			continue
		}
		f := newFiller(r)
		for o := int64(0); o < r.Len; {
			n := min(int64(len(buf)), r.Len-o)
			for p := int64(0); p < n; p += chunkSize {
				f.fill(buf[p:min(p+chunkSize, n)])
			}
			for _, t := range targets {
				if err := t.WriteAt(ctx, buf[:n], r.Off+o); err != nil {
					return err
				}
			}
			o += n
		}
	}
	return nil
}

// zeroRange makes [off, off+n) of t read as zeros (trimmed where t can).
func zeroRange(ctx context.Context, t engine.Target, off, n int64) error {
	if z, ok := t.(engine.Zeroer); ok {
		return z.WriteZeroes(ctx, off, n)
	}
	zero := make([]byte, min(n, chunkSize))
	for o := int64(0); o < n; o += int64(len(zero)) {
		if err := t.WriteAt(ctx, zero[:min(int64(len(zero)), n-o)], off+o); err != nil {
			return err
		}
	}
	return nil
}

// splitBlob splits "container/name".
func splitBlob(b string) (string, string) {
	c, n, _ := strings.Cut(b, "/")
	return c, n
}

// createVMs records each VM on hv01 (off, with its disks as of the
// failover) and makes it in the lab's Azure through the ARM builder:
// running, with its disks attached, its NIC and public IP.
func createVMs(ctx context.Context, m *Manifest, hosts map[string]*hyperv.LabHost, arm *labarm.Server) error {
	for _, v := range m.VMs {
		spec := hyperv.VMSpec{Name: v.Name, Generation: v.Generation, CPUCount: v.CPUs, MemoryBytes: v.Memory, SwitchName: SwitchName}
		as := labarm.VMSpec{RG: m.ResourceGroup, Name: v.Name, Size: v.Size,
			NICs: []labarm.NICSpec{{Name: v.NIC, DeleteOption: v.NICDeleteOption, PublicIP: v.PublicIP, PublicIPDeleteOption: v.PublicIPDeleteOption}}}
		for i, d := range v.Disks {
			c := hyperv.Controller{Type: hyperv.SCSI, Number: 0, Location: i}
			if v.Generation == 1 {
				c = hyperv.Controller{Type: hyperv.IDE, Number: i / 2, Location: i % 2}
			}
			spec.Disks = append(spec.Disks, hyperv.DiskSpec{HostPath: d.Image, Controller: c, VirtualSize: d.Size, Existing: true})
			ds := labarm.DiskSpec{LUN: int32(d.LUN), Disk: d.Managed, DeleteOption: d.DeleteOption}
			if d.Managed == "" {
				ds.Container, ds.Blob = splitBlob(d.Blob)
			}
			if d.OS {
				as.OSDisk = ds
			} else {
				as.DataDisks = append(as.DataDisks, ds)
			}
		}
		if _, err := hosts[v.HostOf()].CreateVM(ctx, spec); err != nil {
			return fmt.Errorf("register %s on %s: %w", v.Name, v.HostOf(), err)
		}
		if _, err := arm.CreateVM(ctx, as); err != nil {
			return fmt.Errorf("create lab Azure VM %s: %w", v.Name, err)
		}
	}
	return nil
}
