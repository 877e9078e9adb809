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
