package agent

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Names in a request are checked against Azure's rules before anything is
// asked of storage: the storage client builds URLs from them, so a name
// with "?", "/" or ".." in the wrong place could reach another container,
// another operation, or another snapshot than the one the allow-list (or
// the lack of one) was judged on.

// checkContainer applies Azure's container naming rules: 3 to 63
// characters, lower-case letters, digits and hyphens, starting and ending
// with a letter or digit, no two hyphens in a row. "$root" (the account's
// root container) is the one special name allowed.
func checkContainer(name string) error {
	if name == "$root" {
		return nil
	}
	if len(name) < 3 || len(name) > 63 {
		return fmt.Errorf("container name %q must be 3 to 63 characters", name)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case c == '-' && i > 0 && i < len(name)-1 && name[i-1] != '-':
		default:
			return fmt.Errorf("container name %q is not a valid Azure container name (lower-case letters, digits and single hyphens, starting and ending with a letter or digit)", name)
		}
	}
	return nil
}

// checkBlob applies Azure's blob naming rules as far as a page blob disk
// can need them: 1 to 1,024 bytes of UTF-8 without control characters or
// backslashes, at most 254 path segments, none of them empty, "." or
// "..", and not ending in "." or "/".
func checkBlob(name string) error {
	switch {
	case name == "" || len(name) > maxNameLen:
		return errors.New("blob name missing or longer than 1024 characters")
	case !utf8.ValidString(name):
		return errors.New("blob name is not UTF-8")
	case strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r >= 0x7f && r <= 0x9f || r == '\\' }):
		return fmt.Errorf("blob name %q holds a control character or backslash", name)
	case strings.HasSuffix(name, ".") || strings.HasSuffix(name, "/"):
		return fmt.Errorf("blob name %q ends in \".\" or \"/\"", name)
	}
	segs := strings.Split(name, "/")
	if len(segs) > 254 {
		return fmt.Errorf("blob name has %d path segments; Azure allows 254", len(segs))
	}
	for _, s := range segs {
		if s == "" || s == "." || s == ".." {
			return fmt.Errorf("blob name %q has an empty, \".\" or \"..\" path segment", name)
		}
	}
	return nil
}

// checkSnapshot requires a snapshot id as Azure writes them: a UTC time
// (2025-05-12T09:00:00.1234567Z).
func checkSnapshot(id string) error {
	if id == "" || len(id) > 64 {
		return errors.New("snapshot id missing: the agent reads snapshots only, never a live blob")
	}
	if _, err := time.Parse(time.RFC3339Nano, id); err != nil || !strings.HasSuffix(id, "Z") {
		return fmt.Errorf("snapshot id %q is not a snapshot time like 2025-05-12T09:00:00.1234567Z", id)
	}
	return nil
}
