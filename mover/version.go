package mover

import (
	"crypto/sha256"
	"debug/buildinfo"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"sync"
)

// Build names this program's build: its module version and the commit it
// was built from (with "+dirty" for uncommitted changes), or "devel".
func Build() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	return buildOf(bi)
}

// BuildOfFile is the build of a Go program file, whatever system it is
// for (a windows/amd64 failback.exe read on a Linux jump box), with the
// system it runs on.
func BuildOfFile(path string) (build, goos, goarch string, err error) {
	bi, err := buildinfo.ReadFile(path)
	if err != nil {
		return "", "", "", fmt.Errorf("%s is not a Go program failback can read: %w", path, err)
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "GOOS":
			goos = s.Value
		case "GOARCH":
			goarch = s.Value
		}
	}
	return buildOf(bi), goos, goarch, nil
}

func buildOf(bi *debug.BuildInfo) string {
	v := bi.Main.Version
	if v == "" || v == "(devel)" {
		v = "devel"
	}
	var rev, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "+dirty"
			}
		}
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if rev != "" {
		v += " " + rev + dirty
	}
	return v
}

var selfHash struct {
	once sync.Once
	exe  string
	sum  string
	err  error
}

// Self is this program's file and its SHA-256, computed once.
func Self() (exe, sum string, err error) {
	selfHash.once.Do(func() {
		selfHash.exe, selfHash.err = os.Executable()
		if selfHash.err == nil {
			selfHash.sum, selfHash.err = FileSHA256(selfHash.exe)
		}
	})
	return selfHash.exe, selfHash.sum, selfHash.err
}

// FileSHA256 is a file's SHA-256 in hex.
func FileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hash %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
