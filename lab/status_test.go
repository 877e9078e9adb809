//go:build unix

package lab

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/failback/failback/azure"
	"github.com/failback/failback/internal/osfile"
)

// idleWriterEnv makes the test binary an idle stand-in for the writer
// process (see TestMain).
const idleWriterEnv = "FAILBACK_LAB_TEST_IDLE_WRITER"

// TestStatusSaysWhichVMWritersAreAlive: lab status judges each VM's writer
// by its lock, not by its status file: a writer killed while writing left
// a file that still says "writing", yet its VM is reported with no live
// writer (a problem, while the writer process runs), and a VM whose lock
// is held is alive and writing. With the whole writer process gone, one
// problem says so instead of one per VM.
func TestStatusSaysWhichVMWritersAreAlive(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	fake := exec.Command(exe, azureArgs(dir)...)
	fake.Env = append(os.Environ(), idleWriterEnv+"=1")
	if err := fake.Start(); err != nil {
		t.Fatal(err)
	}
	stopFake := func() { _ = fake.Process.Kill(); _ = fake.Wait() }
	t.Cleanup(stopFake)

	// Nothing listens on the ports: the stand-in serves neither.
	ports, err := freePorts(2)
	if err != nil {
		t.Fatal(err)
	}
	m := &Manifest{Version: manifestVersion, Dir: dir, Ready: true, ComputeDir: "compute",
		Azure: Proc{PID: fake.Process.Pid, Log: "logs/azure.log"}, FrontPort: ports[0], ARMPort: ports[1],
		SubscriptionID: "00000000-0000-0000-0000-00000000fb01", ResourceGroup: "rg-lab",
		VMs: []VM{{Name: "vm1", Plan: "web"}, {Name: "vm2", Plan: "web"}, {Name: "vm3", Plan: "db"}}}
	compute := m.Path(m.ComputeDir)
	lc, err := azure.NewLabCompute(compute, azure.LabOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, vm := range []string{"vm1", "vm2"} { // vm3: deleted (committed)
		if err := lc.CreateVM(ctx, vm, nil); err != nil {
			t.Fatal(err)
		}
		// What a writer reports while it writes; vm2's was killed since.
		b, _ := json.Marshal(azure.LabWriterStatus{PID: 4242, Generation: 1, Writing: true, Writes: 7, Heartbeat: time.Now().UTC()})
		if err := os.WriteFile(filepath.Join(compute, vm+".writer.json"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	lock, err := os.OpenFile(filepath.Join(compute, "vm1.writer.lock"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if err := osfile.Lock(lock, true, false); err != nil {
		t.Fatal(err)
	}

	st := Inspect(ctx, m)
	if !st.Azure.Running {
		t.Fatal("the stand-in writer process does not count as running")
	}
	vms := map[string]VMStatus{}
	for _, v := range st.VMs {
		vms[v.Name] = v
	}
	if v := vms["vm1"]; !v.WriterAlive || !v.Writing {
		t.Errorf("vm1 (lock held): alive %v writing %v, want both", v.WriterAlive, v.Writing)
	}
	if v := vms["vm2"]; v.WriterAlive || v.Writing {
		t.Errorf("vm2 (writer killed, status file says writing): alive %v writing %v, want neither", v.WriterAlive, v.Writing)
	}
	if v := vms["vm3"]; v.Power != "deleted" || v.WriterAlive {
		t.Errorf("vm3: %+v", v)
	}
	problems := strings.Join(st.Problems, "\n")
	if !strings.Contains(problems, "Azure VM vm2 has no live writer") || !strings.Contains(problems, "vm2.writer.lock") ||
		strings.Contains(problems, "vm1 has") || strings.Contains(problems, "vm3") || st.Healthy {
		t.Errorf("problems:\n%s", problems)
	}
	for _, want := range []string{fmt.Sprintf("the blob front (http://127.0.0.1:%d/devstoreaccount1) does not answer", ports[0]),
		fmt.Sprintf("the ARM endpoint (http://127.0.0.1:%d) does not answer", ports[1])} {
		if !strings.Contains(problems, want) {
			t.Errorf("problems lack %q:\n%s", want, problems)
		}
	}
	var out bytes.Buffer
	st.Print(&out)
	if !strings.Contains(out.String(), "blob front  http://127.0.0.1:") || !strings.Contains(out.String(), "NOT answering") {
		t.Errorf("status does not say the front and ARM do not answer:\n%s", out.String())
	}
	for _, re := range []string{`vm1 +web +running +writer alive `, `vm2 +web +running +writer NOT alive `, `vm3 +db +deleted +no writer `} {
		if !regexp.MustCompile(re).MatchString(out.String()) {
			t.Errorf("status lacks %q:\n%s", re, out.String())
		}
	}

	// vm1's writer ends: its lock goes with it.
	lock.Close()
	st = Inspect(ctx, m)
	if v := st.VMs[0]; v.WriterAlive || v.Writing {
		t.Errorf("vm1 after its writer ended: alive %v writing %v", v.WriterAlive, v.Writing)
	}
	if !strings.Contains(strings.Join(st.Problems, "\n"), "Azure VM vm1 has no live writer") {
		t.Errorf("problems after vm1's writer ended: %v", st.Problems)
	}

	// The whole process is gone: one problem, not one per VM.
	stopFake()
	st = Inspect(ctx, m)
	problems = strings.Join(st.Problems, "\n")
	if strings.Contains(problems, "no live writer") || !strings.Contains(problems, "the lab's Azure process (pid") {
		t.Errorf("problems without the writer process:\n%s", problems)
	}
}
