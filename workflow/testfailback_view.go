package workflow

// testReport is a test record as JobView shows it (nil for a real
// failback). Call with the job's lock held.
func testReport(r *jobRecord) *TestReport {
	if r.Test == nil {
		return nil
	}
	t := &TestReport{Switches: []TestSwitchView{}, Steps: []TestStep{}, VMs: []TestVMReport{}}
	for _, s := range r.Test.Switches {
		t.Switches = append(t.Switches, TestSwitchView{Host: s.Host, Name: s.Name, Type: string(s.Type), CreatedByTest: s.Owned, Removed: s.Removed})
	}
	if f := r.Test.Final; f != nil {
		t.FinalPass, t.FinalPassBytes, t.FinalPassResumed = f.Took, f.Bytes, f.Resumed
	}
	for _, s := range r.Test.Steps {
		st := TestStep{Step: s.Name, VM: s.VM, Start: s.Start, Done: !s.End.IsZero(), Resumed: s.Resumed}
		if st.Done {
			st.Took = s.End.Sub(s.Start)
		}
		t.Steps = append(t.Steps, st)
	}
	for _, v := range r.VMs {
		if v.Test == nil {
			continue
		}
		vr := TestVMReport{VM: v.Name, TestVM: v.Test.Name, Host: v.Test.Host, State: testVMState(v.Test),
			Ports: v.Test.Ports, Disks: []TestDiskView{}, Checks: append([]TestCheck{}, v.Test.Checks...)}
		for _, d := range v.Disks {
			if d.Test == nil {
				continue
			}
			vr.Disks = append(vr.Disks, TestDiskView{Image: d.Test.Image, Parent: d.Image, Mode: d.Test.Mode, Why: d.Test.Why, State: testDiskState(d.Test)})
		}
		t.VMs = append(t.VMs, vr)
	}
	return t
}

func testVMState(t *testVMRecord) string {
	switch {
	case t.Removed:
		return "removed"
	case t.Started:
		return "started"
	case t.Created:
		return "created"
	}
	return "not created yet"
}

func testDiskState(t *testDiskRecord) string {
	switch {
	case t.Removed:
		return "deleted"
	case t.Created:
		return "made"
	}
	return "not made yet"
}
