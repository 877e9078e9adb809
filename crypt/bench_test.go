package crypt

import (
	"context"
	"crypto/aes"
	"crypto/rand"
	"testing"
	"time"

	"golang.org/x/crypto/xts"
)

// Throughput of the unit cipher alone, one core: compare with
// BenchmarkXCryptoXTSUnit (the package it replaces on the hot path).
func BenchmarkUnitEncrypt(b *testing.B) {
	c := testCipher(b, testKeyBytes(1))
	buf := make([]byte, UnitSize)
	rand.Read(buf)
	b.SetBytes(UnitSize)
	for i := 0; b.Loop(); i++ {
		c.encrypt(buf, buf, uint64(i))
	}
}

func BenchmarkUnitDecrypt(b *testing.B) {
	c := testCipher(b, testKeyBytes(1))
	buf := make([]byte, UnitSize)
	rand.Read(buf)
	b.SetBytes(UnitSize)
	for i := 0; b.Loop(); i++ {
		c.decrypt(buf, buf, uint64(i))
	}
}

func BenchmarkXCryptoXTSUnit(b *testing.B) {
	c, _ := xts.NewCipher(aes.NewCipher, testKeyBytes(1))
	buf := make([]byte, UnitSize)
	b.SetBytes(UnitSize)
	for i := 0; b.Loop(); i++ {
		c.Encrypt(buf, buf, uint64(i))
	}
}

// 1 MiB engine-block reads through DecryptingSource from memory, one
// goroutine per core (the engine reads blocks in parallel).
func BenchmarkDecryptingSource1MiB(b *testing.B) {
	const size = 64 << 20
	disk := newMemDisk(size)
	for off := 0; off < size; off += 4096 {
		disk.data[off] = 1 // every unit non-zero: no hole shortcuts
	}
	src := newDecSource(b, disk, testKey(b, 1))
	b.SetBytes(1 << 20)
	b.RunParallel(func(pb *testing.PB) {
		buf := make([]byte, 1<<20)
		off := int64(0)
		for pb.Next() {
			if err := src.ReadAt(context.Background(), buf, off); err != nil {
				b.Error(err)
				return
			}
			off = (off + 1<<20) % size
		}
	})
}

// 1 MiB engine-block writes of non-zero data through EncryptingTarget.
func BenchmarkEncryptingTarget1MiB(b *testing.B) {
	const size = 64 << 20
	disk := newMemDisk(size)
	dst := newEncTarget(b, disk, testKey(b, 1))
	b.SetBytes(1 << 20)
	b.RunParallel(func(pb *testing.PB) {
		buf := make([]byte, 1<<20)
		rand.Read(buf)
		off := int64(0)
		for pb.Next() {
			if err := dst.WriteAt(context.Background(), buf, off); err != nil {
				b.Error(err)
				return
			}
			off = (off + 1<<20) % size
		}
	})
}

// The unit cipher's speed as a multiple of x/crypto/xts's, measured
// alternately in the same run so machine load cancels out (the absolute
// MB/s above swing with whatever else the cores do).
func BenchmarkUnitCipherSpeedup(b *testing.B) {
	c := testCipher(b, testKeyBytes(1))
	ref, _ := xts.NewCipher(aes.NewCipher, testKeyBytes(1))
	buf := make([]byte, UnitSize)
	var ours, theirs time.Duration
	for i := 0; b.Loop(); i++ {
		t0 := time.Now()
		for j := 0; j < 64; j++ {
			c.encrypt(buf, buf, uint64(j))
		}
		t1 := time.Now()
		for j := 0; j < 64; j++ {
			ref.Encrypt(buf, buf, uint64(j))
		}
		ours += t1.Sub(t0)
		theirs += time.Since(t1)
	}
	b.ReportMetric(float64(theirs)/float64(ours), "x-faster")
	b.ReportMetric(float64(64*UnitSize*b.N)/ours.Seconds()/1e6, "ours-MB/s")
}
