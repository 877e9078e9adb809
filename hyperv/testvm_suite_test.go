package hyperv_test

import (
	"testing"

	"github.com/failback/failback/hyperv"
	"github.com/failback/failback/hyperv/hosttest"
)

func TestPSHostTestSuiteThroughEmulator(t *testing.T) {
	hosttest.RunTestHostSuite(t, func(t *testing.T) hosttest.Fixture {
		h, remove := hyperv.NewEmulatedPSHost()
		return hosttest.Fixture{
			Host: h, Switch: "LAN", Generation: 2, Controller: hyperv.SCSI,
			DiskPath:   func(name string) string { return `C:\Lab\Disks\` + name + ".vhdx" },
			RemoveFile: remove,
		}
	})
}

func TestLabHostTestSuite(t *testing.T) {
	hosttest.RunTestHostSuite(t, labFixture(".vhdx", 2, hyperv.SCSI))
}
