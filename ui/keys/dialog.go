package keys

import "github.com/charmbracelet/bubbles/key"

// DialogKeys are the confirmation dialog's. The dialog takes every key
// while it is open, so its n (no) and l (switch button) do not meet the
// monitor's n (new failback) and l (log) it covers.
type DialogKeys struct {
	Yes   key.Binding
	No    key.Binding
	Left  key.Binding
	Right key.Binding
	// Press answers with the button that has the focus.
	Press key.Binding
}

func newDialog() DialogKeys {
	return DialogKeys{
		Yes:   key.NewBinding(key.WithKeys("y"), key.WithHelp("y", "yes, do it")),
		No:    key.NewBinding(key.WithKeys("n", "esc"), key.WithHelp("n/esc", "no")),
		Left:  key.NewBinding(key.WithKeys("left", "h", "shift+tab"), key.WithHelp("←/→", "switch button")),
		Right: key.NewBinding(key.WithKeys("right", "l", "tab"), key.WithHelp("←/→", "switch button")),
		Press: key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "press the chosen button")),
	}
}

func (d DialogKeys) bindings() []key.Binding {
	return []key.Binding{d.Yes, d.No, d.Left, d.Right, d.Press}
}
