package workflow

// A test failback (Choices.Test): a drill of the way back that never
// stops production.
//
// It runs phase 1 and the catch-up passes as a failback does, from the
// Azure snapshots, but into test disks: each a differencing VHDX whose
// parent is the VM's on-premises disk (opened read-only, never written;
// only the blocks that differ take space), or a copy of it when the
// operator asks for one, the format allows no child (VHD, raw), or the
// test VMs run on another host than the disk's. Then it runs and times
// the pass a real failback would run while the Azure VMs are off (the
// measured downtime), creates a test VM per VM (<vm>-test, the
// original's shape, every adapter on an isolated switch: a private one
// named failback-test-<plan> unless the operator names another, created
// if missing), starts them group by group and checks them (running,
// heartbeat, configured TCP ports). The Azure VMs are never shut down,
// and no on-premises VM's disk is written.
//
//	start (test):  preflight -> phase1 -> catch-up (rounds) -> measuring-final-pass -> starting-test-vms -> testing
//	end test:      any state -> ending-test -> test-ended (Cancel does the same)
//
// End test removes the test VMs, the test disks (the test folder
// failback-test-<plan> beside each disk), the switches the test created,
// the job's snapshots and journals. A test job can never be completed,
// committed or reversed: its disks are not the VMs' disks.

import (
	"slices"
	"strings"
	"time"

	"github.com/failback/failback/hyperv"
)

// Test disk modes.
const (
	testDiff = "differencing"
	testCopy = "copy"
)

// passTestFinal is the pass a test measures: what phase 2 would move.
const passTestFinal = "test-final"

// flowEndTest ends a test failback (End test, or Cancel of a test).
const flowEndTest flow = "end-test"

// testRecord is a test failback's job-wide state.
type testRecord struct {
	// Switches are the isolated switches, one per test host.
	Switches []testSwitch `json:"switches"`
	Steps    []testStep   `json:"steps,omitempty"`
	// Final is the measured final pass, once run.
	Final *testFinal `json:"final,omitempty"`
}

// testSwitch is the test switch on one host.
type testSwitch struct {
	Host string            `json:"host"`
	Name string            `json:"name"`
	Type hyperv.SwitchType `json:"type"`
	// Owned: the switch was missing at pre-flight, so this test creates
	// it (set before the host is asked) and End test removes it.
	Owned   bool `json:"owned,omitempty"`
	Created bool `json:"created,omitempty"`
	Removed bool `json:"removed,omitempty"`
}

// testStep is one timed step.
type testStep struct {
	Name  string    `json:"name"`
	VM    string    `json:"vm,omitempty"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end,omitzero"`
	// Resumed: the step was interrupted and run again; its time
	// includes the interruption.
	Resumed bool `json:"resumed,omitempty"`
}

// testFinal is the measure of the pass a real failback runs while the
// Azure VMs are off: snapshot, the changes since the last pass, verify.
type testFinal struct {
	Took    time.Duration `json:"took"`
	Bytes   int64         `json:"bytes"`
	Resumed bool          `json:"resumed,omitempty"`
}

// testVMRecord is a VM's test VM.
type testVMRecord struct {
	Name string `json:"name"` // <vm>-test
	Host string `json:"host"`
	// Spec is the VM to create: the original's shape, its adapters on
	// the test switch, its disks the test disks.
	Spec  hyperv.VMSpec `json:"spec"`
	Ports []int         `json:"ports,omitempty"`
	// Creating is set before the host is asked to create it (a crash
	// in between leaves a VM End test must still remove).
	Creating bool `json:"creating,omitempty"`
	Created  bool `json:"created,omitempty"`
	Started  bool `json:"started,omitempty"`
	Removed  bool `json:"removed,omitempty"`
	// Checks are the checks after start, as they were made.
	Checks []TestCheck `json:"checks,omitempty"`
}

// testDiskRecord is the disk a test writes instead of the VM's own.
type testDiskRecord struct {
	Mode string `json:"mode"` // testDiff or testCopy
	Why  string `json:"why,omitempty"`
	// Image is the test disk as the test host names it, Local as this
	// machine writes it; Folder is the test folder holding it.
	Image  string `json:"image"`
	Local  string `json:"local"`
	Folder string `json:"folder"`
	// LocalFolder is Folder as this machine reaches it.
	LocalFolder string `json:"local_folder"`
	// Mover says the host's mover makes, writes and removes the test
	// disk (Local and LocalFolder are then unused); else this machine
	// does, through the path map (older tests too).
	Mover    bool `json:"mover,omitempty"`
	Creating bool `json:"creating,omitempty"`
	Created  bool `json:"created,omitempty"`
	Removed  bool `json:"removed,omitempty"`
}

