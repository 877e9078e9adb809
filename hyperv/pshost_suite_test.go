package hyperv_test

import (
	"testing"

	"github.com/failback/failback/hyperv"
	"github.com/failback/failback/hyperv/hosttest"
)

// TestPSHostSuiteThroughEmulator runs the behaviour suite against PSHost:
// every call builds the real script, whose arguments the emulator reads
// back with a PowerShell literal reader, and whose answer PSHost parses.
func TestPSHostSuiteThroughEmulator(t *testing.T) {
	hosttest.RunHostSuite(t, func(t *testing.T) hosttest.Fixture {
		h, remove := hyperv.NewEmulatedPSHost()
		return hosttest.Fixture{
			Host: h, Switch: "LAN", Generation: 2, Controller: hyperv.SCSI,
			DiskPath:   func(name string) string { return `C:\Lab\Disks\` + name + ".vhdx" },
			RemoveFile: remove,
		}
	})
}
