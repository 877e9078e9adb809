package hyperv_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/failback/failback/hyperv"
	"github.com/failback/failback/internal/testenv"
)

var bg = context.Background()

func labSpec(h *hyperv.LabHost, name string, gen int) hyperv.VMSpec {
	ext, ctl := ".vhdx", hyperv.SCSI
	if gen == 1 {
		ext, ctl = ".vhd", hyperv.IDE
	}
	return hyperv.VMSpec{
		Name: name, Generation: gen, CPUCount: 2, MemoryBytes: 1 << 30, SwitchName: "LAN",
		Disks: []hyperv.DiskSpec{{HostPath: filepath.Join(h.DiskFolder(), name+ext), VirtualSize: 64 << 20, Controller: hyperv.Controller{Type: ctl}}},
	}
}

// TestHelperHoldDiskLock is not a test: it is the other process of
// TestLabDiskLockAcrossProcesses, holding a disk's write lock until its
// stdin closes (or it is killed).
func TestHelperHoldDiskLock(t *testing.T) {
	path := os.Getenv("FAILBACK_HELPER_DISK")
	if path == "" {
		return
	}
	l, err := hyperv.LockDiskForWrite(path)
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(3)
	}
	fmt.Println("locked")
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
	l.Release()
	os.Exit(0)
}

func holdLockInChild(t *testing.T, disk string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperHoldDiskLock$")
	cmd.Env = append(os.Environ(), "FAILBACK_HELPER_DISK="+disk)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close(); cmd.Process.Kill(); cmd.Wait() })
	line, _ := bufio.NewReader(stdout).ReadString('\n')
	if strings.TrimSpace(line) != "locked" {
		t.Fatalf("helper: %q", line)
	}
	return cmd
}

// TestLabDiskLockAcrossProcesses: a VM cannot start while another process
// writes its disk, a write cannot begin on a running VM's disk, and a
// writer that dies (SIGKILL) leaves nothing locked.
func TestLabDiskLockAcrossProcesses(t *testing.T) {
	h := newLab(t)
	s := labSpec(h, "web01", 2)
	if _, err := h.CreateVM(bg, s); err != nil {
		t.Fatal(err)
	}
	disk := s.Disks[0].HostPath

	child := holdLockInChild(t, disk)
	err := h.StartVM(bg, "web01")
	if !errors.Is(err, hyperv.ErrDiskInUse) || !strings.Contains(err.Error(), "another process is writing it") {
		t.Fatalf("start while a sync writes: %v", err)
	}
	u, err := h.DiskInUse(bg, disk)
	if err != nil || !u.InUse || !u.Locked {
		t.Fatalf("DiskInUse while locked: %+v %v", u, err)
	}
	if vm, _ := h.GetVM(bg, "web01"); vm.State != hyperv.StateOff {
		t.Fatalf("a refused start changed the state to %s", vm.State)
	}
	child.Process.Kill()
	child.Wait()

	if err := h.StartVM(bg, "web01"); err != nil {
		t.Fatalf("start after the writer died: %v", err)
	}
	_, err = hyperv.LockDiskForWrite(disk)
	if !errors.Is(err, hyperv.ErrDiskInUse) || !strings.Contains(err.Error(), "'web01'") {
		t.Fatalf("write lock on a running VM's disk: %v", err)
	}
	// Another lab folder (another process's view) sees the same marker.
	other, err := hyperv.CreateLab(filepath.Join(t.TempDir(), "lab02"), hyperv.LabConfig{Switches: []hyperv.Switch{{Name: "LAN", Type: hyperv.SwitchExternal}}})
	if err != nil {
		t.Fatal(err)
	}
	if u, err := other.DiskInUse(bg, disk); err != nil || !u.InUse || !strings.Contains(u.Reason, "lab01") {
		t.Fatalf("another lab's view: %+v %v", u, err)
	}
	if _, err := h.ShutdownVM(bg, "web01", time.Minute); err != nil {
		t.Fatal(err)
	}
	l, err := hyperv.LockDiskForWrite(disk)
	if err != nil {
		t.Fatalf("write lock after shutdown: %v", err)
	}
	l.Release()
}

// TestLabConcurrentCreates: the lab's lock file serialises changes, so
// racing creators of one name leave exactly one VM and every other name
// is created.
func TestLabConcurrentCreates(t *testing.T) {
	h := newLab(t)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var sameOK, sameExists int
	for i := range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h2, err := hyperv.OpenLab(h.Dir()) // as another process would
			if err != nil {
				t.Error(err)
				return
			}
			name := fmt.Sprintf("vm%02d", i)
			if i%2 == 0 {
				name = "same"
			}
			_, err = h2.CreateVM(bg, labSpec(h2, name, 1))
			if i%2 != 0 {
				if err != nil {
					t.Errorf("%s: %v", name, err)
				}
				return
			}
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				sameOK++
			case errors.Is(err, hyperv.ErrVMExists):
				sameExists++
			default:
				t.Errorf("same: %v", err)
			}
		}()
	}
	wg.Wait()
	if sameOK != 1 || sameExists != 5 {
		t.Fatalf("racing creates of one name: %d created, %d refused", sameOK, sameExists)
	}
	for i := 1; i < 12; i += 2 {
		if _, err := h.GetVM(bg, fmt.Sprintf("vm%02d", i)); err != nil {
			t.Fatal(err)
		}
	}
	leftovers, _ := filepath.Glob(filepath.Join(h.Dir(), "vms", ".*tmp*"))
	if len(leftovers) != 0 {
		t.Fatalf("temporary files left: %v", leftovers)
	}
}

