package cli

import (
	"context"
	"strings"
	"testing"

	"github.com/failback/failback/hyperv"
)

// TestRunSavedVMNeedsDiscardSavedStateAndWarningsShow: a Saved VM is
// refused naming --discard-saved-state, accepted with it; a host registered
// with a Recovery Services vault is a WARN line with what to do.
func TestRunSavedVMNeedsDiscardSavedStateAndWarningsShow(t *testing.T) {
	l := oneVMLab(t)
	h := l.Hosts["hv01"]
	if err := h.SetState(context.Background(), "files", hyperv.StateSaved); err != nil {
		t.Fatal(err)
	}
	if err := h.EditConfig(func(c *hyperv.LabConfig) { c.SiteRecovery = "Microsoft Azure Site Recovery Provider 5.1" }); err != nil {
		t.Fatal(err)
	}
	_, errOut, code := wfCLI(t, l, "run", "--vm", "files", "--sync", "full", "--yes")
	if code != exitRefused || !strings.Contains(errOut, "it is Saved") || !strings.Contains(errOut, "add --discard-saved-state") {
		t.Fatalf("a Saved VM: exit %d\n%s", code, errOut)
	}
	out, errOut, code := wfCLI(t, l, "run", "--vm", "files", "--sync", "full", "--dry-run", "--discard-saved-state")
	if code != 0 || !strings.Contains(out, "its memory state is discarded when the job starts") || !strings.Contains(out, "WARN files: hv01 and Azure Site Recovery") {
		t.Fatalf("dry run with --discard-saved-state: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, args := range [][]string{
		{"run", "--vm", "files", "--sync", "full", "--map-switch", "LAN", "--dry-run"},
		{"run", "--vm", "files", "--sync", "full", "--map-switch", "LAN=Other", "--dry-run"},
	} {
		if _, errOut, code := wfCLI(t, l, args...); code != exitUsage || !strings.Contains(errOut, "map-switch") {
			t.Fatalf("%v: exit %d\n%s", args, code, errOut)
		}
	}
}
