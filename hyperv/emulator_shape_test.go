package hyperv

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// TestEmulatorMatchesRecordedShapes holds the emulator to the recorded
// outputs: for each operation it prints the same keys, nested the same way.
func TestEmulatorMatchesRecordedShapes(t *testing.T) {
	e := newHVEmulator()
	h := NewPSHost("hv01", e)
	spec := createSpec()
	spec.SwitchName = "LAN"
	if _, err := h.CreateVM(ctx, spec); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		recorded string
		script   string
	}{
		{"get-vm-web01", buildScript("get-vm", []psParam{strParam("Name", spec.Name)})},
		{"list-switches", buildScript("list-switches", nil)},
		{"disk-in-use-running", buildScript("disk-in-use", []psParam{strParam("Path", spec.Disks[0].HostPath)})},
		{"free-space", buildScript("free-space", []psParam{strParam("Path", `E:\Failback`)})},
		{"stop-vm-graceful", buildScript("stop-vm", []psParam{strParam("Name", spec.Name), intParam("TimeoutSeconds", 5)})},
		{"host-info-standalone", buildScript("host-info", nil)},
		{"create-vm-fw01", buildScript("get-vm", []psParam{strParam("Name", spec.Name)})},
		{"discard-saved-state", buildScript("discard-saved-state", []psParam{strParam("Name", spec.Name)})},
	}
	for _, c := range cases {
		out, err := e.Run(ctx, c.script)
		if err != nil {
			t.Fatal(err)
		}
		rec, err := os.ReadFile(filepath.Join("testdata", "outputs", c.recorded+".json"))
		if err != nil {
			t.Fatal(err)
		}
		got, err := jsonShape(out.Stdout)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := jsonShape(rec)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\nemulator %v\nrecorded %v", c.recorded, got, want)
		}
	}
}
