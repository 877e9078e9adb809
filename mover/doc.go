// Package mover moves a failback's disk bytes on the Hyper-V host itself.
//
// The driver (the console or failback serve on the jump box) keeps the
// job, its decisions and its monitor; the mover (`failback mover`, the
// same program, on the host) reads Azure and writes the host's disks.
// Disk bytes never cross the driver: it hands the mover a URL that reads
// one snapshot (a managed disk's grant, or a read-only SAS signed for one
// page-blob snapshot), short-lived and renewed on request, and gets back
// progress, log lines and results.
//
// # Where it runs and how it is reached
//
// One mover process per host per driver, started over the host's own
// transport: an SSH session running `failback mover` (its stdin and
// stdout are the protocol), or a child process of the driver (a lab
// host, or a driver running on the Hyper-V host). Tests run a server in
// the same process over pipes (Pipe): the same protocol, byte for byte.
//
// # Protocol (version 1)
//
// The mover first writes a line, "FAILBACK-MOVER <protocol>\n", then
// frames. The driver skips anything before that line (a shell's banner)
// up to a bound, and quotes it when the line never comes: a mover that
// is missing prints the shell's complaint instead. A frame is a 4-byte
// big-endian length and that many bytes of JSON (a frame, protocol.go),
// at most MaxFrame. Each side's first frame is a hello: protocol version
// and build; a protocol the other side does not speak is refused with
// the command that fixes it, before any call.
//
// The driver sends calls (an id, an op, a body) and may cancel them; the
// mover answers each call with any number of progress and log frames,
// asks (a renewal of a snapshot's URL) that the driver answers, and one
// result. A sync's, verification's or send's progress frames also
// carry what Azure's throttling does to its reads or writes (throttle.go)
// and, through the agent, the agent's figures. Calls run in parallel,
// one goroutine each. Nothing in a frame is logged by either side: a
// source's URL and a disk's data key cross in frames and live in memory
// only.
//
// # The host's state folder
//
// The mover keeps the engine's journals in a state folder of its own on
// the host (never beside the disks), laid out as the driver's:
//
//	jobs/<job>/disks/<vm>/<n>/pass-<k>/   one engine journal per pass
//	jobs/<job>/disks/<vm>/<n>/sums        block sums for reverse replication
//	disklocks/                            the disks' write locks
//
// The driver names a journal by job, VM, disk and pass, never by a path,
// and the mover refuses names that would leave the folder. A lost session
// or a crashed driver loses nothing: the next mover resumes or rolls
// back from these journals, exactly as a driver does from its own.
package mover
