// Package lab builds a complete failback drill on one machine: the thing
// `failback lab up` runs, so anyone can rehearse the whole workflow
// without Azure or Hyper-V.
//
// A lab is one folder (default ./.lab):
//
//	lab.json          the lab's record: pids and ports of what it started, VMs, hosts
//	config.toml       failback's configuration for all of it (checked by config.Load)
//	azurite/          Azurite's data: the storage account ("vhds": app01's page
//	                  blob; "lab-managed": the blobs behind the managed disks)
//	azure/arm/        the ARM endpoint's resources (internal/labarm): VMs, managed
//	                  disks, snapshots, NICs, public IPs, one JSON file each
//	azure/vms/        the Azure VMs' power states and writers' files (azure.LabCompute)
//	hosts/hv01/       the original Hyper-V host (hyperv.LabHost), holding each
//	                  VM's disks as of the failover (disks/<vm>/<vm>-os.vhdx)
//	hosts/hv02/       an alternate host with the VMs' switch "LAN"
//	hosts/hv03/       an alternate host without it (the check refuses it)
//	certs/            lab-encryption.pem unlocks the encrypted VM (app01);
//	                  other-tenant.pem is a valid certificate that does not
//	state/            failback's jobs and journals (and serve's SSH host key)
//	ssh/              authorized_keys for 'failback serve': the builder's keys, as operators
//	logs/             azurite.log, azure.log (the lab's Azure process), arm.log
//	                  (one line per ARM request), azurite-install.log
//
// The lab's Azure is what the product meets in Azure, reached through the
// real code path: config.toml says compute = "arm" with arm_endpoint on
// loopback, so failback finds each VM's disks in its storage profile,
// snapshots managed disks and reads them through SAS grants with the Azure
// SDK, exactly as against Azure. Every VM (in resource group rg-lab) runs
// on managed disks (db01 has a data disk at LUN 0) except app01, whose
// encrypted disk stays a page blob (the encrypted replica format lives in
// page-blob metadata), so both kinds of disk are drilled. Every VM has a
// NIC, the web servers a public IP, with deleteOptions that differ (web01's
// OS disk, NIC and public IP are set to go with it; commit keeps the disk
// anyway), so commit has each case to handle.
//
// Two processes run in the background, detached from the terminal:
// Azurite (installed with npm on first use) on a free loopback port, and
// the lab's Azure ('failback lab vms --dir DIR', hidden; RunAzure), which
// serves the blob front (azurite.Front: Azurite behind it, snapshot diffs
// answered as Azure does, cleared pages included) and the ARM endpoint
// (labarm) on two loopback ports lab up chooses and records in lab.json
// before starting it (a restarted process serves there again, so
// config.toml stays right), and runs azure.RunLabVM for every VM: each
// writes to its disks while running, as a real VM would, 5% of its writes
// being trims that clear their range, and stops when the workflow powers
// it off. The process serves on after every VM is deleted (a committed
// drill), until lab down stops both by the pids in lab.json, after
// checking each still runs the lab's own command line, and removes the
// folder. lab up builds the resources itself with labarm's builder (no
// HTTP), then starts the process and waits until the front and the ARM
// endpoint answer and every VM writes.
//
// Disks are generated from a seed: a GPT (generation 2) or MBR
// (generation 1) partition table, file-system-like metadata, system files,
// a database (the region the VM keeps writing) and scattered files; about
// 5% of the disk holds data, the rest is unallocated. The same content goes
// to the Azure disk (the page blob, or the blob behind the managed disk)
// and to hv01's VHDX; then only Azure moves on (database updates, a new
// file, a deleted file), so a delta failback has real but small work, as
// after a real failover.
package lab
