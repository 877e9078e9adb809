package cli

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/failback/failback/workflow"
	"github.com/failback/failback/workflow/labtest"
)

// failback plans reads every disk's size from the storage account (and
// says why one cannot be read); --no-sizes lists the configuration alone.
func TestPlansShowDiskSizesFromStorage(t *testing.T) {
	l := labtest.New(t, labtest.Options{VMs: []labtest.VM{{Name: "files", Disks: []int64{4 << 20, 2 << 20}}, {Name: "gone", Disks: []int64{1 << 20}}},
		Plans: map[string][][]string{"shop": {{"files"}, {"gone"}}}})
	if err := l.Storage.DeleteDisk(context.Background(), l.Container, l.Blob("gone", 0), true); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := wfCLI(t, l, "plans")
	if code != 0 {
		t.Fatalf("plans exit %d\n%s", code, errOut)
	}
	for _, want := range []string{"plan shop: lab plan", "group 2: gone",
		l.Blob("files", 0) + " (4.0 MiB), " + l.Container + "/" + l.Blob("files", 1) + " (2.0 MiB)", l.Blob("gone", 0) + " (size not read: "} {
		if !strings.Contains(out, want) {
			t.Fatalf("plans lacks %q:\n%s", want, out)
		}
	}
	out, _, code = wfCLI(t, l, "plans", "--json")
	var plans []workflow.PlanInfo
	if code != 0 || json.Unmarshal([]byte(out), &plans) != nil || plans[0].Groups[0][0].Disks[0].Size != 4<<20 {
		t.Fatalf("plans --json (exit %d): %s", code, out)
	}
	out, _, code = wfCLI(t, l, "plans", "--no-sizes")
	if code != 0 || strings.Contains(out, "MiB") || strings.Contains(out, "not read") || !strings.Contains(out, l.Blob("files", 1)) {
		t.Fatalf("plans --no-sizes (exit %d):\n%s", code, out)
	}
}
