package workflow

import (
	"context"
	"fmt"
	"strings"

	"github.com/failback/failback/azure"
)

// The workflow reaches an Azure disk only through azure.VMDisk, opened by
// reference with Deps.Disks; the reference comes from the VM's storage
// profile and config.toml (discover.go).

// openDisk opens the Azure side of a job's disk.
func (j *job) openDisk(ctx context.Context, d diskRecord) (azure.VMDisk, error) {
	return j.m.openDisk(ctx, d.Azure)
}

// openDisk opens an Azure disk by reference; the error names it.
func (m *Manager) openDisk(ctx context.Context, ref azure.DiskRef) (azure.VMDisk, error) {
	if m.deps.Disks == nil {
		return nil, fmt.Errorf("disk %s: this view of the jobs has no connection to Azure", ref)
	}
	return m.deps.Disks.OpenVMDisk(ctx, ref)
}

// cryptName names an encrypted disk for the certificate check and the
// data keys: "vm/container/blob" for a page blob.
func cryptName(vm string, ref azure.DiskRef) string { return vm + "/" + ref.String() }

// lastPart is the last part of an ARM id: the resource's name.
func lastPart(id string) string {
	if i := strings.LastIndexByte(id, '/'); i >= 0 {
		return id[i+1:]
	}
	return id
}
