package keys

import "github.com/charmbracelet/bubbles/key"

// WizardKeys are the failback wizard's, shared by its steps: each step
// uses some of them, and none means two things in any step.
type WizardKeys struct {
	Next     key.Binding
	Back     key.Binding
	Toggle   key.Binding // location: original/alternate
	CreateVM key.Binding
	ConfirmD key.Binding // direction: confirm Azure -> on-premises
	Override key.Binding // use an expired certificate anyway
	Retry    key.Binding // run a step's checks or queries again
	// MapSwitch maps a switch the alternate host lacks to one it has;
	// Discard accepts discarding Saved or Paused VMs' memory state.
	MapSwitch key.Binding
	Discard   key.Binding
}

func newWizard() WizardKeys {
	return WizardKeys{
		Next:     key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "next")),
		Back:     key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "back")),
		Toggle:   key.NewBinding(key.WithKeys("tab", "left", "right"), key.WithHelp("tab", "original/alternate")),
		CreateVM: key.NewBinding(key.WithKeys(" "), key.WithHelp("space", "create VM if missing")),
		ConfirmD: key.NewBinding(key.WithKeys("y"), key.WithHelp("y", "confirm direction")),
		Override: key.NewBinding(key.WithKeys("o"), key.WithHelp("o", "use expired certificate")),
		Retry:    key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "run again")),

		MapSwitch: key.NewBinding(key.WithKeys("m"), key.WithHelp("m", "map switch")),
		Discard:   key.NewBinding(key.WithKeys("d"), key.WithHelp("d", "discard saved state")),
	}
}

func (w WizardKeys) bindings() []key.Binding {
	return []key.Binding{w.Next, w.Back, w.Toggle, w.CreateVM, w.ConfirmD, w.Override, w.Retry, w.MapSwitch, w.Discard}
}
