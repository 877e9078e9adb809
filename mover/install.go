package mover

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/failback/failback/hyperv"
	"github.com/failback/failback/internal/hostpath"
	"github.com/failback/failback/internal/osfile"
)

// Installed is what `failback mover install` put on a host, as the
// driver's state folder remembers it (movers/<host>.json): every later
// session with that host's mover must report the same build and hash.
type Installed struct {
	Host    string    `json:"host"`
	Program string    `json:"program"`
	Build   string    `json:"build"`
	SHA256  string    `json:"sha256"`
	OS      string    `json:"os"`
	Arch    string    `json:"arch"`
	At      time.Time `json:"installed_at"`
}

func installedPath(stateDir, host string) string {
	return filepath.Join(stateDir, "movers", host+".json")
}

// LoadInstalled is what was installed on host, or ok false when nothing
// was (a mover put there by hand is checked by its build alone).
func LoadInstalled(stateDir, host string) (Installed, bool, error) {
	var in Installed
	b, err := os.ReadFile(installedPath(stateDir, host))
	if errors.Is(err, fs.ErrNotExist) {
		return in, false, nil
	}
	if err != nil {
		return in, false, err
	}
	if err := json.Unmarshal(b, &in); err != nil {
		return in, false, fmt.Errorf("%s is damaged (%v): install the mover again", installedPath(stateDir, host), err)
	}
	return in, true, nil
}

// InstallOptions say what to install where.
type InstallOptions struct {
	Host string
	// Binary is the failback build for the host's system.
	Binary string
	// Program and StateDir are where the mover goes on the host and where
	// it keeps its journals (config: mover_dir).
	Program, StateDir string
	// DriverState is this driver's state folder, which remembers the
	// install.
	DriverState string
}

// HostSystem is the system a host's mover must be built for: a Windows
// path is a Windows host (Hyper-V hosts are amd64), anything else this
// machine's own.
func HostSystem(program string) (goos, goarch string) {
	if hostpath.IsWindowsAbs(program) {
		return "windows", "amd64"
	}
	return runtime.GOOS, runtime.GOARCH
}

// DefaultBinary is the build install copies when none is named: this
// program when the host runs the same system, else
// failback-<os>-<arch>[.exe] beside it (release archives carry it).
func DefaultBinary(goos, goarch string) (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", err
	}
	if goos == runtime.GOOS && goarch == runtime.GOARCH {
		return exe, nil
	}
	name := "failback-" + goos + "-" + goarch
	if goos == "windows" {
		name += ".exe"
	}
	return filepath.Join(filepath.Dir(exe), name), nil
}

// Install copies the build to the host over SFTP on its SSH connection,
// after checking it is this driver's build for the host's system; it
// then starts it there, checks what it reports (build and hash), and
// remembers the install in the driver's state folder.
func Install(ctx context.Context, r *hyperv.SSHRunner, o InstallOptions) (Installed, error) {
	goos, goarch := HostSystem(o.Program)
	build, bos, barch, err := BuildOfFile(o.Binary)
	if err != nil {
		return Installed{}, err
	}
	fix := fmt.Sprintf("build it from this failback's source: GOOS=%s GOARCH=%s go build -o failback-%s-%s%s . (or name the build with --binary)", goos, goarch, goos, goarch, exeSuffix(goos))
	switch {
	case bos != goos || barch != goarch:
		return Installed{}, fmt.Errorf("%s is built for %s/%s, the host %s needs %s/%s: %s", o.Binary, bos, barch, o.Host, goos, goarch, fix)
	case build != Build():
		return Installed{}, fmt.Errorf("%s is build %q, this failback %q: the mover must be the driver's own build; %s", o.Binary, build, Build(), fix)
	}
	sum, err := FileSHA256(o.Binary)
	if err != nil {
		return Installed{}, err
	}
	if err := r.Upload(ctx, o.Binary, o.Program); err != nil {
		return Installed{}, err
	}
	c := NewClient(SSH(r, o.Program, o.StateDir), ClientOptions{Host: o.Host, Build: build, SHA256: sum})
	defer c.Close()
	h, err := c.Hello(ctx)
	if err != nil {
		return Installed{}, fmt.Errorf("the mover was copied but does not start right: %w", err)
	}
	in := Installed{Host: o.Host, Program: o.Program, Build: h.Build, SHA256: h.SHA256, OS: h.OS, Arch: h.Arch, At: time.Now().UTC()}
	if err := os.MkdirAll(filepath.Join(o.DriverState, "movers"), 0o700); err != nil {
		return in, err
	}
	return in, osfile.WriteJSON(installedPath(o.DriverState, o.Host), in)
}

func exeSuffix(goos string) string {
	if strings.EqualFold(goos, "windows") {
		return ".exe"
	}
	return ""
}
