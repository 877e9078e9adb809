// Package agent is the Azure-side agent (`failback agent`) and its client.
//
// Without it, phase 1 of a delta failback reads every allocated byte of a
// disk across the WAN just to learn that most blocks are unchanged. The
// agent runs next to the storage account (an Azure VM or container in the
// same region), reads page-blob snapshots at datacenter speed, and serves
// block checksums and compressed block bytes over HTTPS; the on-premises
// engine then moves checksums plus the differing blocks only.
//
// Server: NewServer over an azure.Storage, Serve on a listener with a TLS
// certificate. It only ever reads snapshots (never the live blob, never a
// write, never a snapshot of its own: the workflow makes and names them),
// refuses requests without the per-deployment bearer token (401, logged
// without the token), and bounds request size, concurrency and memory.
//
// Client: NewSource returns a Source, an engine.Source that also implements
// engine.BlockHasher. It pins the agent's certificate (SHA-256 fingerprint
// of the leaf, or a PEM file holding the certificate or its CA), retries
// idempotent requests with backoff, and, when the agent stays unreachable,
// answers through a fallback engine.Source (direct reads of the same
// snapshot) until the agent answers again. Stats counts what crossed the
// link.
//
// # Wire protocol, version 1
//
// Every request is an authenticated, idempotent GET (Authorization: Bearer
// TOKEN; X-Failback-Request-Id names a request and its retries in the
// agent's log). c, b and s are the container, blob and snapshot id.
//
//	GET /v1/info                      JSON: protocol version and limits
//	GET /v1/snapshot?c&b&s            "FBA1", uint64 size, then allocated
//	                                  ranges as uvarint (gap, len) pairs,
//	                                  (0, 0), then 0xFF + uint32 count
//	GET /v1/sums?c&b&s&bs&blocks      "FBS1", then per block asked, in order:
//	                                  0x00 (all zero: unallocated or zero
//	                                  bytes, no sum sent) or 0x01 + 16-byte
//	                                  XXH3-128 sum; then 0xFF + uint32 count
//	GET /v1/blocks?c&b&s&off&len&frame
//	                                  "FBB1", then per frame of the range:
//	                                  0x00 + uint32 n (all zero), or
//	                                  0x02|0x03 + uint32 n + uint32 clen +
//	                                  16-byte sum of the plaintext + clen
//	                                  bytes (raw, or one zstd frame); then
//	                                  0xFF + uint32 frame count
//
// blocks is a list of runs "first:count,first:count" of block numbers of
// size bs. A failure after the answer started is an error record: 0xFE,
// a flags byte (1 = worth retrying), uint16 length, message. Integers are
// little endian. The client checks each frame's length and checksum, and
// a stream without its end record is a transient failure: the retry asks
// only for what is still missing.
package agent
