package cli

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/failback/failback/azure"
	"github.com/failback/failback/internal/units"
	"github.com/failback/failback/workflow"
	"github.com/failback/failback/workflow/labtest"
)

// allocatedBytes is what a disk holds in Azure (its allocated pages).
func allocatedBytes(t *testing.T, l *labtest.Lab, blob string) int64 {
	t.Helper()
	ctx := context.Background()
	d, err := l.Storage.OpenDisk(ctx, l.Container, blob)
	if err != nil {
		t.Fatal(err)
	}
	sn, err := d.CreateSnapshot(ctx, azure.SnapshotOptions{Purpose: "test"})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = d.DeleteSnapshot(ctx, sn.ID) }()
	src, err := d.OpenSnapshot(ctx, sn.ID)
	if err != nil {
		t.Fatal(err)
	}
	ext, err := src.Allocated(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, e := range ext {
		n += e.Len
	}
	return n
}

// A delta failback through the agent, as config.toml names it: the
// status (JSON and plain) shows per disk what the agent checked in Azure
// and what crossed the link, far less than the disk's allocated bytes,
// and the disk is right.
func TestDeltaRunThroughTheAgentShowsWhatCrossedTheLink(t *testing.T) {
	// A driver writing through a share reads through the agent (movers: workflow TestMoversReadThroughTheAgent).
	l := labtest.New(t, labtest.Options{VMs: []labtest.VM{{Name: "files", Disks: []int64{16 << 20}}}, Share: true})
	l.StartAgent()
	blob := l.Blob("files", 0)
	alloc := allocatedBytes(t, l, blob)

	out, errOut, code := wfCLI(t, l, "run", "--vm", "files", "--sync", "delta", "--yes")
	if code != 0 {
		t.Fatalf("run exit %d\n%s\n%s", code, out, errOut)
	}
	id := lastLine(out)
	out, _, code = wfCLI(t, l, "status", id, "--json")
	var v workflow.JobView
	if code != 0 || json.Unmarshal([]byte(out), &v) != nil || v.State != workflow.StateReady {
		t.Fatalf("status --json (exit %d): %s", code, out)
	}
	d := v.VMs[0].Disks[0]
	a := d.Agent
	if a == nil {
		t.Fatalf("no agent figures for a disk read through the agent: %+v\n%s", d, errOut)
	}
	if a.AzureChecked < alloc || a.LinkBytes <= 0 || a.LinkBytes*2 > alloc || a.BlockBytes < d.BytesTransferred || a.Fallback || a.DirectBytes != 0 {
		t.Fatalf("agent figures (allocated %d, transferred %d): %+v", alloc, d.BytesTransferred, *a)
	}
	if !strings.Contains(out, `"azure_checked":`) || !strings.Contains(out, `"link_bytes":`) {
		t.Fatalf("status --json lacks the agent's figures: %s", out)
	}
	t.Logf("allocated %d; agent %+v", alloc, *a)
	plain, _, code := wfCLI(t, l, "status", id)
	if code != 0 || !strings.Contains(plain, "via agent: checked "+units.Bytes(a.AzureChecked)+" in Azure, link "+units.Bytes(a.LinkBytes)) {
		t.Fatalf("plain status (exit %d):\n%s", code, plain)
	}
	if i := labtest.FirstDiff(l.BlobBytes(blob), labtest.ImageBytes(t, l.Image("files", 0))); i >= 0 {
		t.Fatalf("the disk differs from its blob at byte %d after phase 1 through the agent", i)
	}
}
