package cli

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/failback/failback/hyperv"
	"github.com/failback/failback/workflow"
	"github.com/failback/failback/workflow/labtest"
)

// TestRunTestThenReportAndEnd drives a test failback as a script does:
// run --test ends "testing" with the next step named, jobs marks it TEST,
// status shows the test's report (the checks, the ports the VM's
// test_ports asks for, unreachable over the private switch; --json its
// "test" field), complete is refused saying why, and end-test removes
// what the test made.
func TestRunTestThenReportAndEnd(t *testing.T) {
	l := oneVMLab(t)
	addVMConfigLine(t, l, "files", "test_ports = [445]")
	before := labtest.Hash(t, l.Image("files", 0))
	out, errOut, code := wfCLI(t, l, "run", "--vm", "files", "--test", "--yes")
	if code != 0 {
		t.Fatalf("run --test: exit %d\n%s\n%s", code, out, errOut)
	}
	id := lastLine(out)
	if !strings.Contains(errOut, "is testing; next: check the test VMs (failback status "+id+" shows the report), then failback end-test "+id) {
		t.Fatalf("run --test did not say what is next:\n%s", errOut)
	}
	out, _, _ = wfCLI(t, l, "jobs")
	if !strings.Contains(out, id) || !strings.Contains(out, "TEST") {
		t.Fatalf("jobs does not mark the test:\n%s", out)
	}
	out, errOut, code = wfCLI(t, l, "status", id)
	if code != 0 {
		t.Fatalf("status: exit %d\n%s", code, errOut)
	}
	for _, want := range []string{"TEST failback " + id, "end-test      failback end-test " + id, "switch:     failback-test-files on hv01 (Private, created by the test",
		"final pass: ", "files -> files-test on hv01 (started)", "differencing disk over " + l.Image("files", 0),
		"check ok   running", "check ok   heartbeat", "check FAIL TCP port 445", "private"} {
		if !strings.Contains(out, want) {
			t.Fatalf("report lacks %q:\n%s", want, out)
		}
	}
	out, _, code = wfCLI(t, l, "status", id, "--json")
	var rep workflow.JobView
	if err := json.Unmarshal([]byte(out), &rep); code != 0 || err != nil || rep.State != workflow.StateTesting || rep.Test == nil || len(rep.Test.VMs[0].Checks) != 3 {
		t.Fatalf("status --json: exit %d, %v\n%s", code, err, out)
	}
	_, errOut, code = wfCLI(t, l, "complete", id)
	if code != exitRefused || !strings.Contains(errOut, "never completes") {
		t.Fatalf("complete of a test: exit %d\n%s", code, errOut)
	}
	_, errOut, code = wfCLI(t, l, "end-test", id)
	if code != 0 {
		t.Fatalf("end-test: exit %d\n%s", code, errOut)
	}
	if _, err := l.Hosts["hv01"].GetVM(context.Background(), "files-test"); err == nil {
		t.Fatal("the test VM is left")
	}
	if sw, _ := l.Hosts["hv01"].ListSwitches(context.Background()); len(sw) != 1 || sw[0].Type != hyperv.SwitchExternal {
		t.Fatalf("switches after the test: %+v", sw)
	}
	if labtest.Hash(t, l.Image("files", 0)) != before {
		t.Fatal("the VM's own disk changed")
	}
}

// TestRunTestRefusesFlagsThatDoNotFit: --test with --sync full, an
// alternate location, or --copy without --test is a usage error.
func TestRunTestRefusesFlagsThatDoNotFit(t *testing.T) {
	l := oneVMLab(t)
	for _, args := range [][]string{
		{"run", "--vm", "files", "--test", "--sync", "full", "--yes"},
		{"run", "--vm", "files", "--test", "--location", "alternate", "--yes"},
		{"run", "--vm", "files", "--test", "--create-vm", "--yes"},
		{"run", "--vm", "files", "--sync", "delta", "--copy", "--yes"},
		{"run", "--vm", "files", "--sync", "delta", "--switch", "Isolated", "--yes"},
	} {
		_, errOut, code := wfCLI(t, l, args...)
		if code != exitUsage {
			t.Fatalf("%v: exit %d, want %d\n%s", args, code, exitUsage, errOut)
		}
	}
}

// addVMConfigLine adds a line to the [[vm]] of config.toml named vm.
func addVMConfigLine(t *testing.T, l *labtest.Lab, vm, line string) {
	t.Helper()
	b, err := os.ReadFile(l.ConfigFile)
	if err != nil {
		t.Fatal(err)
	}
	name := "name = \"" + vm + "\"\n"
	if !strings.Contains(string(b), name) {
		t.Fatalf("no [[vm]] %s in %s", vm, l.ConfigFile)
	}
	if err := os.WriteFile(l.ConfigFile, []byte(strings.Replace(string(b), name, name+line+"\n", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
}
