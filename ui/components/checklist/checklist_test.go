package checklist

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"

	"github.com/failback/failback/ui/common"
	"github.com/failback/failback/ui/keys"
	"github.com/failback/failback/ui/styles"
	"github.com/failback/failback/workflow"
)

func plain() *common.Common {
	r := lipgloss.NewRenderer(io.Discard)
	r.SetColorProfile(termenv.Ascii)
	return &common.Common{Ctx: context.Background(), Styles: styles.New(r), Keys: keys.New()}
}

// labRows are the location checks the real workflow gives for the lab's
// tier2-apps plan: long paths, interleaved VMs.
var labRows = []workflow.CheckRow{
	{VM: "app01", What: "host hv01 reachable", OK: true, Detail: "lab Hyper-V host in /tmp/mylab/hosts/hv01"},
	{VM: "app01", What: "VM app01 is off on hv01", OK: true, Detail: "off"},
	{VM: "app01", What: "image /tmp/mylab/hosts/hv01/disks/app01/app01-os.vhdx", OK: true, Detail: "vhdx 512.0 MiB"},
	{VM: "app01", What: "image app01-os.vhdx not in use", OK: true, Detail: "free"},
	{VM: "app02", What: "host hv01 reachable", OK: true, Detail: "lab Hyper-V host in /tmp/mylab/hosts/hv01"},
	{VM: "app02", What: "image app02-os.vhdx not in use", Detail: "in use by the VM app02 (running): stop it first",
		Fix: "stop the VM app02 on hv01, or choose an alternate location"},
}

// Every check stays readable at 80 and 100 columns: nothing is wider
// than the terminal, what was checked is never cut mid-word (a path
// keeps its file name), and the failed check comes first with its fix.
func TestChecksStayReadableWhenNarrow(t *testing.T) {
	for _, w := range []int{80, 100} {
		m := New(plain())
		m.SetRows(labRows)
		m.SetSize(w, 40)
		view := m.View()
		lines := strings.Split(view, "\n")
		for _, l := range lines {
			if lipgloss.Width(l) > w {
				t.Errorf("%d columns: line wider than the terminal: %q", w, l)
			}
		}
		for _, want := range []string{
			"image app01-os.vhdx not in use", "image app02-os.vhdx not in use", "VM app01 is off on hv01",
			"app01/app01-os.vhdx", "vhdx 512.0 MiB", "in use by the VM app02", "fix: stop the VM app02",
		} {
			if !strings.Contains(view, want) {
				t.Errorf("%d columns: %q is not on one line:\n%s", w, want, view)
			}
		}
		if !strings.HasPrefix(lines[0], "✗ app02") {
			t.Errorf("%d columns: the failed check is not first:\n%s", w, view)
		}
		// The file name and its result share a line.
		found := false
		for _, l := range lines {
			found = found || strings.Contains(l, "app01-os.vhdx ") && strings.Contains(l, "vhdx 512.0 MiB")
		}
		if !found {
			t.Errorf("%d columns: the image path and its result are on different lines:\n%s", w, view)
		}
	}
}

func TestShortPathKeepsTheFileName(t *testing.T) {
	for _, c := range []struct {
		in   string
		w    int
		want string
	}{
		{"/tmp/mylab/hosts/hv01/disks/app01/app01-os.vhdx", 24, "…/app01/app01-os.vhdx"},
		{`D:\Hyper-V\Virtual Hard Disks\sql01\sql01-data.vhdx`, 26, `…\sql01\sql01-data.vhdx`},
		{"/a/b/c.vhdx", 20, "/a/b/c.vhdx"},
		{"/x/averyveryverylongname.vhdx", 12, "…ngname.vhdx"},
	} {
		if got := common.ShortPath(c.in, c.w); got != c.want || lipgloss.Width(got) > c.w {
			t.Errorf("ShortPath(%q, %d) = %q, want %q", c.in, c.w, got, c.want)
		}
	}
}

// A path in brackets keeps its brackets when shortened.
func TestWrapCellKeepsBracketsOfAShortenedPath(t *testing.T) {
	got := common.WrapCell("room on dev:65024 (/tmp/mylab/hosts/hv02/disks/app01)", 32)
	if got[0] != "room on dev:65024 (…/app01)" && got[0] != "room on dev:65024" {
		t.Fatalf("first line %q", got[0])
	}
	joined := strings.Join(got, " ")
	if !strings.Contains(joined, "(") || !strings.HasSuffix(joined, "app01)") {
		t.Fatalf("lines %q lost the brackets", got)
	}
}
