package keys

import "github.com/charmbracelet/bubbles/key"

// GlobalKeys mean the same on every screen: moving in a list, scrolling,
// help and quit. No screen may bind their keys to anything else.
type GlobalKeys struct {
	Up       key.Binding
	Down     key.Binding
	PageUp   key.Binding
	PageDown key.Binding
	Quit     key.Binding
	Help     key.Binding
}

func newGlobal() GlobalKeys {
	return GlobalKeys{
		Up:       key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/k", "up")),
		Down:     key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓/j", "down")),
		PageUp:   key.NewBinding(key.WithKeys("pgup", "ctrl+u"), key.WithHelp("pgup", "scroll up")),
		PageDown: key.NewBinding(key.WithKeys("pgdown", "ctrl+d"), key.WithHelp("pgdn", "scroll down")),
		Quit:     key.NewBinding(key.WithKeys("q", "ctrl+c"), key.WithHelp("q", "quit")),
		Help:     key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "more keys")),
	}
}

func (g GlobalKeys) bindings() []key.Binding {
	return []key.Binding{g.Up, g.Down, g.PageUp, g.PageDown, g.Quit, g.Help}
}
