package workflow_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/failback/failback/hyperv"
	"github.com/failback/failback/vdisk"
	"github.com/failback/failback/workflow"
	"github.com/failback/failback/workflow/labtest"
)

// rowsLike returns the pre-flight rows whose What starts with prefix.
func rowsLike(rep workflow.PreflightReport, prefix string) []workflow.CheckRow {
	var out []workflow.CheckRow
	for _, c := range rep.Checks {
		if strings.HasPrefix(c.What, prefix) {
			out = append(out, c)
		}
	}
	return out
}

// refusedAndUntouched fails unless Start refuses with a PreflightError
// and the image's bytes (its file, not its virtual disk) did not change.
func refusedAndUntouched(t *testing.T, m *workflow.Manager, c workflow.Choices, image string) {
	t.Helper()
	before, err := os.ReadFile(image)
	if err != nil {
		t.Fatal(err)
	}
	_, err = m.Start(context.Background(), c, labtest.Operator)
	var pe *workflow.PreflightError
	if !errors.As(err, &pe) {
		t.Fatalf("Start: %v; want it refused by the pre-flight", err)
	}
	after, err := os.ReadFile(image)
	if err != nil || string(after) != string(before) {
		t.Fatalf("the image changed although the pre-flight refused (%v)", err)
	}
}

// Issue 15 item 2: a .vhdx whose headers were zeroed and that is exactly
// the virtual size passed for a raw disk, and the failback wrote raw
// bytes into it. A 0-byte one got "resize the image". Both are damaged.
func TestPreflightRefusesADamagedVHDXInsteadOfWritingRawBytes(t *testing.T) {
	const size = 4 << 20
	vm := labtest.VM{Name: "web", Disks: []int64{size}}
	l := labtest.New(t, labtest.Options{VMs: []labtest.VM{vm}})
	m := l.Open(l.Deps())
	c := workflow.Choices{VM: "web", Direction: workflow.DirAzureToOnPrem, Sync: workflow.SyncDelta}
	image := l.Image("web", 0)
	for _, content := range map[string][]byte{"header-zeroed": make([]byte, size), "0-byte": nil} {
		if err := os.WriteFile(image, content, 0o644); err != nil {
			t.Fatal(err)
		}
		rep, err := m.Preflight(context.Background(), c)
		if err != nil || rep.OK {
			t.Fatalf("pre-flight of a %d-byte zeroed .vhdx: %v, OK %v", len(content), err, rep.OK)
		}
		rows := rowsLike(rep, "image "+image)
		if len(rows) != 1 || rows[0].OK || !strings.Contains(rows[0].Detail, "damaged VHDX") ||
			!strings.Contains(rows[0].Fix, "Repair-VHD") || strings.Contains(rows[0].Fix+rows[0].Detail, "resize") {
			t.Fatalf("%d bytes: image rows %+v; want one failed row saying damaged VHDX and what to do", len(content), rows)
		}
		refusedAndUntouched(t, m, c, image)
	}
}

