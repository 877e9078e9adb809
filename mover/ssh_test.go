package mover

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/failback/failback/engine"
	"github.com/failback/failback/hyperv"
	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// execServer is a loopback SSH server that runs what a session execs
// with sh -c, its standard streams on the channel, as OpenSSH does: the
// mover's real path, shell and all.
type execServer struct {
	t     *testing.T
	ln    net.Listener
	execs atomic.Int64

	mu    sync.Mutex
	conns []net.Conn
}

func newSigner(t *testing.T) ssh.Signer {
	t.Helper()
	_, pk, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(pk)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// startExecServer serves on loopback and writes a known_hosts file and
// a client key file for it; SSHConfig reaches it.
func startExecServer(t *testing.T) (*execServer, hyperv.SSHConfig) {
	t.Helper()
	dir := t.TempDir()
	host := newSigner(t)
	_, clientPK, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	client, err := ssh.NewSignerFromKey(clientPK)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &ssh.ServerConfig{PublicKeyCallback: func(_ ssh.ConnMetadata, k ssh.PublicKey) (*ssh.Permissions, error) {
		if bytes.Equal(k.Marshal(), client.PublicKey().Marshal()) {
			return nil, nil
		}
		return nil, errors.New("unknown key")
	}}
	cfg.AddHostKey(host)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &execServer{t: t, ln: ln}
	t.Cleanup(func() { ln.Close(); s.drop() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns = append(s.conns, c)
			s.mu.Unlock()
			go s.serve(c, cfg)
		}
	}()
	kh := filepath.Join(dir, "known_hosts")
	line := knownhosts.Line([]string{knownhosts.Normalize(ln.Addr().String())}, host.PublicKey())
	if err := os.WriteFile(kh, []byte(line+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	blk, err := ssh.MarshalPrivateKey(clientPK, "")
	if err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(dir, "id_ed25519")
	if err := os.WriteFile(key, pem.EncodeToMemory(blk), 0o600); err != nil {
		t.Fatal(err)
	}
	return s, hyperv.SSHConfig{Addr: ln.Addr().String(), User: "admin", KeyFile: key, KnownHostsFile: kh}
}

// drop cuts every connection, as a network failure does.
func (s *execServer) drop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.conns {
		c.Close()
	}
	s.conns = nil
}

func (s *execServer) serve(c net.Conn, cfg *ssh.ServerConfig) {
	sc, chans, reqs, err := ssh.NewServerConn(c, cfg)
	if err != nil {
		return
	}
	defer sc.Close()
	go ssh.DiscardRequests(reqs)
	for nc := range chans {
		if nc.ChannelType() != "session" {
			_ = nc.Reject(ssh.UnknownChannelType, "sessions only")
			continue
		}
		ch, creqs, err := nc.Accept()
		if err != nil {
			return
		}
		go s.session(ch, creqs)
	}
}

func (s *execServer) session(ch ssh.Channel, reqs <-chan *ssh.Request) {
	defer ch.Close()
	for req := range reqs {
		if req.Type == "subsystem" && len(req.Payload) > 4 && string(req.Payload[4:]) == "sftp" {
			_ = req.Reply(true, nil)
			srv, err := sftp.NewServer(ch)
			if err != nil {
				return
			}
			_ = srv.Serve()
			return
		}
		if req.Type != "exec" || len(req.Payload) < 4 {
			_ = req.Reply(false, nil)
			continue
		}
		cmdline := string(req.Payload[4:])
		_ = req.Reply(true, nil)
		s.execs.Add(1)
		cmd := exec.Command("sh", "-c", cmdline)
		cmd.Stdout, cmd.Stderr = ch, ch.Stderr()
		in, err := cmd.StdinPipe()
		if err != nil {
			return
		}
		// The input is copied apart: a program that ends without reading
		// it must not wait for the client to close it.
		go func() {
			_, _ = io.Copy(in, ch)
			in.Close()
		}()
		code := uint32(0)
		if err := cmd.Run(); err != nil {
			code = 1
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = uint32(ee.ExitCode())
			}
		}
		var st [4]byte
		binary.BigEndian.PutUint32(st[:], code)
		_, _ = ch.SendRequest("exit-status", false, st[:])
		return
	}
}

// installSelf puts this test binary where a mover_dir's program goes: it
// doubles as failback (TestMain), so the shell runs a real mover.
func installSelf(t *testing.T, dir string) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "failback")
	if err := os.Symlink(exe, p); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestMoverOverSSHSurvivesADroppedConnection: the mover runs behind a
