package hyperv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/failback/failback/internal/testenv"
)

// TestScriptsParse parses every script PSHost sends, built by the real
// methods with ordinary values and with hostile ones, with a real
// PowerShell grammar: tree-sitter-powershell run by web-tree-sitter under
// node (pinned in tools/pwsh-grammar; ./scripts/test and .ci/run install
// it). A syntax error anywhere fails the test with the line.
//
// The grammar is stricter than PowerShell in one known place: it rejects
// a bareword list as a command argument (Select-Object A, B), so our
// scripts quote such lists ('A', 'B'), which PowerShell reads the same. Any
// other rejection must be checked against Microsoft's PowerShell language
// specification before a script is changed for it.
func TestScriptsParse(t *testing.T) {
	node, parser := grammarTool(t)
	scripts := allScripts(t)
	dir := t.TempDir()
	var files []string
	ops := map[string]bool{}
	seen := map[string]bool{}
	for i, s := range scripts {
		op, args, err := parseScript(s)
		if err != nil {
			t.Fatalf("script %d: the argument block does not read back: %v\n%s", i, err, s)
		}
		ops[op] = true
		for _, v := range args {
			switch v := v.(type) {
			case string:
				seen[v] = true
			case []string:
				for _, x := range v {
					seen[x] = true
				}
			case []map[string]any:
				for _, m := range v {
					for _, x := range m {
						if x, ok := x.(string); ok {
							seen[x] = true
						}
					}
				}
			}
		}
		f := filepath.Join(dir, fmt.Sprintf("%03d-%s.ps1", i, op))
		if err := os.WriteFile(f, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	for _, v := range hostile {
		if !seen[v] {
			t.Errorf("no script carries %q as an argument that reads back whole", v)
		}
	}
	for op := range scriptLibs {
		if !ops[op] {
			t.Errorf("no script of operation %s was parsed: add a call to allScripts", op)
		}
	}
	start := time.Now()
	out, err := exec.Command(node, append([]string{parser}, files...)...).CombinedOutput()
	t.Logf("parsed %d scripts in %s", len(files), time.Since(start).Round(time.Millisecond))
	if err != nil {
		var bad []string
		for _, l := range strings.Split(string(out), "\n") {
			if l != "" && !strings.HasSuffix(l, ": ok") {
				bad = append(bad, l)
			}
		}
		t.Fatalf("the PowerShell grammar rejects scripts failback sends (%v):\n%s", err, strings.Join(bad, "\n"))
	}
	if n := strings.Count(string(out), ": ok\n"); n != len(files) {
		t.Fatalf("%d of %d scripts reported as parsed:\n%s", n, len(files), out)
	}
}

// TestScriptsParseCatchesASyntaxError holds the check to its purpose: a
// bareword list and an unclosed block are reported, a quoted list is not.
func TestScriptsParseCatchesASyntaxError(t *testing.T) {
	node, parser := grammarTool(t)
	dir := t.TempDir()
	cases := map[string]bool{
		"Get-VM | Select-Object 'Name', 'State'\n": true,
		"Get-VM | Select-Object Name, State\n":     false,
		"if ($true) { Get-VM\n":                    false,
	}
	i := 0
	for src, ok := range cases {
		f := filepath.Join(dir, fmt.Sprintf("%d.ps1", i))
		i++
		if err := os.WriteFile(f, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(node, parser, f).CombinedOutput()
		if (err == nil) != ok {
			t.Errorf("%q: parsed=%v, want %v:\n%s", src, err == nil, ok, out)
		}
	}
}

// grammarTool finds node and tools/pwsh-grammar/parse.mjs with its
// packages installed, or skips (fails in CI).
func grammarTool(t *testing.T) (node, parser string) {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		testenv.Missing(t, "node (Node.js, for the PowerShell grammar)")
	}
	dir, err := filepath.Abs(filepath.Join("..", "tools", "pwsh-grammar"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "tree-sitter-powershell", "tree-sitter-powershell.wasm")); err != nil {
		testenv.Missing(t, "the PowerShell grammar (cd tools/pwsh-grammar && npm ci --ignore-scripts)")
	}
	return node, filepath.Join(dir, "parse.mjs")
}

// hostile are values that would break a script that pasted them into code.
var hostile = []string{
	"x'; Stop-Computer -Force; '",
	"$(Stop-Computer -Force)",
	"a`\"b`$c`nd",
	"semi;colon & amp | pipe",
	"two\nlines\r\nand CR",
	"\u2018typographic\u2019 \u201cquotes\u201d \u201a\u201b",
	"@{ hash = 1 } @(array) # comment <# block #> }",
	"caf\u00e9 \u65e5\u672c",
}

// captureRunner records every script and answers with a failure, so that
// each method returns after sending one.
type captureRunner struct {
	mu      sync.Mutex
	scripts []string
}

func (c *captureRunner) Describe() string { return "capture" }

func (c *captureRunner) Run(_ context.Context, script string) (Output, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.scripts = append(c.scripts, script)
	return Output{}, errors.New("captured")
}

// allScripts calls every PSHost method with ordinary and hostile values.
func allScripts(t *testing.T) []string {
	r := &captureRunner{}
	h := NewPSHost("hv01", r)
	ctx := context.Background()
	values := append([]string{"web01"}, hostile...)
	for _, v := range values {
		path := `D:\VMs\` + v + `\disk.vhdx`
		_, _ = h.GetVM(ctx, v)
		_ = h.StartVM(ctx, v)
		_, _ = h.ShutdownVM(ctx, v, time.Minute)
		_ = h.DiscardSavedState(ctx, v)
		_, _, _ = h.Heartbeat(ctx, v)
		_ = h.RemoveVM(ctx, v, true)
		for _, since := range [][]string{nil, {v, "rct:" + v}} {
			_, _ = h.BeginCycle(ctx, v, CycleOptions{Tag: "failback " + v, CrashConsistent: since == nil, Since: since})
			_, _ = h.EndCycle(ctx, v, Cycle{Checkpoint: v}, CycleEnd{Keep: since != nil, Drop: since})
		}
		_, _ = h.DiskInUse(ctx, path)
		_, _ = h.FreeSpace(ctx, `D:\VMs\`+v)
		_ = h.AttachDisk(ctx, v, DiskSpec{HostPath: path, Controller: Controller{Type: SCSI, Number: 1, Location: 2}})
		_, _, _ = h.EnsureSwitch(ctx, v, SwitchPrivate)
		_ = h.RemoveSwitch(ctx, v)
		_, _ = h.CheckVM(ctx, v, []int{1433, 3389}, time.Second)
		for _, gen := range []int{1, 2} {
			spec := shapeSpec(v, gen)
			if _, err := h.CreateVM(ctx, spec); err == nil || err.Error() == "" {
				t.Fatalf("CreateVM(%q): %v", v, err)
			}
		}
	}
	_, _ = h.ListSwitches(ctx)
	_, _ = h.Info(ctx)
	sort.Strings(r.scripts)
	return r.scripts
}

// shapeSpec is a VM with everything create-vm reproduces, named v.
func shapeSpec(v string, gen int) VMSpec {
	s := VMSpec{Name: v, Generation: gen, CPUCount: 4, MemoryBytes: 4 << 30, DynamicMemory: true,
		MemoryMinimum: 1 << 30, MemoryMaximum: 8 << 30, Folder: `D:\VMs\` + v, HighlyAvailable: true,
		Adapters: []AdapterSpec{
			{Name: v, SwitchName: v, MAC: "00-15-5D-0A-1B-2C", VLAN: VLAN{Mode: "Access", AccessID: 20}},
			{Name: "Trunk", SwitchName: "LAN", VLAN: VLAN{Mode: "Trunk", NativeID: 1, Allowed: v}},
			{Name: "Unplugged"},
		}}
	if gen == 2 {
		s.SecureBoot, s.SecureBootTemplate = "Off", v
		s.DVDDrives = []Controller{{Type: SCSI, Location: 5}}
		s.Disks = []DiskSpec{{HostPath: `D:\VMs\` + v + `\os.vhdx`, VirtualSize: 1 << 30, Controller: Controller{Type: SCSI}}}
		return s
	}
	for i, c := range []Controller{{Type: IDE}, {Type: IDE, Location: 1}, {Type: IDE, Number: 1, Location: 1}} {
		s.Disks = append(s.Disks, DiskSpec{HostPath: fmt.Sprintf(`D:\VMs\%s\disk%d.vhd`, v, i), VirtualSize: 1 << 30, Controller: c, Existing: i == 2})
	}
	return s
}
