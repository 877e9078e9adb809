package tail

import (
	"strings"
	"testing"
)

// TestBufferKeepsTheEnd: a long stream leaves its last Max bytes.
func TestBufferKeepsTheEnd(t *testing.T) {
	var b Buffer
	for i := 0; i < 3000; i++ {
		_, _ = b.Write([]byte("line\n"))
	}
	_, _ = b.Write([]byte("the last words\n"))
	s := b.String()
	if len(s) > Max || !strings.HasSuffix(s, "the last words") {
		t.Fatalf("kept %d bytes ending %q", len(s), s[max(0, len(s)-20):])
	}
}
