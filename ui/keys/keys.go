// Package keys is the console's keymap, one file per screen as in
// gh-dash: global.go holds the keys that mean the same on every screen,
// wizard.go, monitor.go and dialog.go the keys of one screen each, so
// what a letter means is read per screen ("r" runs a wizard check again
// but starts reverse replication in the monitor). New is called once per
// program (local terminal or SSH session); pages change the help text
// and the enabled state of their copy, so nothing here is global.
package keys

// KeyMap holds every binding of one program: the global keys (reached
// directly, km.Quit) and each screen's own (km.Monitor.Log).
type KeyMap struct {
	GlobalKeys
	Wizard  WizardKeys
	Monitor MonitorKeys
	Dialog  DialogKeys
}

// New returns the keymap for one program.
func New() *KeyMap {
	return &KeyMap{GlobalKeys: newGlobal(), Wizard: newWizard(), Monitor: newMonitor(), Dialog: newDialog()}
}
