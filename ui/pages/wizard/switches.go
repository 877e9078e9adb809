package wizard

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// The location page's two choices about the on-premises VMs as admins
// run them: mapping a switch the alternate host lacks to one it has, and
// discarding the memory state of Saved or Paused VMs.

// switchMap is the mappings chosen, nil when none.
func (l *locationStep) switchMap() map[string]string {
	if len(l.maps) == 0 {
		return nil
	}
	out := make(map[string]string, len(l.maps))
	for k, v := range l.maps {
		out[k] = v
	}
	return out
}

// nextMapping maps the first switch the host lacks to its first switch,
// or moves the first mapping on to the host's next switch (past the last,
// the mapping goes). false: there is nothing to map.
func (l *locationStep) nextMapping() bool {
	have := l.rep.HostSwitches
	if len(have) == 0 {
		return false
	}
	if l.maps == nil {
		l.maps = map[string]string{}
	}
	if len(l.rep.MissingSwitches) > 0 {
		l.maps[l.rep.MissingSwitches[0]] = have[0]
		return true
	}
	if len(l.maps) == 0 {
		return false
	}
	from := l.mapped()[0]
	i := slices.Index(have, l.maps[from])
	if i+1 >= len(have) {
		delete(l.maps, from)
	} else {
		l.maps[from] = have[i+1]
	}
	return true
}

// mapped lists the mapped switches in order.
func (l *locationStep) mapped() []string {
	var out []string
	for k := range l.maps {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// choiceLines shows the mappings, the switches still missing and the
// discard choice, under the location's own lines.
func (l *locationStep) choiceLines() []string {
	var out []string
	if l.alt {
		for _, from := range l.mapped() {
			out = append(out, fmt.Sprintf("      switch %s -> %s on this host (m: change)", from, l.maps[from]))
		}
		if l.rep != nil && len(l.rep.MissingSwitches) > 0 && len(l.rep.HostSwitches) > 0 {
			out = append(out, fmt.Sprintf("      missing here: %s (m: map it to %s)", strings.Join(l.rep.MissingSwitches, ", "), strings.Join(l.rep.HostSwitches, ", ")))
		}
	}
	if l.discard || l.rep != nil && len(l.rep.SavedVMs) > 0 {
		box := "[ ]"
		if l.discard {
			box = "[x]"
		}
		who := ""
		if l.rep != nil && len(l.rep.SavedVMs) > 0 {
			who = " (" + strings.Join(l.rep.SavedVMs, ", ") + ")"
		}
		out = append(out, fmt.Sprintf("  %s Discard the memory state of Saved or Paused VMs%s when the job starts (d)", box, who))
	}
	return out
}
