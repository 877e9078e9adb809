package workflow

import (
	"encoding/hex"
	"io"
	"time"
)

// Job ids are short enough to read in a table column and to type after
// `failback status`: the UTC creation minute and a random suffix,
// "YYMMDD-HHMM-xx" (e.g. 261128-1339-d2). They sort by creation time as
// strings (to the minute; the Manager sorts by the recorded time). Ids
// of older state folders ("20261128-133903-d228d6") stay valid: an id is
// only ever looked up as a whole, never parsed.

// jobIDTries is how many random two-hex-digit suffixes are tried before
// the suffix grows: 256 jobs in one minute never happen by hand, but a
// script might.
const jobIDTries = 16

// newJobID returns an id for a job created at now that taken does not
// know. rnd supplies the random suffix.
func newJobID(now time.Time, rnd io.Reader, taken func(string) bool) string {
	prefix := now.UTC().Format("060102-1504") + "-"
	for n := 1; ; n++ {
		for range jobIDTries {
			b := make([]byte, n)
			if _, err := io.ReadFull(rnd, b); err != nil {
				// No randomness: count instead, still unique.
				for i := 0; ; i++ {
					id := prefix + hex.EncodeToString([]byte{byte(i >> 8), byte(i)})
					if !taken(id) {
						return id
					}
				}
			}
			if id := prefix + hex.EncodeToString(b); !taken(id) {
				return id
			}
		}
	}
}
