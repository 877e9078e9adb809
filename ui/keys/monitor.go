package keys

import "github.com/charmbracelet/bubbles/key"

// MonitorKeys are the job monitor's: the view keys, and one key per
// workflow action (the action bar maps actions to them).
type MonitorKeys struct {
	NewJob   key.Binding
	Log      key.Binding
	Complete key.Binding
	Commit   key.Binding
	Reverse  key.Binding
	Cancel   key.Binding
	Undo     key.Binding
	Resume   key.Binding
	// ReverseOnce runs one reverse replication cycle; StopReverse ends
	// continuous reverse replication.
	ReverseOnce key.Binding
	StopReverse key.Binding
	// UndoRemove is Undo that also removes the VMs the job created.
	UndoRemove key.Binding
	// EndTest ends a test failback.
	EndTest key.Binding
}

func newMonitor() MonitorKeys {
	return MonitorKeys{
		NewJob:   key.NewBinding(key.WithKeys("n"), key.WithHelp("n", "new failback")),
		Log:      key.NewBinding(key.WithKeys("l"), key.WithHelp("l", "log")),
		Complete: key.NewBinding(key.WithKeys("c"), key.WithHelp("c", "complete failover")),
		Commit:   key.NewBinding(key.WithKeys("m"), key.WithHelp("m", "commit")),
		Reverse:  key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "reverse replicate")),
		Cancel:   key.NewBinding(key.WithKeys("x"), key.WithHelp("x", "cancel")),
		Undo:     key.NewBinding(key.WithKeys("u"), key.WithHelp("u", "undo")),
		Resume:   key.NewBinding(key.WithKeys("e"), key.WithHelp("e", "resume")),

		ReverseOnce: key.NewBinding(key.WithKeys("o"), key.WithHelp("o", "reverse once")),
		StopReverse: key.NewBinding(key.WithKeys("s"), key.WithHelp("s", "stop reverse")),
		UndoRemove:  key.NewBinding(key.WithKeys("U"), key.WithHelp("U", "undo, remove created VMs")),
		EndTest:     key.NewBinding(key.WithKeys("t"), key.WithHelp("t", "end test")),
	}
}

func (m MonitorKeys) bindings() []key.Binding {
	return []key.Binding{m.NewJob, m.Log, m.Complete, m.Commit, m.Reverse, m.Cancel, m.Undo, m.Resume, m.ReverseOnce, m.StopReverse, m.UndoRemove, m.EndTest}
}
