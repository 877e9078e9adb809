package disktable

import (
	"github.com/failback/failback/ui/common"
	"github.com/failback/failback/workflow"
)

// testLines show a test failback's test VM of vm and its checks after
// start as they are made (nothing for a real failback).
func (m *Model) testLines(vm string) []string {
	if m.job == nil || m.job.Test == nil {
		return nil
	}
	st := m.c.Styles
	for _, r := range m.job.Test.VMs {
		if r.VM != vm {
			continue
		}
		parts := []string{"test VM " + r.TestVM + " on " + r.Host + " (" + r.State + ")"}
		for _, c := range r.Checks {
			parts = append(parts, checkText(c))
		}
		var out []string
		for _, l := range common.JoinWrap(parts, " · ", m.w-2, "  ") {
			l = "  " + l
			if anyFailed(r.Checks) {
				l = st.Warn.Render(l)
			}
			out = append(out, l)
		}
		return out
	}
	return nil
}

func checkText(c workflow.TestCheck) string {
	switch {
	case c.Skipped:
		return c.What + " skipped"
	case c.OK:
		return c.What + " ok"
	}
	if c.Detail != "" {
		return c.What + " FAILED (" + c.Detail + ")"
	}
	return c.What + " FAILED"
}

func anyFailed(cs []workflow.TestCheck) bool {
	for _, c := range cs {
		if !c.OK && !c.Skipped {
			return true
		}
	}
	return false
}
