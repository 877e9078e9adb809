// Package workflow: how it is built, and why.
//
// # Manager, Deps, Client
//
// Manager implements Service for one state folder (config state_dir). Open
// takes Deps that are already built (storage, compute, hosts by name, the
// certificate store, a clock): internal/cli/wire.go builds real ones from
// config.toml, tests and drills inject lab ones (see labtest). Only one
// process drives a state folder: Open takes a flock on state_dir/lock and
// serves the control socket (HTTP+JSON on a unix socket, described in
// state_dir/control.json). Dial returns a Client implementing Service over
// that socket, so script commands and later consoles go through the driver
// instead of driving the same job twice; a second Open is refused with a
// *BusyError naming the driving process. A read-only Manager (Deps.ReadOnly)
// lets listing commands look without ever becoming the driver.
//
// # State folder
//
//	lock, control.json, control.sock   the driver
//	throughput.json                    measured read rate, for estimates
//	jobs/<id>/job.json                 the job's state machine (atomic rewrite after every transition)
//	jobs/<id>/audit.log                JSON lines: time, who, what, result, text
//	jobs/<id>/disks/<vm>/<n>/pass-<k>/ one engine journal (undo + resume) per sync pass
//	jobs/<id>/disks/<vm>/<n>/pass-<k>.ranges.json   a ranges pass's extents
//	jobs/<id>/disks/<vm>/<n>/sums      block sums after phase 2 (reverse replication)
//
// A host that writes through its mover (data_path = "mover", the
// default) keeps the passes' journals and the sums in the mover's state
// folder on the host instead, laid out the same (jobs/<id>/disks/...);
// the ranges files stay here. onprem.go decides which, per VM, as the job
// recorded at its start.
//
// Each pass has its own journal, holding the target bytes as they were
// before that pass. Rolling the journals back newest first restores the
// disk as it was before the job, whatever passes ran or half ran.
//
// # States and transitions
//
// A job has a flow (what it is doing or heading to: start, complete,
// commit, reverse, cancel, undo) and a state (where it stands). Per-VM and
// per-disk records (passes done, power changes this job made, VMs it
// started or created) make every step idempotent, so re-entering a flow
// after a crash skips what is done: an engine pass resumes from its
// journal, a power-off already done is seen in the record or in State().
//
//	start (delta):  preflight -> phase1 -> catch-up (rounds) -> ready-to-complete
//	start (full):   preflight -> shutting-down-azure -> phase2 -> verifying -> starting-onprem -> pending-commit
//	complete:       ready/catch-up -> shutting-down-azure -> phase2 -> verifying -> starting-onprem -> pending-commit
//	commit:         pending-commit -> committing -> committed
//	reverse:        committed -> reverse-replicating -> committed (once, or when stopped)
//	cancel:         any state before the on-premises VMs start -> cancelling -> cancelled
//	undo:           pending-commit (or a failure after a VM started) -> undoing -> undone
//	start (test):   preflight -> phase1 -> catch-up (rounds) -> measuring-final-pass -> starting-test-vms -> testing
//	end test:       any state of a test -> ending-test -> test-ended (Cancel of a test does the same)
//	any moving state -> failed (error; resume or cancel), or -> interrupted (the process ended; Open marks it)
//
// Complete during catch-up stops the running pass; it stays in the record
// as aborted, and the final pass adds its ranges to the changes since the
// last finished pass, because the aborted pass may have written some of
// them. Cancel is refused once an on-premises VM was started (rolling a
// booted disk back would destroy its writes): Undo is the action then.
//
// # Downtime
//
// Phase 2 is downtime, so its steps run as wide as they safely can: the
// Azure VMs shut down together, every disk's final snapshot is taken at
// once (snapshotPass records the pass; runPass then resumes it), then
// every disk's changes are listed the same way (prepareFinal: the ARM
// and diff calls wait in no mover turn) with read access to its final
// snapshot held until it is verified (grantHolds: one grant a snapshot,
// not one per call), the
// passes and verifications run Deps.DowntimeParallel disks at a time
// (phase 1 runs DiskParallel, the VMs' own I/O sharing the disks), and
// the VMs of a group start together, the next group once they all run.
// Scripts on one Hyper-V host run at most hostParallel at a time. The
// disks that move at once share the job's memory budget (syncMemory),
// so width never costs memory. The record keeps where the time went
// (downtimeRecord: shutdown, snapshot, transfer, verify, start, summed
// over retries), which the view, status and the log show.
//
// # Verification
//
// The final pass's ranges are always verified against the final snapshot.
// With engine.verify (default on), every earlier pass verifies what it
// wrote as well, while the Azure VMs still run, so by induction the whole
// disk equals the final snapshot without reading it again during the
// downtime; after a full download the whole disk is verified (a second read,
// which engine.verify = false skips). When the source computes checksums
// next to the data (the Azure-side agent, Deps.SourceVia), the final
// verification compares the whole disk, since only checksums move.
//
// # Reverse replication
//
// Phase 2 records the target's block sums. A cycle finds the changed
// blocks with engine.ChangedBlocks on the local image (reading only it),
// sends them into the page blob with a ranges sync under a lease, writes
// the new sums, and snapshots the blob as a recovery point. The engine
// fills the sums of blocks it did not send by reading its target; the
// target's reads are served from the local image (mirrorTarget), which
// holds the same bytes there, so nothing is ever downloaded. A cycle has
// no journal: an interrupted one is simply sent again by the next.
//
// # Events
//
// Engine progress (about 4 a second per disk) only stores the newest
// sample in the job's memory and sends a coalesced, non-blocking notice;
// readers then ask Jobs/Job/Log. The control socket turns notices into
// long polls. Log lines live in a bounded ring per job and in audit.log.
//
// # Alternate location
//
// The VM is created (Deps hosts' CreateVM through hyperv.EnsureVM) only
// when the operator chose so, after the pre-flight, with its disks created
// by the host itself as dynamic VHDX of the blobs' sizes at the disk's
// alternate_folder or the host's vm_folder\<vm>. Letting the host create
// them (rather than vdisk.Create through the path map) gives files in the
// host's own format and permissions, and CreateVM removes what it made when
// it fails. A sync onto fresh disks is cheap: unallocated target blocks
// compare as zero. An existing VM at the alternate host is used with its
// own disks.
package workflow
