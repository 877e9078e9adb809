package units

import "testing"

func TestBytesWritesSizesAsTheConsoleDoes(t *testing.T) {
	for _, c := range []struct {
		n    int64
		want string
	}{
		{0, "0 B"}, {1023, "1023 B"}, {1024, "1.0 KiB"}, {1536, "1.5 KiB"},
		{99 << 20, "99.0 MiB"}, {100 << 20, "100 MiB"}, {512 << 20, "512 MiB"},
		{3 << 30, "3.0 GiB"}, {1 << 40, "1.0 TiB"}, {-2048, "-2.0 KiB"}, {1 << 62, "4.0 EiB"},
	} {
		if got := Bytes(c.n); got != c.want {
			t.Errorf("Bytes(%d) = %q, want %q", c.n, got, c.want)
		}
	}
}
