package ui

import (
	"fmt"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/failback/failback/ui/common"
	"github.com/failback/failback/workflow"
)

// New jobs appear by themselves in every open console: the refresh loop
// reads the jobs at every change, and newJobs looks for ids it has not
// shown yet. The monitor lists them at once (active first). A wizard
// nobody has touched since it opened (a session left on its first page)
// gives way to the monitor, showing the new job; a wizard in use stays,
// and the status line says what started.

func jobIDs(jobs []workflow.JobView) map[string]bool {
	ids := map[string]bool{}
	for _, j := range jobs {
		ids[j.ID] = true
	}
	return ids
}

// newJobs notes the jobs of a snapshot and reacts to those not seen yet.
func (m *Model) newJobs(jobs []workflow.JobView) tea.Cmd {
	var fresh *workflow.JobView
	for i, j := range jobs {
		if !m.seen[j.ID] {
			m.seen[j.ID] = true
			if fresh == nil {
				fresh = &jobs[i] // newest first
			}
		}
	}
	if fresh == nil || m.page != PageWizard {
		return nil
	}
	if !m.touched {
		m.page, m.wizard = PageMonitor, nil
		m.layout()
		return tea.Batch(m.monitor.Select(fresh.ID),
			common.Status(fmt.Sprintf("Job %s (%s) was started by %s: showing it.", fresh.ID, fresh.Title, fresh.Owner.Name), false))
	}
	return common.Status(fmt.Sprintf("Job %s (%s) was started by %s; esc on the first step shows the monitor.", fresh.ID, fresh.Title, fresh.Owner.Name), false)
}
