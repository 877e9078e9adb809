package keys

import (
	"testing"

	"github.com/charmbracelet/bubbles/key"
)

// Within a screen no key means two things: each screen's keys and the
// global ones, taken together, bind every key at most once.
func TestNoKeyMeansTwoThingsOnAScreen(t *testing.T) {
	km := New()
	for name, screen := range map[string][]key.Binding{
		"wizard":  km.Wizard.bindings(),
		"monitor": km.Monitor.bindings(),
		"dialog":  km.Dialog.bindings(),
	} {
		seen := map[string]string{}
		for _, b := range append(km.GlobalKeys.bindings(), screen...) {
			for _, k := range b.Keys() {
				if was, ok := seen[k]; ok {
					t.Errorf("%s: %q is both %q and %q", name, k, was, b.Help().Desc)
				}
				seen[k] = b.Help().Desc
			}
		}
	}
}

// Every program gets its own keymap: a page that changes its copy does
// not change another session's.
func TestNewKeymapsAreIndependent(t *testing.T) {
	a, b := New(), New()
	a.Monitor.Log.SetEnabled(false)
	a.Up.SetHelp("↑", "changed")
	if !b.Monitor.Log.Enabled() || b.Up.Help().Desc != "up" {
		t.Fatal("a change to one program's keymap reached another's")
	}
}
