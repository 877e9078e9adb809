// Package keys is the console's keymap. New is called once per program
// (local terminal or SSH session); pages change the help text and the
// enabled state of their copy, so nothing here is global.
package keys

import "github.com/charmbracelet/bubbles/key"

// KeyMap holds every binding of the console. Pages pick the bindings that
// apply to them for their help line.
type KeyMap struct {
	Up       key.Binding
	Down     key.Binding
	PageUp   key.Binding
	PageDown key.Binding
	Next     key.Binding
	Back     key.Binding
	Quit     key.Binding
	Help     key.Binding

	// Wizard.
	Toggle   key.Binding // location: original/alternate
	CreateVM key.Binding
	ConfirmD key.Binding // direction: confirm Azure -> on-premises
	Override key.Binding // use an expired certificate anyway
	Retry    key.Binding

	// Monitor.
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

	// Confirmation dialog.
	Yes   key.Binding
	No    key.Binding
	Left  key.Binding
	Right key.Binding
}

// New returns the keymap for one program.
func New() *KeyMap {
	return &KeyMap{
		Up:       key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/k", "up")),
		Down:     key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓/j", "down")),
		PageUp:   key.NewBinding(key.WithKeys("pgup", "ctrl+u"), key.WithHelp("pgup", "scroll up")),
		PageDown: key.NewBinding(key.WithKeys("pgdown", "ctrl+d"), key.WithHelp("pgdn", "scroll down")),
		Next:     key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "next")),
		Back:     key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "back")),
		Quit:     key.NewBinding(key.WithKeys("q", "ctrl+c"), key.WithHelp("q", "quit")),
		Help:     key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "more keys")),

		Toggle:   key.NewBinding(key.WithKeys("tab", "left", "right"), key.WithHelp("tab", "original/alternate")),
		CreateVM: key.NewBinding(key.WithKeys(" "), key.WithHelp("space", "create VM if missing")),
		ConfirmD: key.NewBinding(key.WithKeys("y"), key.WithHelp("y", "confirm direction")),
		Override: key.NewBinding(key.WithKeys("o"), key.WithHelp("o", "use expired certificate")),
		Retry:    key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "run again")),

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

		Yes:   key.NewBinding(key.WithKeys("y"), key.WithHelp("y", "yes, do it")),
		No:    key.NewBinding(key.WithKeys("n", "esc"), key.WithHelp("n/esc", "no")),
		Left:  key.NewBinding(key.WithKeys("left", "h", "shift+tab"), key.WithHelp("←/→", "switch button")),
		Right: key.NewBinding(key.WithKeys("right", "l", "tab"), key.WithHelp("←/→", "switch button")),
	}
}
