package uitest

import (
	"time"

	"github.com/failback/failback/workflow"
)

// Epoch is the fake clock's start; every event moves it one second on,
// so times in golden files never depend on the wall clock.
var Epoch = time.Date(2025, 5, 12, 9, 0, 0, 0, time.UTC)

const (
	gib = int64(1) << 30
	// ThumbGood unlocks the encrypted disks of the demo data.
	ThumbGood = "3F2A9C0D5E7B41A8C6D2E9F0B1A3C5D7E9F1A2B4"
	// ThumbExpired also unlocks them but has expired.
	ThumbExpired = "77E1D0C4B2A9F8E7D6C5B4A3928170F6E5D4C3B2"
	// ThumbOther unlocks nothing the demo plan needs.
	ThumbOther = "0B9A8F7E6D5C4B3A291807F6E5D4C3B2A1908F7E"
)

func vm(name, host string, disks ...workflow.DiskInfo) workflow.VMInfo {
	return workflow.VMInfo{
		Name: name, AzureVM: name + "-az", Host: host, Switch: "LAN",
		Generation: 2, CPUs: 2, Memory: 4 * gib, Disks: disks,
	}
}

// disk is a page-blob disk (an older failover's unmanaged disk).
func disk(blob, image string, size int64) workflow.DiskInfo {
	return workflow.DiskInfo{Kind: "page-blob", Slot: blob, Blob: blob, Name: blob, Image: image, Size: size}
}

// mdisk is a managed disk in its VM's slot ("OS disk", "LUN 0").
func mdisk(slot, name, image string, size int64, sku string) workflow.DiskInfo {
	return workflow.DiskInfo{Kind: "managed", Slot: slot, Name: name, SKU: sku, Image: image, Size: size}
}

// demoPlans is a recovery plan with two groups (one encrypted database
// disk) and a single VM.
func demoPlans() []workflow.PlanInfo {
	return []workflow.PlanInfo{
		{
			Name:        "web-shop",
			Description: "Web shop: front ends, then the database",
			Groups: [][]workflow.VMInfo{
				{
					vm("web01", "hv01.example.com", mdisk("OS disk", "web01-os", `D:\VMs\web01\web01-os.vhdx`, 127*gib, "Premium_LRS")),
					vm("web02", "hv01.example.com", mdisk("OS disk", "web02-os", `D:\VMs\web02\web02-os.vhdx`, 127*gib, "Premium_LRS")),
				},
				{
					vm("sql01", "hv02.example.com",
						disk("sql01-os.vhd", `D:\VMs\sql01\sql01-os.vhdx`, 127*gib),
						disk("sql01-data.vhd", `E:\VMs\sql01\sql01-data.vhdx`, 512*gib)),
				},
			},
		},
		{
			Name:        "files01",
			Description: "File server",
			Single:      true,
			Groups: [][]workflow.VMInfo{{
				vm("files01", "hv02.example.com",
					mdisk("OS disk", "files01-os", `D:\VMs\files01\files01-os.vhdx`, 64*gib, "StandardSSD_LRS"),
					mdisk("LUN 0", "files01-data", `E:\VMs\files01\files01-data.vhdx`, 1024*gib, "Standard_LRS")),
			}},
		},
	}
}

func demoSites() workflow.SiteInfo {
	return workflow.SiteInfo{
		Source: workflow.SiteSide{
			Name: "Azure West Europe", Kind: "azure",
			Detail: "subscription 00000000-0000-0000-0000-0000000000aa, resource group rg-dr, storage account fbweu01 at fbweu01.blob.core.windows.net",
		},
		Stop: workflow.StopText("power-off"),
		Target: []workflow.SiteSide{{
			Name: "Amsterdam DC", Kind: "hyper-v",
			Detail: "Hyper-V 2022 hosts",
			Hosts:  []string{"hv01.example.com", "hv02.example.com", "hv03.example.com"},
		}},
	}
}

func demoCerts(needed bool) workflow.CertReport {
	if !needed {
		return workflow.CertReport{}
	}
	return workflow.CertReport{
		Needed: []string{ThumbGood},
		Disks:  map[string]string{"sql01/sql01-data.vhd": ThumbGood},
		Certs: []workflow.CertInfo{
			{
				File: "certs/dr-2025.pfx", Subject: "CN=failback DR 2025", Thumbprint: ThumbGood,
				NotBefore: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC),
				NotAfter:  time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
				HasKey:    true, Matches: true,
			},
			{
				File: "certs/dr-2024.pfx", Subject: "CN=failback DR 2024", Thumbprint: ThumbExpired,
				NotBefore: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC),
				NotAfter:  time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC),
				Expired:   true, HasKey: true, Matches: true,
				Problem: "expired on 2025-01-01",
			},
			{
				File: "certs/lab.pfx", Subject: "CN=lab", Thumbprint: ThumbOther,
				NotBefore: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC),
				NotAfter:  time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC),
				HasKey:    true, Matches: false,
				Problem: "does not unlock sql01-data.vhd",
			},
		},
	}
}
