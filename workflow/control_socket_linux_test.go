package workflow

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/failback/failback/internal/osfile"
)

// nobody is the other user of these tests.
const nobody = 65534

// asNobody runs a command as uid nobody; false when this test cannot
// switch users (not root).
func asNobody(t *testing.T, name string, args ...string) (*exec.Cmd, bool) {
	t.Helper()
	if os.Getuid() != 0 {
		return nil, false
	}
	cmd := exec.Command(name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	return cmd, true
}

// sharedTmp is a /tmp-like folder (1777) as TMPDIR, and a state folder
// whose path is too long for a socket, so the socket goes to TMPDIR.
func sharedTmp(t *testing.T) (tmp, root, sockDir string) {
	tmp = t.TempDir()
	for _, d := range []string{filepath.Dir(tmp), tmp} {
		if err := os.Chmod(d, 0o1777); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("TMPDIR", tmp)
	root = filepath.Join(t.TempDir(), strings.Repeat("state", 24))
	return tmp, root, filepath.Join(tmp, "failback-"+strconv.Itoa(os.Getuid()))
}

// Attack: another local user creates $TMPDIR/failback-<uid>/ before
// failback starts (as uid nobody when this test runs as root, which is
// the real attack), to put its own socket where failback's scripts send
// their commands. failback refuses the folder, naming the owner; it
// never uses or changes it.
func TestControlSocketRefusesAFolderAnotherUserMade(t *testing.T) {
	_, root, dir := sharedTmp(t)
	cmd, ok := asNobody(t, "mkdir", "-m", "0777", dir)
	if !ok {
		t.Skip("not root: cannot act as another user; TestControlSocketRefusesALooseFolder covers the mode")
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mkdir as nobody: %v %s", err, out)
	}
	_, err := socketPath(root)
	if !errors.Is(err, osfile.ErrNotPrivate) || !strings.Contains(err.Error(), "belongs to uid 65534") {
		t.Fatalf("socket folder made by uid %d: %v", nobody, err)
	}
	if st, _ := os.Stat(dir); st.Mode().Perm() != 0o777 {
		t.Errorf("failback changed the other user's folder to %04o", st.Mode().Perm())
	}
}

// The same folder made ours but open to others (0777), or a link to a
// folder of ours, is refused too; a fresh one is made 0700 and the
// socket in it is 0600 from the start.
func TestControlSocketRefusesALooseFolder(t *testing.T) {
	tmp, root, dir := sharedTmp(t)
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	if _, err := socketPath(root); !errors.Is(err, osfile.ErrNotPrivate) || !strings.Contains(err.Error(), "mode 0777 lets other users in") {
		t.Fatalf("0777 socket folder: %v", err)
	}
	os.Remove(dir)
	own := filepath.Join(tmp, "elsewhere")
	if err := os.Mkdir(own, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(own, dir); err != nil {
		t.Fatal(err)
	}
	if _, err := socketPath(root); !errors.Is(err, osfile.ErrNotPrivate) {
		t.Fatalf("symlinked socket folder: %v", err)
	}
	os.Remove(dir)

	sock, err := socketPath(root)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := os.Lstat(dir); err != nil || st.Mode().Perm() != 0o700 || !st.IsDir() {
		t.Fatalf("new socket folder: %v %v", st.Mode(), err)
	}
	ln, err := osfile.ListenPrivate(sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if st, err := os.Stat(sock); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("socket mode %v %v, want 0600", st.Mode().Perm(), err)
	}
}

// peerHelper is this test binary copied where another user can run it.
func peerHelper(t *testing.T, dir string) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "helper.test")
	if err := os.WriteFile(p, b, 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestPeerHelper is not a test: run by peerHelper's copy as another user,
// it serves ("serve") or connects to ("connect") the unix socket
// FAILBACK_PEER_SOCKET.
func TestPeerHelper(t *testing.T) {
	sock := os.Getenv("FAILBACK_PEER_SOCKET")
	switch os.Getenv("FAILBACK_PEER") {
	case "serve":
		ln, err := net.Listen("unix", sock)
		if err != nil {
			os.Exit(2)
		}
		os.Stdout.WriteString("up\n")
		for {
			c, err := ln.Accept()
			if err != nil {
				os.Exit(0)
			}
			_, _ = c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"))
			c.Close()
		}
	case "connect":
		c, err := net.Dial("unix", sock)
		if err != nil {
			os.Exit(2)
		}
		_, _ = c.Read(make([]byte, 1))
		os.Exit(0)
	}
}

// Attack: a process of another user answers on the socket path a state
// folder names. A client refuses to send it anything, naming its uid;
// and the kernel's word on a connecting peer of another user (not what
// it says) makes the server refuse it.
func TestControlSocketPeersOfAnotherUserRefused(t *testing.T) {
	if os.Getenv("FAILBACK_PEER") != "" {
		t.Skip("helper run")
	}
	tmp, _, _ := sharedTmp(t)
	helper := peerHelper(t, tmp)
	sock := filepath.Join(tmp, "evil.sock")
	cmd, ok := asNobody(t, helper, "-test.run=^TestPeerHelper$")
	if !ok {
		t.Skip("not root: cannot act as another user")
	}
	cmd.Env = append(os.Environ(), "FAILBACK_PEER=serve", "FAILBACK_PEER_SOCKET="+sock)
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	if _, err := out.Read(make([]byte, 3)); err != nil {
		t.Fatal(err)
	}
	state := t.TempDir()
	if err := writeJSONAtomic(paths{root: state}.control(), controlInfo{Socket: sock, PID: cmd.Process.Pid}); err != nil {
		t.Fatal(err)
	}
	// In a folder others may write, the socket is refused unseen.
	if _, err := Dial(context.Background(), state); !errors.Is(err, ErrUntrustedSocket) || !strings.Contains(err.Error(), "lets other users in") {
		t.Fatalf("Dial through a shared folder: %v", err)
	}
	// Moved into a private folder of ours, it is still nobody's process
	// that answers: the kernel says so, and the client sends nothing.
	moved := filepath.Join(state, "control.sock")
	if err := os.Rename(sock, moved); err != nil {
		t.Fatal(err)
	}
	if err := writeJSONAtomic(paths{root: state}.control(), controlInfo{Socket: moved, PID: cmd.Process.Pid}); err != nil {
		t.Fatal(err)
	}
	_, err := Dial(context.Background(), state)
	if !errors.Is(err, ErrUntrustedSocket) || !strings.Contains(err.Error(), "of uid 65534") {
		t.Fatalf("Dial to another user's server: %v", err)
	}

	// The server side: a connection from uid nobody (through a socket
	// whose mode went wrong) is known as nobody's and not trusted.
	srvSock := filepath.Join(tmp, "ours.sock")
	ln, err := net.Listen("unix", srvSock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if err := os.Chmod(srvSock, 0o666); err != nil {
		t.Fatal(err)
	}
	got := make(chan peer, 1)
	go func() {
		if c, err := ln.Accept(); err == nil {
			got <- peerOf(c)
			c.Close()
		}
	}()
	client, _ := asNobody(t, helper, "-test.run=^TestPeerHelper$")
	client.Env = append(os.Environ(), "FAILBACK_PEER=connect", "FAILBACK_PEER_SOCKET="+srvSock)
	if b, err := client.CombinedOutput(); err != nil {
		t.Fatalf("connect as nobody: %v %s", err, b)
	}
	select {
	case p := <-got:
		if !p.known || p.uid != nobody || trusted(p.uid) {
			t.Fatalf("peer %+v: the kernel's uid not read, or uid %d trusted", p, nobody)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no connection")
	}
}
