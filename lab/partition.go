package lab

import (
	"encoding/binary"
	"hash/crc32"
	"math/rand/v2"
	"unicode/utf16"
)

// Partition tables as Windows writes them, so a lab disk looks like a real
// one to anything that reads it (fdisk -l, sfdisk --json on the raw disk):
// generation 2 VMs boot from GPT disks (an EFI system partition, the
// Microsoft reserved partition, the Windows partition), generation 1 from
// MBR disks.

const sector = 512

// gptEntries is the partition entry array: 128 entries of 128 bytes, 32
// sectors, as every GPT writer uses.
const (
	gptEntryCount = 128
	gptEntrySize  = 128
	gptArrayBytes = gptEntryCount * gptEntrySize
)

// Partition type GUIDs (UEFI specification, Microsoft).
const (
	guidESP       = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"
	guidMSR       = "E3C9E316-0B5C-4DB8-817D-F92DF00215AE"
	guidBasicData = "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7"
)

// espSize is the EFI system partition of a disk: 100 MiB as Windows makes
// it, smaller on small lab disks.
func espSize(size int64) int64 { return min(100*mib, max(alignDown(size/16, mib), mib)) }

// msrSize is the Microsoft reserved partition: 16 MiB, less on small disks.
func msrSize(size int64) int64 { return min(16*mib, max(alignDown(size/64, mib), mib)) }

type gptPart struct {
	typ        string
	first, end int64 // byte offsets, end exclusive
	name       string
}

// partitionTable returns the regions of the disk's partition table: the
// MBR (protective for GPT), and for GPT the primary header and entries at
// the start and the backup entries and header at the end.
func partitionTable(size int64, seed uint64, gpt, dataDisk bool) []region {
	rng := rand.New(rand.NewPCG(seed, 0x6770742d6c6162))
	if !gpt {
		return []region{{Off: 0, Len: 4096, Kind: kindRaw, Raw: pad(mbr(size, uint32(rng.Uint64()), false), 4096)}}
	}
	var parts []gptPart
	start := mib
	if !dataDisk {
		esp, msr := espSize(size), msrSize(size)
		parts = append(parts,
			gptPart{guidESP, start, start + esp, "EFI system partition"},
			gptPart{guidMSR, start + esp, start + esp + msr, "Microsoft reserved partition"})
		start += esp + msr
	}
	parts = append(parts, gptPart{guidBasicData, start, size - mib, "Basic data partition"})

	lastLBA := size/sector - 1
	entries := make([]byte, gptArrayBytes)
	for i, p := range parts {
		e := entries[i*gptEntrySize:]
		copy(e[0:16], guidBytes(p.typ))
		copy(e[16:32], randomGUID(rng))
		binary.LittleEndian.PutUint64(e[32:], uint64(p.first/sector))
		binary.LittleEndian.PutUint64(e[40:], uint64(p.end/sector-1))
		for j, c := range utf16.Encode([]rune(p.name)) {
			binary.LittleEndian.PutUint16(e[56+2*j:], c)
		}
	}
	diskGUID := randomGUID(rng)
	arrayCRC := crc32.ChecksumIEEE(entries)
	header := func(my, alt, entriesLBA int64) []byte {
		h := make([]byte, sector)
		copy(h, "EFI PART")
		binary.LittleEndian.PutUint32(h[8:], 0x00010000)
		binary.LittleEndian.PutUint32(h[12:], 92)
		binary.LittleEndian.PutUint64(h[24:], uint64(my))
		binary.LittleEndian.PutUint64(h[32:], uint64(alt))
		binary.LittleEndian.PutUint64(h[40:], 34)
		binary.LittleEndian.PutUint64(h[48:], uint64(lastLBA-33))
		copy(h[56:72], diskGUID)
		binary.LittleEndian.PutUint64(h[72:], uint64(entriesLBA))
		binary.LittleEndian.PutUint32(h[80:], gptEntryCount)
		binary.LittleEndian.PutUint32(h[84:], gptEntrySize)
		binary.LittleEndian.PutUint32(h[88:], arrayCRC)
		binary.LittleEndian.PutUint32(h[16:], crc32.ChecksumIEEE(h[:92]))
		return h
	}
	primary := append(append(mbr(size, 0, true), header(1, lastLBA, 2)...), entries...)
	backup := append(append([]byte(nil), entries...), header(lastLBA, 1, lastLBA-32)...)
	// Both runs are widened to 20 KiB so every region stays 4 KiB aligned
	// (the encrypted disk's data unit); the padding is zeros, as on disk.
	const run = 40 * sector
	return []region{
		{Off: 0, Len: run, Kind: kindRaw, Raw: pad(primary, run)},
		{Off: size - run, Len: run, Kind: kindRaw, Raw: append(make([]byte, run-len(backup)), backup...)},
	}
}

// pad returns b extended with zeros to n bytes.
func pad(b []byte, n int) []byte {
	out := make([]byte, n)
	copy(out, b)
	return out
}

// mbr builds sector 0: for GPT a protective MBR (one 0xEE partition over
// the disk), else a Windows MBR with one NTFS partition from 1 MiB.
func mbr(size int64, signature uint32, protective bool) []byte {
	b := make([]byte, sector)
	sectors := size / sector
	e := b[446:462]
	if protective {
		e[1], e[2], e[3] = 0x00, 0x02, 0x00 // CHS of LBA 1
		e[4] = 0xEE
		e[5], e[6], e[7] = 0xFF, 0xFF, 0xFF
		binary.LittleEndian.PutUint32(e[8:], 1)
		binary.LittleEndian.PutUint32(e[12:], uint32(min(sectors-1, 0xFFFFFFFF)))
	} else {
		binary.LittleEndian.PutUint32(b[440:], signature)
		e[0] = 0x80 // active: the boot partition
		e[1], e[2], e[3] = 0x20, 0x21, 0x00
		e[4] = 0x07 // NTFS
		e[5], e[6], e[7] = 0xFE, 0xFF, 0xFF
		first := mib / sector
		binary.LittleEndian.PutUint32(e[8:], uint32(first))
		binary.LittleEndian.PutUint32(e[12:], uint32(min(sectors-first-mib/sector, 0xFFFFFFFF)))
	}
	b[510], b[511] = 0x55, 0xAA
	return b
}

// guidBytes encodes a GUID string in the mixed-endian form GPT stores.
func guidBytes(s string) []byte {
	var hex []byte
	for i := 0; i < len(s); i++ {
		if s[i] != '-' {
			hex = append(hex, s[i])
		}
	}
	raw := make([]byte, 16)
	for i := range raw {
		raw[i] = unhex(hex[2*i])<<4 | unhex(hex[2*i+1])
	}
	out := make([]byte, 16)
	out[0], out[1], out[2], out[3] = raw[3], raw[2], raw[1], raw[0]
	out[4], out[5] = raw[5], raw[4]
	out[6], out[7] = raw[7], raw[6]
	copy(out[8:], raw[8:])
	return out
}

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10
	}
	return 0
}

// randomGUID is a version 4 GUID from rng, in stored form.
func randomGUID(rng *rand.Rand) []byte {
	b := make([]byte, 16)
	binary.LittleEndian.PutUint64(b, rng.Uint64())
	binary.LittleEndian.PutUint64(b[8:], rng.Uint64())
	b[7] = b[7]&0x0F | 0x40
	b[8] = b[8]&0x3F | 0x80
	return b
}
