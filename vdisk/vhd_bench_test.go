package vdisk

import "testing"

// The dynamic VHD layer and the raw image layer, 1 MiB at a time on a
// 256 MiB disk, through the harness of vhdx_bench_test.go (compare with
// BenchmarkRawFile*): go test -run '^$' -bench 'VHD|Raw' ./vdisk
var (
	vxVHDDynamic = vxBenchImage(CreateOptions{Format: VHD})
	vxRawImage   = vxBenchImage(CreateOptions{Format: Raw})
)

func BenchmarkVHDDynamicWriteSeq(b *testing.B) { vxBenchRun(b, vxVHDDynamic, true, false) }
func BenchmarkVHDDynamicReadSeq(b *testing.B)  { vxBenchRun(b, vxVHDDynamic, false, false) }
func BenchmarkVHDDynamicReadRand(b *testing.B) { vxBenchRun(b, vxVHDDynamic, false, true) }
func BenchmarkRawWriteSeq(b *testing.B)        { vxBenchRun(b, vxRawImage, true, false) }
func BenchmarkRawReadSeq(b *testing.B)         { vxBenchRun(b, vxRawImage, false, false) }
func BenchmarkRawReadRand(b *testing.B)        { vxBenchRun(b, vxRawImage, false, true) }
