package hyperv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	"github.com/failback/failback/internal/hostpath"
	"github.com/pkg/sftp"
)

// SFTPPath is a host path as the host's SFTP server names it: a Windows
// path D:\failback\x.exe is /D:/failback/x.exe (Win32-OpenSSH's form); a
// POSIX path stays.
func SFTPPath(p string) string {
	if !hostpath.IsWindowsAbs(p) {
		return p
	}
	p = strings.ReplaceAll(p, `\`, "/")
	if strings.HasPrefix(p, "//") {
		return p // a UNC path: left to the server
	}
	return "/" + p
}

// Upload copies the local file to the host path remote over SFTP on the
// runner's SSH connection, creating its folder: first to remote.new,
// then renamed over remote, so a copy cut short never leaves a broken
// program at remote. A program that is running on the host (a Windows
// host keeps it locked) cannot be replaced: the error says so.
func (r *SSHRunner) Upload(ctx context.Context, local, remote string) error {
	client, _, err := r.connect(ctx)
	if err != nil {
		return err
	}
	sc, err := sftp.NewClient(client)
	if err != nil {
		r.drop(client)
		return &HostError{Kind: ErrHostFailed, Host: r.addr, Op: "open SFTP", Err: err,
			Hint: "Enable the SFTP subsystem of the host's OpenSSH server (Subsystem sftp sftp-server.exe in sshd_config, the default)"}
	}
	defer sc.Close()
	stop := context.AfterFunc(ctx, func() { sc.Close() })
	defer stop()
	dst, tmp := SFTPPath(remote), SFTPPath(remote)+".new"
	if err := sc.MkdirAll(path.Dir(dst)); err != nil {
		return r.sftpErr("create the folder of "+remote, err)
	}
	src, err := os.Open(local)
	if err != nil {
		return err
	}
	defer src.Close()
	f, err := sc.Create(tmp)
	if err != nil {
		return r.sftpErr("create "+remote+".new", err)
	}
	if _, err := io.Copy(f, src); err != nil {
		f.Close()
		_ = sc.Remove(tmp)
		return r.sftpErr("copy to "+remote+".new", err)
	}
	if err := f.Close(); err != nil {
		_ = sc.Remove(tmp)
		return r.sftpErr("copy to "+remote+".new", err)
	}
	if err := sc.PosixRename(tmp, dst); err != nil {
		// Not every server has the extension: replace by hand.
		if rerr := sc.Remove(dst); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
			_ = sc.Remove(tmp)
			return r.sftpErr("replace "+remote, fmt.Errorf("%w (a mover running from it holds it: close the consoles using this host, or wait for their jobs to rest, and install again)", rerr))
		}
		if err := sc.Rename(tmp, dst); err != nil {
			return r.sftpErr("rename "+remote+".new to "+remote, err)
		}
	}
	return sc.Chmod(dst, 0o755)
}

func (r *SSHRunner) sftpErr(op string, err error) error {
	return &HostError{Kind: ErrHostFailed, Host: r.addr, Op: op, Err: err}
}