// TestReport is a test failback's report (JobView.Test): what was
// checked, when, how long each step took, and the measured time the
// final pass of a real failback would have taken.
type TestReport struct {
	Switches []TestSwitchView `json:"switches"`
	// FinalPass is the measured final pass (snapshot, changes since the
	// last pass, verification) with the Azure VMs running; a real
	// failback adds the Azure shutdown and the VM starts to it. Zero
	// until measured.
	FinalPass        time.Duration  `json:"final_pass"`
	FinalPassBytes   int64          `json:"final_pass_bytes"`
	FinalPassResumed bool           `json:"final_pass_resumed,omitempty"`
	Steps            []TestStep     `json:"steps"`
	VMs              []TestVMReport `json:"vms"`
}

// TestSwitchView is a test switch.
type TestSwitchView struct {
	Host string `json:"host"`
	Name string `json:"name"`
	Type string `json:"type"`
	// CreatedByTest: End test removes it.
	CreatedByTest bool `json:"created_by_test"`
	Removed       bool `json:"removed,omitempty"`
}

// TestStep is one timed step of a test.
type TestStep struct {
	Step    string        `json:"step"`
	VM      string        `json:"vm,omitempty"`
	Start   time.Time     `json:"start"`
	Took    time.Duration `json:"took"`
	Done    bool          `json:"done"`
	Resumed bool          `json:"resumed,omitempty"`
}

// TestVMReport is one VM's test.
type TestVMReport struct {
	VM     string         `json:"vm"`
	TestVM string         `json:"test_vm"`
	Host   string         `json:"host"`
	State  string         `json:"state"`
	Ports  []int          `json:"ports,omitempty"`
	Disks  []TestDiskView `json:"disks"`
	Checks []TestCheck    `json:"checks"`
}

// TestDiskView is one test disk.
type TestDiskView struct {
	// Image is the test disk, Parent the VM's own disk it reads through
	// (a differencing disk) or was copied from.
	Image  string `json:"image"`
	Parent string `json:"parent"`
	Mode   string `json:"mode"`
	Why    string `json:"why,omitempty"`
	State  string `json:"state"`
}

// TestCheck is one check of a test VM after it started.
type TestCheck struct {
	What    string        `json:"what"`
	OK      bool          `json:"ok"`
	Skipped bool          `json:"skipped,omitempty"`
	Detail  string        `json:"detail,omitempty"`
	At      time.Time     `json:"at"`
	Took    time.Duration `json:"took"`
}

// clone deep-copies a test record (cloneRecord).
func (t *testRecord) clone() *testRecord {
	if t == nil {
		return nil
	}
	c := *t
	c.Switches, c.Steps = slices.Clone(t.Switches), slices.Clone(t.Steps)
	if t.Final != nil {
		f := *t.Final
		c.Final = &f
	}
	return &c
}

func (t *testVMRecord) clone() *testVMRecord {
	if t == nil {
		return nil
	}
	c := *t
	c.Checks, c.Ports = slices.Clone(t.Checks), slices.Clone(t.Ports)
	c.Spec.Adapters, c.Spec.Disks = slices.Clone(t.Spec.Adapters), slices.Clone(t.Spec.Disks)
	return &c
}

func (t *testDiskRecord) clone() *testDiskRecord {
	if t == nil {
		return nil
	}
	c := *t
	return &c
}

// testVMName is a VM's test VM.
func testVMName(vm string) string { return vm + "-test" }

// testName is failback-test-<plan or VM>, lower case, letters, digits and
// dashes only: the default test switch, and the folder beside each disk
// that holds a test's disks (and nothing else: End test removes it). A
// plan (or VM) has one test at a time: its VMs are busy meanwhile.
func testName(title string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(title) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		case b.Len() > 0 && !strings.HasSuffix(b.String(), "-"):
			b.WriteByte('-')
		}
	}
	return "failback-test-" + strings.Trim(b.String(), "-")
}

// testAllowed is the action rules for a test failback (ActionRules).
func testAllowed(f *ActionFacts, a Action) (bool, string) {
	st := f.State
	switch a {
	case ActComplete, ActCommit, ActReverse, ActReverseOnce, ActStopReverse, ActUndo, ActUndoRemove:
		return false, "a test failback never completes, commits or reverses: its disks are test disks, not the VMs', and the Azure VMs keep running; End test removes what the test made"
	case ActEndTest, ActCancel:
		if st == StateEndingTest || f.Flow == Flow(flowEndTest) && !st.Stopped() {
			return false, "the test is ending"
		}
		return true, ""
	case ActResume:
		return resumeAllowed(f)
	}
	return false, "unknown action"
}

// testConfirm says what End test (or Cancel of a test) does.
func testConfirm(f *ActionFacts) string {
	s := "End the test: turn off and remove the test VMs " + vmNames(f, func(v VMFacts) string { return v.TestVM }) +
		", delete their test disks and test folders"
	if len(f.TestSwitches) > 0 {
		s += ", remove the switches the test created (" + strings.Join(f.TestSwitches, ", ") + ")"
	}
	return s + ", and delete this job's snapshots. The on-premises VMs' disks (only read) and the Azure VMs (never stopped) stay as they are."
}
