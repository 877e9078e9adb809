package ui

import (
	"time"

	tea "github.com/charmbracelet/bubbletea"
)

// The refresh loop: a command blocks on the service's change channel
// (off the UI goroutine; the engine only ever does a non-blocking send on
// it), the first change schedules one re-read after m.refresh, and
// changes that arrive meanwhile fold into it. Nothing calls Program.Send,
// so a slow terminal can never hold up a sync.

type (
	changedMsg    struct{}
	refreshDueMsg struct{}
	subClosedMsg  struct{}
)

// subscribe starts listening for changes.
func (m *Model) subscribe() tea.Cmd {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed || m.unsub != nil {
		return nil
	}
	ch, unsub := m.c.Svc.Subscribe()
	m.unsub = unsub
	done := m.c.Ctx.Done()
	wait := func() tea.Msg {
		select {
		case _, ok := <-ch:
			if !ok {
				return subClosedMsg{}
			}
			return changedMsg{}
		case <-done:
			return nil
		}
	}
	m.wait = wait
	return wait
}

func (m *Model) onChange(msg tea.Msg) tea.Cmd {
	switch msg.(type) {
	case changedMsg:
		var tick tea.Cmd
		if !m.pending {
			m.pending = true
			tick = tea.Tick(m.refresh, func(time.Time) tea.Msg { return refreshDueMsg{} })
		}
		return tea.Batch(m.wait, tick)
	case refreshDueMsg:
		m.pending = false
		return m.monitor.Refresh()
	}
	return nil // subscription closed: the service is going away
}
