package vdisk

import (
	"slices"
	"testing"
)

func TestNormalizeExtents(t *testing.T) {
	in := []Extent{{90, 20}, {0, 10}, {5, 10}, {15, 5}, {-5, 3}, {-5, 7}, {40, 0}, {50, -3}, {30, 10}, {200, 5}}
	orig := slices.Clone(in)
	got := NormalizeExtents(in, 100)
	want := []Extent{{0, 20}, {30, 10}, {90, 10}}
	if !slices.Equal(got, want) {
		t.Fatalf("NormalizeExtents = %v, want %v", got, want)
	}
	if !slices.Equal(in, orig) {
		t.Fatal("the input was modified")
	}
}

func TestSubtractExtentsKeepsWhatTheSecondListLacks(t *testing.T) {
	a := []Extent{{Off: 0, Len: 100}, {Off: 200, Len: 50}, {Off: 300, Len: 10}}
	b := []Extent{{Off: 10, Len: 10}, {Off: 90, Len: 120}, {Off: 240, Len: 5}, {Off: 400, Len: 1}}
	got := SubtractExtents(a, b)
	want := []Extent{{Off: 0, Len: 10}, {Off: 20, Len: 70}, {Off: 210, Len: 30}, {Off: 245, Len: 5}, {Off: 300, Len: 10}}
	if !slices.Equal(got, want) {
		t.Fatalf("SubtractExtents = %v, want %v", got, want)
	}
	if got := SubtractExtents(a, nil); !slices.Equal(got, a) {
		t.Fatalf("minus nothing = %v", got)
	}
	if got := SubtractExtents(a, []Extent{{Off: 0, Len: 1000}}); len(got) != 0 {
		t.Fatalf("minus everything = %v", got)
	}
}