// real SSH server (one session per mover, started by the host's shell
// from its command line); a pass through it equals the snapshot. The
// connection drops in the middle of the next pass: the call fails with
// ErrLost, the mover on the host stops (its input ended), and the next
// call dials again, starts a new mover, which resumes the pass from the
// host's journal and finishes it; a rollback then restores the old bytes.
func TestMoverOverSSHSurvivesADroppedConnection(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, 16*mib, []int64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15})
	srv, sc := startExecServer(t)
	moverDir := filepath.Join(t.TempDir(), "failback dir") // a space, quoted
	prog := installSelf(t, moverDir)
	r, err := hyperv.NewSSHRunner(sc)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	c := NewClient(SSH(r, prog, f.state), ClientOptions{Host: "hv01", Build: Build(), Fix: "failback mover install --host hv01"})
	defer c.Close()
	h, err := c.Hello(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if h.StateDir != f.state || h.PID == os.Getpid() || h.SHA256 == "" {
		t.Fatalf("hello %+v: not a mover process of its own with its state folder", h)
	}
	snap, release := f.snapshot()
	defer release()
	o := SyncOptions{Mode: engine.Full, BlockSize: mib, Threads: 1, SourceID: snap.Name, TargetID: f.image, BandwidthLimit: 4 * mib}
	var once atomic.Bool
	_, err = c.Sync(ctx, key, 0, ImageRef{Path: f.image}, snap, o, func(p engine.Progress) {
		if p.BlocksChecked >= 4 && once.CompareAndSwap(false, true) {
			go srv.drop()
		}
	})
	if !errors.Is(err, ErrLost) {
		t.Fatalf("a dropped connection: %v, want ErrLost", err)
	}
	o.BandwidthLimit = 0
	st, err := c.Sync(ctx, key, 0, ImageRef{Path: f.image}, snap, o, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Resumed || st.ResumedBlocks == 0 || srv.execs.Load() != 2 {
		t.Fatalf("resumed %v (%d blocks) after %d execs", st.Resumed, st.ResumedBlocks, srv.execs.Load())
	}
	if !bytes.Equal(f.imageBytes(), f.want) {
		t.Fatal("after the resume over SSH the image does not hold the snapshot's bytes")
	}
	if n := f.http.bytes.Load(); n > 4096 {
		t.Errorf("the driver received %d bytes of blob data", n)
	}
	if _, err := c.Rollback(ctx, key, 0, ImageRef{Path: f.image}, f.image, nil); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(f.imageBytes(), f.old) {
		t.Fatal("the rollback over SSH did not restore the old bytes")
	}
}

// TestMoverMissingOnTheHostSaysHowToInstall: a host without the mover at
// mover_dir answers with its shell's complaint, which the refusal quotes
// with the command that installs it.
func TestMoverMissingOnTheHostSaysHowToInstall(t *testing.T) {
	_, sc := startExecServer(t)
	r, err := hyperv.NewSSHRunner(sc)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	c := NewClient(SSH(r, filepath.Join(t.TempDir(), "failback"), t.TempDir()), ClientOptions{Host: "hv01", Fix: "failback mover install --host hv01"})
	_, err = c.Hello(context.Background())
	if !errors.Is(err, ErrNotMover) || !strings.Contains(err.Error(), "not found") || !strings.Contains(err.Error(), "failback mover install --host hv01") {
		t.Fatalf("missing mover: %v", err)
	}
}
