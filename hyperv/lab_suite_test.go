package hyperv_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/failback/failback/hyperv"
	"github.com/failback/failback/hyperv/hosttest"
)

func newLab(t *testing.T) *hyperv.LabHost {
	t.Helper()
	h, err := hyperv.CreateLab(filepath.Join(t.TempDir(), "lab01"), hyperv.LabConfig{
		Name:     "lab01",
		Switches: []hyperv.Switch{{Name: "LAN", Type: hyperv.SwitchExternal}, {Name: "Internal", Type: hyperv.SwitchInternal}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func labFixture(ext string, gen int, ctl hyperv.ControllerType) func(t *testing.T) hosttest.Fixture {
	return func(t *testing.T) hosttest.Fixture {
		h := newLab(t)
		return hosttest.Fixture{
			Host: h, Switch: "LAN", Generation: gen, Controller: ctl,
			DiskPath:   func(name string) string { return filepath.Join(h.DiskFolder(), name+ext) },
			RemoveFile: os.Remove,
		}
	}
}

func TestLabHostSuiteVHD(t *testing.T) {
	hosttest.RunHostSuite(t, labFixture(".vhd", 1, hyperv.IDE))
}

func TestLabHostSuiteVHDX(t *testing.T) {
	hosttest.RunHostSuite(t, labFixture(".vhdx", 2, hyperv.SCSI))
}
