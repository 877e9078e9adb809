//go:build unix

package e2e

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/failback/failback/config"
	"github.com/failback/failback/hyperv"
	"github.com/failback/failback/lab"
)

// gone reports whether no process has this id any more.
func gone(pid int) bool { return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) }

func TestLabUpStatusDown(t *testing.T) {
	ctx := context.Background()
	m, up := labUp(t, "--write-rate", "4")
	for _, want := range []string{"Starting Azurite", "Disks", "managed disks: 5, page blobs: 1", "Starting the lab's Azure", "Lab ready", "Next steps", "--plan tier1-web --sync delta --yes"} {
		if !strings.Contains(up.out, want) {
			t.Errorf("lab up's output lacks %q", want)
		}
	}

	// The config it wrote is one failback accepts, without a warning.
	c, err := config.Load(m.Path(m.Config))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Warnings) > 0 || len(c.VMs) != lab.DefaultVMs || len(c.Plans) != 2 {
		t.Fatalf("config: %d VMs, %d plans, warnings %v", len(c.VMs), len(c.Plans), c.Warnings)
	}
	if c.Azure.Compute != config.ComputeARM || c.Azure.ARMEndpoint != m.ARMEndpoint() ||
		!strings.Contains(c.Azure.Storage.ConnectionString.Reveal(), "BlobEndpoint="+m.FrontURL()) {
		t.Fatalf("config: compute %q, arm_endpoint %q (lab %s); storage not through the front %s",
			c.Azure.Compute, c.Azure.ARMEndpoint, m.ARMEndpoint(), m.FrontURL())
	}

	// Azure, as the SDK sees it: every disk of the size asked for (a
	// managed disk of 64 MiB, or a fixed-VHD page blob of 64 MiB plus its
	// footer; a managed disk's grant reads the same VHD), most of its
	// blocks equal to hv01's image, a few not (Azure moved on).
	az := newSDK(t, m)
	var encrypted, managed, blobs int
	for _, v := range m.VMs {
		for _, d := range v.Disks {
			func() {
				ad := az.azureContent(t, d)
				defer ad.done() // before lab down takes Azure away
				if ad.raw.Size() != 64<<20 || ad.blobSize != 64<<20+512 {
					t.Fatalf("%s: size %d, blob %d; want 64 MiB plus the 512-byte footer", d.Describe(), ad.raw.Size(), ad.blobSize)
				}
				if d.Managed != "" {
					managed++
				} else {
					blobs++
				}
				if ad.encrypted != v.Encrypted {
					t.Fatalf("%s: encrypted %v, the lab says %v", d.Describe(), ad.encrypted, v.Encrypted)
				}
				differ, total := differingBlocks(t, ad.plain, d.Image)
				t.Logf("%s: %d of %d blocks differ from %s", d.Describe(), differ, total, d.Image)
				if differ == 0 || differ > total/4 {
					t.Fatalf("%s: %d of %d 1 MiB blocks differ from hv01's image; want a few (a delta sync with real, small work)", d.Describe(), differ, total)
				}
				if ad.encrypted {
					encrypted++
					// The blob holds ciphertext: the partition table (the
					// same on both sides) reads differently without the key.
					plain, raw := make([]byte, 4096), make([]byte, 4096)
					if err := ad.plain.ReadAt(ctx, plain, 0); err != nil {
						t.Fatal(err)
					}
					if err := ad.raw.ReadAt(ctx, raw, 0); err != nil {
						t.Fatal(err)
					}
					if bytes.Equal(plain, raw) || plain[510] != 0x55 || plain[511] != 0xAA {
						t.Fatal("the encrypted VM's disk is not encrypted, or does not decrypt to a partitioned disk")
					}
				}
			}()
		}
	}
	if encrypted != 1 || blobs != 1 || managed != lab.DefaultVMs {
		t.Fatalf("%d managed disks, %d page blobs, %d encrypted; want %d managed (db01 has two), 1 page blob, encrypted",
			managed, blobs, encrypted, lab.DefaultVMs)
	}

	// hv02 has the VMs' switch, hv03 does not: the alternate check says so.
	spec := hyperv.VMSpec{Name: "web01", Generation: 2, CPUCount: 2, MemoryBytes: 4 << 30, SwitchName: lab.SwitchName}
	for _, h := range []struct {
		name string
		ok   bool
	}{{lab.HostAlternate, true}, {lab.HostWrongSwitch, false}} {
		host, err := hyperv.OpenLab(m.Path("hosts/" + h.name))
		if err != nil {
			t.Fatal(err)
		}
		rep, err := hyperv.CheckAlternate(ctx, host, spec, hyperv.CheckOptions{})
		if (err == nil) != h.ok || (err != nil && !errors.Is(err, hyperv.ErrSwitchNotFound)) {
			t.Fatalf("%s: check says %v", h.name, err)
		}
		if rep.SwitchFound != h.ok || rep.OK() != h.ok {
			t.Fatalf("%s: switch found %v, problems %v; want switch found %v", h.name, rep.SwitchFound, rep.Problems, h.ok)
		}
	}

	// lab status: healthy, the front and ARM answer, every Azure VM
	// keeps writing.
	s1, code := status(t, m.Dir)
	a := s1.Azure
	if code != 0 || !s1.Healthy || !s1.Azurite.Answering || !a.Running || !a.FrontAnswering || !a.ARMAnswering ||
		a.ARMVMs != lab.DefaultVMs || len(s1.VMs) != lab.DefaultVMs {
		t.Fatalf("status exit %d: healthy %v, Azurite answering %v, Azure %+v, %d VMs; problems %v",
			code, s1.Healthy, s1.Azurite.Answering, a, len(s1.VMs), s1.Problems)
	}
	text := mustFailback(t, "lab", "status", "--dir", m.Dir).out
	for _, want := range []string{"blob front  " + m.FrontURL() + ", answering", "ARM         " + m.ARMEndpoint() + ", answering: 5 VMs in rg-lab",
		"db01-os (OS disk), db01-data (LUN 0)", "vhds/app01-os.vhd (page blob)"} {
		if !strings.Contains(text, want) {
			t.Errorf("lab status lacks %q:\n%s", want, text)
		}
	}
	time.Sleep(1500 * time.Millisecond)
	s2, _ := status(t, m.Dir)
	for i, v := range s2.VMs {
		if v.Power != "running" || !v.Writing || v.Writes <= s1.VMs[i].Writes {
			t.Fatalf("VM %s: %s, writing %v, writes %d then %d: not writing steadily", v.Name, v.Power, v.Writing, s1.VMs[i].Writes, v.Writes)
		}
	}
	if len(s2.Hosts) != 3 || len(s2.Hosts[0].VMs) != lab.DefaultVMs {
		t.Fatalf("hosts %+v: want hv01 holding every VM, hv02 and hv03", s2.Hosts)
	}

	// A second lab up reuses the running lab.
	again := mustFailback(t, "lab", "up", "--no-console", "--dir", m.Dir)
	if !strings.Contains(again.out, "reusing it") {
		t.Fatalf("a second lab up did not reuse the healthy lab:\n%s", again.out)
	}
	if m2, _ := lab.ReadManifest(m.Dir); m2.Azurite.PID != m.Azurite.PID || m2.Azure.PID != m.Azure.PID || m2.ARMPort != m.ARMPort {
		t.Fatal("the second lab up restarted the lab's processes")
	}

	// lab down leaves nothing running and no folder.
	mustFailback(t, "lab", "down", "--dir", m.Dir)
	for _, pid := range []int{m.Azurite.PID, m.Azure.PID} {
		if !gone(pid) {
			t.Fatalf("process %d still exists after lab down", pid)
		}
	}
	if _, err := os.Stat(m.Dir); !os.IsNotExist(err) {
		t.Fatalf("the lab folder survived lab down (%v)", err)
	}
	if _, code := status(t, m.Dir); code != 1 {
		t.Fatalf("lab status without a lab: exit %d, want 1", code)
	}
}
