package engine

import "github.com/zeebo/xxh3"

// Sum is a block checksum: XXH3-128 of the block's plaintext bytes.
//
// Why XXH3-128: the engine compares the two sides of a block to decide
// whether to transfer it; it never defends against an adversary who crafts
// collisions (both sides are the operator's own disks), so a cryptographic
// hash buys nothing but cost. XXH3-128 streams at ~26 GB/s per core here
// (docs/FACTS.md), an order of magnitude above the 2 GB/s the engine needs and
// far above BLAKE3 (~3.5 GB/s) or SHA-256 (~1.8 GB/s), so checksumming is
// never the bottleneck, and 128 bits make an accidental collision among even
// 2^40 blocks about 2^-49 likely.
type Sum [16]byte

// HashBlock returns the checksum of one block.
func HashBlock(p []byte) Sum {
	h := xxh3.Hash128(p)
	return h.Bytes()
}