func TestLabDefaultDiskPathIsVHDX(t *testing.T) {
	h := newLab(t)
	s := labSpec(h, "web/01", 2)
	s.Disks[0].HostPath = h.DefaultDiskPath("web/01", 0)
	vm, err := h.CreateVM(bg, s)
	if err != nil {
		t.Fatal(err)
	}
	if d := vm.Disks[0]; d.Format != "VHDX" || filepath.Dir(filepath.Dir(d.HostPath)) != h.DiskFolder() || d.VirtualSize != 64<<20 {
		t.Fatalf("%+v", d)
	}
}

func TestLabForcedShutdown(t *testing.T) {
	h := newLab(t)
	if _, err := h.CreateVM(bg, labSpec(h, "stubborn", 2)); err != nil {
		t.Fatal(err)
	}
	if err := h.StartVM(bg, "stubborn"); err != nil {
		t.Fatal(err)
	}
	if err := h.SetGuestIgnoresShutdown(bg, "stubborn", true); err != nil {
		t.Fatal(err)
	}
	forced, err := h.ShutdownVM(bg, "stubborn", 10*time.Millisecond)
	if err != nil || !forced {
		t.Fatalf("forced %v, %v", forced, err)
	}
	if vm, _ := h.GetVM(bg, "stubborn"); vm.State != hyperv.StateOff {
		t.Fatalf("state %s", vm.State)
	}
}

func TestLabVMNamesAreCaseInsensitiveAndSafe(t *testing.T) {
	h := newLab(t)
	for _, name := range []string{"../../etc/passwd", "web 01 (été)", `C:\evil`, ".hidden"} {
		s := labSpec(h, "x", 2)
		s.Name = name
		s.Disks = nil
		if _, err := h.CreateVM(bg, s); err != nil {
			t.Fatalf("%q: %v", name, err)
		}
		if vm, err := h.GetVM(bg, strings.ToUpper(name)); err != nil || vm.Name != name {
			t.Fatalf("%q: %+v %v", name, vm, err)
		}
		if _, err := h.CreateVM(bg, s); !errors.Is(err, hyperv.ErrVMExists) {
			t.Fatalf("%q twice: %v", name, err)
		}
	}
	entries, _ := os.ReadDir(filepath.Join(h.Dir(), "vms"))
	if len(entries) != 4 {
		t.Fatalf("vms/ holds %d entries", len(entries))
	}
	if _, err := os.Stat(filepath.Join(h.Dir(), "..", "..", "etc")); err == nil {
		t.Fatal("a name escaped the lab folder")
	}
}

// TestLabImagesPassQemuCheck: the lab's disks are real images that the
// outside oracle accepts, at the size asked for.
func TestLabImagesPassQemuCheck(t *testing.T) {
	h := newLab(t)
	s := labSpec(h, "web01", 2)
	s.Disks = append(s.Disks, hyperv.DiskSpec{HostPath: filepath.Join(h.DiskFolder(), "data.vhdx"), VirtualSize: 32 << 20, Fixed: true, Controller: hyperv.Controller{Type: hyperv.SCSI, Location: 1}})
	vm, err := h.CreateVM(bg, s)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range vm.Disks {
		testenv.Qemu(t, "check", "-f", "vhdx", d.HostPath)
		info := testenv.Qemu(t, "info", "-f", "vhdx", "--output=json", d.HostPath)
		if !strings.Contains(info, fmt.Sprintf(`"virtual-size": %d`, d.VirtualSize)) {
			t.Fatalf("qemu-img info of %s: %s", d.HostPath, info)
		}
	}
	if !vm.Disks[1].Fixed || vm.Disks[0].Fixed || vm.Disks[0].Format != "VHDX" {
		t.Fatalf("formats: %+v", vm.Disks)
	}
}

// A start that crashed after marking a disk running but before recording
// the VM as running leaves a marker that names the VM itself. It must not
// lock the VM out of starting (nor its disk out of syncs for good):
// StartVM takes it for stale, and shutting the off VM down clears it.
func TestLabStaleOwnMarkerAfterACrashedStart(t *testing.T) {
	h := newLab(t)
	spec := labSpec(h, "web01", 2)
	if _, err := h.CreateVM(bg, spec); err != nil {
		t.Fatal(err)
	}
	disk := spec.Disks[0].HostPath
	marker := fmt.Sprintf(`{"vm":"web01","host":%q,"since":"2026-01-01T00:00:00Z","pid":1}`, h.Name())
	if err := os.WriteFile(disk+".running", []byte(marker), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := h.ShutdownVM(bg, "web01", time.Second); err != nil {
		t.Fatal(err)
	}
	if l, err := hyperv.LockDiskForWrite(disk); err != nil {
		t.Fatalf("the stale marker still locks the disk after a shutdown: %v", err)
	} else {
		l.Release()
	}
	if err := os.WriteFile(disk+".running", []byte(marker), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := h.StartVM(bg, "web01"); err != nil {
		t.Fatalf("a stale marker of the VM itself blocks its start: %v", err)
	}
	// A marker of another VM still protects the disk.
	if _, err := h.ShutdownVM(bg, "web01", time.Second); err != nil {
		t.Fatal(err)
	}
	other := fmt.Sprintf(`{"vm":"db01","host":%q,"since":"2026-01-01T00:00:00Z","pid":1}`, h.Name())
	if err := os.WriteFile(disk+".running", []byte(other), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := h.StartVM(bg, "web01"); !errors.Is(err, hyperv.ErrDiskInUse) {
		t.Fatalf("a disk another VM runs on: %v", err)
	}
}
