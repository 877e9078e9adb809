// Package lab builds a complete failback drill on one machine: the thing
// `failback lab up` runs, so anyone can rehearse the whole workflow
// without Azure or Hyper-V.
//
// A lab is one folder (default ./.lab):
//
//	lab.json          the lab's record: pids and port of what it started, VMs, hosts
//	config.toml       failback's configuration for all of it (checked by config.Load)
//	azurite/          Azurite's data: the storage account, container "vhds"
//	azure/vms/        the simulated Azure VMs' state files (azure.LabCompute)
//	hosts/hv01/       the original Hyper-V host (hyperv.LabHost), holding each
//	                  VM's disks as of the failover (disks/<vm>/<vm>-os.vhdx)
//	hosts/hv02/       an alternate host with the VMs' switch "LAN"
//	hosts/hv03/       an alternate host without it (the check refuses it)
//	certs/            lab-encryption.pem unlocks the encrypted VM (app01);
//	                  other-tenant.pem is a valid certificate that does not
//	state/            failback's jobs and journals (and serve's SSH host key)
//	ssh/              authorized_keys for 'failback serve': the builder's keys, as operators
//	logs/             azurite.log, writers.log, azurite-install.log
//
// Two processes run in the background, detached from the terminal: Azurite
// (installed with npm on first use) on a free loopback port, and the VM
// writer ('failback lab vms --dir DIR', hidden), which runs azure.RunLabVM
// for every VM: each writes to its disks while running, as a real VM would,
// and stops when the workflow powers it off. lab down stops both by the
// pids in lab.json, after checking each still runs the lab's own command
// line, and removes the folder.
//
// Disks are generated from a seed: a GPT (generation 2) or MBR
// (generation 1) partition table, file-system-like metadata, system files,
// a database (the region the VM keeps writing) and scattered files; about
// 5% of the disk holds data, the rest is unallocated. The same content goes
// to the Azure page blob and to hv01's VHDX; then only Azure moves on
// (database updates, a new file, a deleted file), so a delta failback has
// real but small work, as after a real failover.
package lab