// setLabFree makes a lab host report n bytes free (host.json free_bytes).
func setLabFree(t *testing.T, h *hyperv.LabHost, n int64) {
	t.Helper()
	p := filepath.Join(h.Dir(), "host.json")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var cfg hyperv.LabConfig
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	cfg.FreeBytes = n
	if b, err = json.Marshal(cfg); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// Issue 15 item 4: the pre-flight passed with 3.6 MiB free on the
// image's volume, then phase 1 died with ENOSPC. Now it adds up what the
// image will grow by (the blocks the Azure disk holds that the image has
// not) at the original location, and refuses with the figures.
func TestPreflightRefusesWhenTheImageVolumeLacksRoom(t *testing.T) {
	const size = 8 << 20
	vm := labtest.VM{Name: "web", Disks: []int64{size}}
	l := labtest.New(t, labtest.Options{VMs: []labtest.VM{vm}})
	// The on-premises image is empty: every block the Azure disk holds
	// will be allocated.
	image := l.Image("web", 0)
	if err := os.Remove(image); err != nil {
		t.Fatal(err)
	}
	img, err := vdisk.Create(image, vdisk.CreateOptions{Size: size, BlockSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	img.Close()
	setLabFree(t, l.Hosts["hv01"], 3774873) // 3.6 MiB
	m := l.Open(l.Deps())
	c := workflow.Choices{VM: "web", Direction: workflow.DirAzureToOnPrem, Sync: workflow.SyncDelta}
	rep, err := m.Preflight(context.Background(), c)
	if err != nil || rep.OK {
		t.Fatalf("pre-flight with 3.6 MiB free: %v, OK %v", err, rep.OK)
	}
	rows := rowsLike(rep, "room for the images' growth on ")
	if len(rows) != 1 || rows[0].OK || rows[0].VM != "web" {
		t.Fatalf("room rows %+v; want one failed row for web", rows)
	}
	r := rows[0]
	for _, w := range []string{"need 72.0 MiB on dev:", ", 3.6 MiB free: web disk0.vhdx grows by 8.0 MiB, plus a margin of 64.0 MiB"} {
		if !strings.Contains(r.Detail, w) {
			t.Errorf("detail %q does not say %q", r.Detail, w)
		}
	}
	if strings.Contains(r.Detail, "at most") {
		t.Errorf("a page blob lists its ranges: the figure is not only a bound: %q", r.Detail)
	}
	if !strings.Contains(r.Fix, "free 68.4 MiB on dev:") || !strings.Contains(r.CLIFix, "--location alternate") {
		t.Errorf("fix %q / %q", r.Fix, r.CLIFix)
	}
	refusedAndUntouched(t, m, c, image)

	// With room it passes, and says what it counted.
	setLabFree(t, l.Hosts["hv01"], 1<<30)
	rep, err = m.Preflight(context.Background(), c)
	if err != nil || !rep.OK {
		t.Fatalf("pre-flight with 1 GiB free: %v %+v", err, rep)
	}
	if rows := rowsLike(rep, "room for the images' growth on "); len(rows) != 1 || !rows[0].OK || !strings.Contains(rows[0].Detail, "1.0 GiB free") {
		t.Fatalf("room rows with 1 GiB free: %+v", rows)
	}
}

// Through a share, the undo journals go to the state folder: its volume
// must hold the old bytes of every allocated block of the images (at
// most), or the pre-flight refuses and says to free room or move
// state_dir.
func TestPreflightRefusesWhenTheStateFolderLacksRoomForTheJournals(t *testing.T) {
	vm := labtest.VM{Name: "web", Disks: []int64{4 << 20}}
	l := labtest.New(t, labtest.Options{VMs: []labtest.VM{vm}, Share: true})
	m := l.Open(l.Deps())
	var asked string
	defer workflow.SetStateSpace(func(folder string) (hyperv.Space, error) {
		asked = folder
		return hyperv.Space{Volume: "dev:99", Free: 3774873, Total: 1 << 30}, nil
	})()
	c := workflow.Choices{VM: "web", Direction: workflow.DirAzureToOnPrem, Sync: workflow.SyncDelta}
	rep, err := m.Preflight(context.Background(), c)
	if err != nil || rep.OK {
		t.Fatalf("pre-flight: %v, OK %v", err, rep.OK)
	}
	rows := rowsLike(rep, "room for the undo journals on dev:99 (state folder ")
	if len(rows) != 1 || rows[0].OK || asked != l.Cfg.StateDir {
		t.Fatalf("journal rows %+v (asked about %q, state folder %q)", rows, asked, l.Cfg.StateDir)
	}
	r := rows[0]
	if !strings.Contains(r.Detail, ", 3.6 MiB free: the old bytes of every allocated image block, at most (web disk0.vhdx ") ||
		!strings.Contains(r.Fix, "state_dir") {
		t.Errorf("row %+v", r)
	}
	refusedAndUntouched(t, m, c, l.Image("web", 0))
}

// Through the host's mover, the undo journals go to the mover's state
// folder on the host: the room there is measured by the mover, and a
// volume without it is refused with mover_dir as the way out; the state
// folder here takes none.
func TestPreflightRefusesWhenTheHostLacksRoomForTheJournals(t *testing.T) {
	vm := labtest.VM{Name: "web", Disks: []int64{4 << 20}}
	l := labtest.New(t, labtest.Options{VMs: []labtest.VM{vm}})
	l.MoverSpace = func(folder string) (hyperv.Space, error) {
		return hyperv.Space{Volume: "dev:77", Free: 3774873, Total: 1 << 30}, nil
	}
	m := l.Open(l.Deps())
	defer workflow.SetStateSpace(func(folder string) (hyperv.Space, error) {
		t.Errorf("the state folder %s was measured: it takes no journals", folder)
		return hyperv.Space{}, nil
	})()
	c := workflow.Choices{VM: "web", Direction: workflow.DirAzureToOnPrem, Sync: workflow.SyncDelta}
	rep, err := m.Preflight(context.Background(), c)
	if err != nil || rep.OK {
		t.Fatalf("pre-flight: %v, OK %v", err, rep.OK)
	}
	rows := rowsLike(rep, "room for the undo journals on dev:77 of hv01 (the mover's state folder "+l.Cfg.Host("hv01").MoverStateDir())
	if len(rows) != 1 || rows[0].OK {
		t.Fatalf("journal rows %+v", rep.Checks)
	}
	if r := rows[0]; !strings.Contains(r.Detail, ", 3.6 MiB free: the old bytes of every allocated image block") || !strings.Contains(r.Fix, "mover_dir of host hv01") {
		t.Errorf("row %+v", r)
	}
	refusedAndUntouched(t, m, c, l.Image("web", 0))
}

// A test whose VMs run on another host gets copies made from here (a
// host's mover writes only its own disks), so their undo journals go to
// the state folder here, not to the VMs' host's mover: that is the room
// the pre-flight measures.
func TestPreflightMeasuresTheStateFolderForATestCopiedElsewhere(t *testing.T) {
	vm := labtest.VM{Name: "db", Disks: []int64{4 << 20}}
	l := labtest.New(t, labtest.Options{VMs: []labtest.VM{vm}, AltHosts: []string{"hv02"}})
	l.MoverSpace = func(folder string) (hyperv.Space, error) {
		t.Errorf("the mover's state folder %s was measured: a copy on another host keeps its journals here", folder)
		return hyperv.Space{Volume: "dev:77", Free: 1 << 30, Total: 1 << 30}, nil
	}
	m := l.Open(l.Deps())
	defer workflow.SetStateSpace(func(folder string) (hyperv.Space, error) {
		return hyperv.Space{Volume: "dev:99", Free: 3774873, Total: 1 << 30}, nil
	})()
	c := workflow.Choices{VM: "db", Direction: workflow.DirAzureToOnPrem, Sync: workflow.SyncDelta, Test: true, TestHost: "hv02"}
	rep, err := m.Preflight(context.Background(), c)
	if err != nil || rep.OK {
		t.Fatalf("pre-flight: %v, OK %v", err, rep.OK)
	}
	if rows := rowsLike(rep, "room for the undo journals on dev:99 (state folder "); len(rows) != 1 || rows[0].OK {
		t.Fatalf("journal rows %+v", rep.Checks)
	}
}
