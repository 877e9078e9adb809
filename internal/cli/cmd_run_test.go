package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/failback/failback/workflow"
	"github.com/failback/failback/workflow/labtest"
)

// wfCLI runs failback with the lab's config and returns stdout, stderr and
// the exit code.
func wfCLI(t *testing.T, l *labtest.Lab, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	code := Main(ctx, append(args, "--config", l.ConfigFile), Stdio{In: strings.NewReader(""), Out: &out, Err: &errb})
	return out.String(), errb.String(), code
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}

func oneVMLab(t *testing.T) *labtest.Lab {
	return labtest.New(t, labtest.Options{VMs: []labtest.VM{{Name: "files", Disks: []int64{4 << 20}}}, MaxPasses: 1})
}

func TestRunDryRunChangesNothing(t *testing.T) {
	l := oneVMLab(t)
	before := labtest.Hash(t, l.Image("files", 0))
	out, errOut, code := wfCLI(t, l, "run", "--vm", "files", "--sync", "delta", "--dry-run")
	if code != 0 {
		t.Fatalf("dry run exit %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"files-disk0.vhd", "TO CHECK", "recommended sync: delta", "pre-flight:", "nothing was changed"} {
		if !strings.Contains(out, want) {
			t.Fatalf("dry run output lacks %q:\n%s", want, out)
		}
	}
	if labtest.Hash(t, l.Image("files", 0)) != before {
		t.Fatal("the dry run changed the image")
	}
	if ents, _ := os.ReadDir(filepath.Join(l.Cfg.StateDir, "jobs")); len(ents) != 0 {
		t.Fatalf("the dry run made a job: %v", ents)
	}
	d, _ := l.Storage.OpenDisk(context.Background(), l.Container, l.Blob("files", 0))
	if snaps, _ := d.ListSnapshots(context.Background()); len(snaps) != 0 {
		t.Fatalf("the dry run left snapshots: %+v", snaps)
	}
	if ps, _ := l.Compute.State(context.Background(), "files"); ps.Off() {
		t.Fatal("the dry run shut the Azure VM down")
	}
}

func TestRunRefusesWithoutYesAndOnBadFlags(t *testing.T) {
	l := oneVMLab(t)
	for _, args := range [][]string{
		{"run", "--vm", "files", "--sync", "delta"},
		{"run", "--vm", "files"},
		{"run", "--vm", "files", "--plan", "x", "--sync", "full", "--yes"},
		{"run", "--vm", "files", "--sync", "full", "--location", "alternate", "--yes"},
	} {
		_, errOut, code := wfCLI(t, l, args...)
		if code != exitUsage {
			t.Fatalf("%v: exit %d, want %d\n%s", args, code, exitUsage, errOut)
		}
	}
	if ents, _ := os.ReadDir(filepath.Join(l.Cfg.StateDir, "jobs")); len(ents) != 0 {
		t.Fatal("a refused run made a job")
	}
	// A failing pre-flight is exit 3, with the fix on stderr.
	_, errOut, code := wfCLI(t, l, "run", "--vm", "files", "--sync", "full", "--location", "alternate", "--host", "hv01", "--yes")
	if code != exitRefused || !strings.Contains(errOut, "pre-flight failed") || !strings.Contains(errOut, "fix: fail back to the original location (--location original)") {
		t.Fatalf("pre-flight failure: exit %d\n%s", code, errOut)
	}
}

func TestRunDeltaThenCompleteAndCommitThroughTheScriptCommands(t *testing.T) {
	l := oneVMLab(t)
	out, errOut, code := wfCLI(t, l, "run", "--vm", "files", "--sync", "delta", "--yes")
	if code != 0 {
		t.Fatalf("run exit %d\n%s\n%s", code, out, errOut)
	}
	id := lastLine(out)
	if !strings.Contains(errOut, "catch-up pass 1") || !strings.Contains(errOut, "next: failback complete "+id) {
		t.Fatalf("progress on stderr:\n%s", errOut)
	}
	out, _, code = wfCLI(t, l, "status", id, "--json")
	var v workflow.JobView
	if code != 0 || json.Unmarshal([]byte(out), &v) != nil || v.ID != id || v.State != workflow.StateReady || len(v.VMs[0].Disks) != 1 {
		t.Fatalf("status --json (exit %d): %s", code, out)
	}
	out, _, code = wfCLI(t, l, "jobs", "--json")
	var jobs []workflow.JobView
	if code != 0 || json.Unmarshal([]byte(out), &jobs) != nil || len(jobs) != 1 || jobs[0].ID != id {
		t.Fatalf("jobs --json (exit %d): %s", code, out)
	}
	if _, errOut, code = wfCLI(t, l, "commit", id); code != exitRefused || !strings.Contains(errOut, "pending commit") {
		t.Fatalf("commit before complete: exit %d\n%s", code, errOut)
	}
	if out, errOut, code = wfCLI(t, l, "complete", id, "--json"); code != 0 {
		t.Fatalf("complete exit %d\n%s", code, errOut)
	}
	if json.Unmarshal([]byte(out), &v) != nil || v.State != workflow.StatePendingCommit {
		t.Fatalf("complete --json: %s", out)
	}
	if !strings.Contains(errOut, "complete: Shut down the Azure VMs files") {
		t.Fatalf("complete did not say what it does:\n%s", errOut)
	}
	// status and jobs say the same figures as the console: the phase and
	// how far through it, and the job's totals.
	if out, _, _ = wfCLI(t, l, "status", id); !strings.Contains(out, "pending commit: 100%") || !strings.Contains(out, "final delta") || !strings.Contains(out, ", downtime ") {
		t.Fatalf("status at pending commit:\n%s", out)
	}
	if out, _, _ = wfCLI(t, l, "jobs"); !strings.Contains(out, "pending commit  100%") {
		t.Fatalf("jobs at pending commit:\n%s", out)
	}
	// A destructive command asks first: without a terminal to answer on,
	// only --yes confirms, and nothing happens without it.
	if _, errOut, code = wfCLI(t, l, "commit", id); code != exitUsage || !strings.Contains(errOut, "add --yes to confirm") {
		t.Fatalf("commit without --yes: exit %d\n%s", code, errOut)
	}
	if out, _, _ = wfCLI(t, l, "status", id); !strings.Contains(out, "pending-commit") {
		t.Fatalf("commit without --yes acted:\n%s", out)
	}
	if _, errOut, code = wfCLI(t, l, "commit", id, "--yes"); code != 0 {
		t.Fatalf("commit exit %d\n%s", code, errOut)
	}
	out, _, _ = wfCLI(t, l, "status", id)
	if !strings.Contains(out, "committed") || !strings.Contains(out, "failback reverse "+id) {
		t.Fatalf("status after commit:\n%s", out)
	}
	labtest.WriteImage(t, l.Image("files", 0), 1<<20, []byte("changed on premises"))
	if _, errOut, code = wfCLI(t, l, "reverse", id, "--once"); code != 0 || !strings.Contains(errOut, "recovery point") {
		t.Fatalf("reverse --once exit %d\n%s", code, errOut)
	}
	if _, _, code = wfCLI(t, l, "status", "nope"); code != exitRefused {
		t.Fatalf("status of an unknown job: exit %d", code)
	}
}

func TestRunFullPrintsTheJobIDLast(t *testing.T) {
	l := oneVMLab(t)
	out, errOut, code := wfCLI(t, l, "run", "--vm", "files", "--sync", "full", "--yes", "--json", "--quiet")
	if code != 0 {
		t.Fatalf("run exit %d\n%s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var v workflow.JobView
	if len(lines) != 2 || json.Unmarshal([]byte(lines[0]), &v) != nil || v.State != workflow.StatePendingCommit || lines[1] != v.ID {
		t.Fatalf("stdout:\n%s", out)
	}
	if errOut != "" {
		t.Fatalf("--quiet still printed:\n%s", errOut)
	}
	out, _, _ = wfCLI(t, l, "plans")
	if !strings.Contains(out, "files") {
		t.Fatalf("plans:\n%s", out)
	}
}

func TestScriptCommandGoesThroughTheDrivingProcess(t *testing.T) {
	l := oneVMLab(t)
	d := l.Deps()
	d.Command = "failback serve (test)"
	m := l.Open(d)
	id, err := m.Start(context.Background(), workflow.Choices{VM: "files", Direction: workflow.DirAzureToOnPrem, Sync: workflow.SyncDelta}, labtest.Operator)
	if err != nil {
		t.Fatal(err)
	}
	labtest.Wait(t, m, id, time.Minute, workflow.StateReady)
	_, errOut, code := wfCLI(t, l, "complete", id)
	if code != 0 || !strings.Contains(errOut, "going through process") || !strings.Contains(errOut, "failback serve (test)") {
		t.Fatalf("complete while another process drives: exit %d\n%s", code, errOut)
	}
	if v, _ := m.Job(id); v.State != workflow.StatePendingCommit {
		t.Fatalf("the driver's job is %s", v.State)
	}
	if !strings.Contains(labtest.LogText(m, id), "asked to complete (via cli)") {
		t.Fatalf("the driver did not log the CLI's action:\n%s", labtest.LogText(m, id))
	}
	// The listing commands go through it too.
	out, _, code := wfCLI(t, l, "jobs")
	if code != 0 || !strings.Contains(out, id) || !strings.Contains(out, "pending-commit") {
		t.Fatalf("jobs through the socket (exit %d):\n%s", code, out)
	}
}

func TestScriptCommandIsRefusedNamingADriverWithoutSocket(t *testing.T) {
	l := oneVMLab(t)
	d := l.Deps()
	d.Command, d.NoControl = "failback console (test)", true
	l.Open(d)
	_, errOut, code := wfCLI(t, l, "run", "--vm", "files", "--sync", "full", "--yes")
	if code != exitFailed || !strings.Contains(errOut, "failback console (test)") || !strings.Contains(errOut, "two processes never drive one job") {
		t.Fatalf("run while a socketless driver holds the folder: exit %d\n%s", code, errOut)
	}
}
