package ui

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/exp/teatest"

	"github.com/failback/failback/ui/uitest"
)

// largeVMs is the scale drill's plan: 48 VMs, 96 disks, 5 groups.
const largeVMs = 48

// TestGoldenMonitorLargePlan: a job of 96 disks does not fit a disk a
// line; the monitor groups it, at 80x24 and at 200x60: a line for the
// job, one per start group, a VM a line inside the groups that move,
// and the disks that need the operator (failed, throttled) by name.
func TestGoldenMonitorLargePlan(t *testing.T) {
	for _, sz := range [][2]int{{80, 24}, {200, 60}} {
		t.Run(fmt.Sprintf("%dx%d", sz[0], sz[1]), func(t *testing.T) {
			f := uitest.New()
			f.SeedLarge(largeVMs)
			s := start(t, f, uitest.Operator, PageMonitor, sz[0], sz[1], "96 disks in 5 groups")
			m := s.golden()
			v := m.View()
			for _, want := range []string{"group 1 · 10 VMs · 20 disks · 20 done", "group 2 ·", "app11"} {
				if !strings.Contains(v, want) {
					t.Fatalf("the grouped view lacks %q:\n%s", want, v)
				}
			}
			if sz[1] >= 60 {
				for _, want := range []string{"app13-data", "throttled", "app15-os", "volume is full", "group 5 · 8 VMs"} {
					if !strings.Contains(v, want) {
						t.Fatalf("the grouped view lacks %q:\n%s", want, v)
					}
				}
			}
		})
	}
}

// BenchmarkMonitorView96Disks is one frame of the monitor on a 96-disk
// job (the console redraws on every refresh): aim under 16 ms.
func BenchmarkMonitorView96Disks(b *testing.B) {
	for _, sz := range [][2]int{{80, 24}, {200, 60}} {
		b.Run(fmt.Sprintf("%dx%d", sz[0], sz[1]), func(b *testing.B) {
			f := uitest.New()
			f.SeedLarge(largeVMs)
			m := New(f, uitest.Operator, Options{Renderer: asciiRenderer(), Page: PageMonitor, Width: sz[0], Height: sz[1]})
			defer m.Close()
			tm := teatest.NewTestModel(b, m, teatest.WithInitialTermSize(sz[0], sz[1]))
			teatest.WaitFor(b, tm.Output(), func(p []byte) bool { return bytes.Contains(p, []byte("96 disks")) },
				teatest.WithDuration(10*time.Second))
			if err := tm.Quit(); err != nil {
				b.Fatal(err)
			}
			fm := tm.FinalModel(b, teatest.WithFinalTimeout(5*time.Second)).(*Model)
			b.ResetTimer()
			for b.Loop() {
				if fm.View() == "" {
					b.Fatal("empty view")
				}
			}
		})
	}
}
