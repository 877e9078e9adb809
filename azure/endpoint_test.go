package azure

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/failback/failback/internal/azurite"
	"github.com/failback/failback/internal/faultproxy"
	"github.com/failback/failback/internal/testenv"
)

// A wrong endpoint must fail in seconds, saying what to check, with the
// default retry settings (5 SDK retries from 800 ms, times 6 read
// attempts): before, a closed port took minutes. The bound asserted is
// loose (a loaded machine); the number of tries is exact.
const wrongEndpointBound = 20 * time.Second

// keyedStorage reaches url with Azurite's key and default retries, through
// a counting transport around client.
func keyedStorage(t *testing.T, url string, client *http.Client) (*Storage, *countingTransport) {
	t.Helper()
	ct := &countingTransport{c: client}
	s, err := NewStorage(StorageOptions{AccountURL: url, AccountName: azurite.AccountName, AccountKey: NewSecret(azurite.AccountKey), Transport: ct})
	if err != nil {
		t.Fatal(err)
	}
	return s, ct
}

func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// openDiskFails opens a disk on s and checks the error: unreachable, with
// the hint, within the bound and at most maxTries requests.
func openDiskFails(t *testing.T, s *Storage, ct *countingTransport, maxTries int64, hint string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*wrongEndpointBound)
	defer cancel()
	start := time.Now()
	_, err := s.OpenDisk(ctx, "disks", "vm1-os.vhd")
	took := time.Since(start)
	if !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), hint) || ctx.Err() != nil {
		t.Fatalf("error %v (context %v), want ErrUnreachable saying %q", err, ctx.Err(), hint)
	}
	if n := ct.requests.Load(); n > maxTries || took > wrongEndpointBound {
		t.Fatalf("%d tries over %v before giving up (want at most %d, within %v): %v", n, took, maxTries, wrongEndpointBound, err)
	}
	t.Logf("%v after %d tries: %v", took.Round(time.Millisecond), ct.requests.Load(), err)
}

func TestClosedPortFailsInSecondsSayingWhatToCheck(t *testing.T) {
	s, ct := keyedStorage(t, "http://"+closedPort(t)+"/"+azurite.AccountName, newHTTPClient(8))
	openDiskFails(t, s, ct, connectGiveUpTries, "check the host name and port")
}

// A host name that does not exist fails on the first try. The lookup goes
// to a DNS server on loopback that answers "no such name" to everything.
func TestUnknownHostFailsAtOnce(t *testing.T) {
	dns := nxdomainServer(t)
	client := newHTTPClient(8)
	dialer := &net.Dialer{Timeout: 5 * time.Second, Resolver: &net.Resolver{PreferGo: true,
		Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "udp", dns)
		}}}
	client.Transport.(*http.Transport).DialContext = dialer.DialContext
	s, ct := keyedStorage(t, "https://failback-test.blob.host.invalid/", client)
	openDiskFails(t, s, ct, 1, "does not resolve")
}

// A certificate the machine does not trust (or for another name) and
// plain HTTP on an https URL fail on the first try.
func TestWrongTLSEndpointFailsAtOnce(t *testing.T) {
	tlsSrv := httptest.NewUnstartedServer(http.NotFoundHandler())
	tlsSrv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes
	tlsSrv.StartTLS()
	defer tlsSrv.Close()
	s, ct := keyedStorage(t, tlsSrv.URL+"/"+azurite.AccountName, newHTTPClient(8))
	openDiskFails(t, s, ct, 1, "TLS certificate is not valid")

	plain := httptest.NewServer(http.NotFoundHandler())
	defer plain.Close()
	s, ct = keyedStorage(t, strings.Replace(plain.URL, "http://", "https://", 1)+"/"+azurite.AccountName, newHTTPClient(8))
	openDiskFails(t, s, ct, 1, "does not speak TLS")
}

// A snapshot read whose endpoint goes away mid-job (the proxy in front of
// Azurite closes) stops after a few tries instead of SDK retries times
// read attempts.
func TestReadStopsSoonWhenTheEndpointGoesAway(t *testing.T) {
	ctx := context.Background()
	direct, _, c := newTestStorage(t)
	d, err := direct.CreateDisk(ctx, c, "gone.vhd", 4*mib, CreateDiskOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rawPut(t, rawPageBlob(direct, c, "gone.vhd"), mib, pattern(mib, mib, 3))
	snap, err := d.CreateSnapshot(ctx, SnapshotOptions{Purpose: "endpoint-test"})
	if err != nil {
		t.Fatal(err)
	}
	p, err := faultproxy.Start(faultproxy.Options{Upstream: fmt.Sprintf("http://127.0.0.1:%d", testenv.AzuritePort(t))})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	s, ct := keyedStorage(t, p.URL+"/"+azurite.AccountName, newHTTPClient(8))
	pd, err := s.OpenDisk(ctx, c, "gone.vhd")
	if err != nil {
		t.Fatal(err)
	}
	src, err := pd.OpenSnapshot(ctx, snap.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := src.Allocated(ctx); err != nil {
		t.Fatal(err)
	}
	p.Close()
	ct.reset()
	rctx, cancel := context.WithTimeout(ctx, 3*wrongEndpointBound)
	defer cancel()
	start := time.Now()
	err = src.ReadAt(rctx, make([]byte, mib), mib)
	took := time.Since(start)
	if !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), "check the host name and port") || rctx.Err() != nil {
		t.Fatalf("read after the endpoint went away: %v (context %v)", err, rctx.Err())
	}
	if n := ct.requests.Load(); n > connectGiveUpTries+1 || took > wrongEndpointBound {
		t.Fatalf("%d tries over %v (want at most %d, within %v)", n, took, connectGiveUpTries+1, wrongEndpointBound)
	}
}

// TestConnectFailureStreak: failures in a row give up only once they
// have lasted long enough over connectGiveUpTries tries, so a burst of
// failures (every parallel reader at once) is still retried; refusals
// give up sooner than other failures to connect; a success starts over.
func TestConnectFailureStreak(t *testing.T) {
	tr := newEndpointTransport(nil)
	t0 := time.Unix(1000, 0)
	for i := range 10 {
		if tr.giveUp(t0.Add(time.Duration(i)*time.Millisecond), refusedGiveUpAfter) {
			t.Fatalf("gave up after %d failures in 10 ms", i+1)
		}
	}
	if !tr.giveUp(t0.Add(refusedGiveUpAfter), refusedGiveUpAfter) {
		t.Fatal("did not give up after the streak lasted long enough")
	}
	tr = newEndpointTransport(nil)
	tr.giveUp(t0, refusedGiveUpAfter)
	if tr.giveUp(t0.Add(5*refusedGiveUpAfter), refusedGiveUpAfter) {
		t.Fatal("gave up after two tries")
	}
	tr.fails = 0 // what a success does
	at := t0.Add(6 * refusedGiveUpAfter)
	if tr.giveUp(at, refusedGiveUpAfter) || tr.giveUp(at.Add(time.Second), refusedGiveUpAfter) {
		t.Fatal("the streak did not start over after a success")
	}
	if tr.giveUp(at.Add(refusedGiveUpAfter), connectGiveUpAfter) || !tr.giveUp(at.Add(connectGiveUpAfter), connectGiveUpAfter) {
		t.Fatal("a timeout-like failure gave up on the refusal's schedule, or never")
	}

	refused := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	unreachable := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ENETUNREACH)}
	for err, want := range map[error]time.Duration{refused: refusedGiveUpAfter, unreachable: connectGiveUpAfter,
		&net.DNSError{Err: "server misbehaving", IsTemporary: true}: connectGiveUpAfter} {
		if after, ok := connectFailure(fmt.Errorf("Get x: %w", err)); !ok || after != want {
			t.Errorf("%v: %v %v, want %v", err, after, ok, want)
		}
	}
	if _, ok := connectFailure(fmt.Errorf("dial: %w", context.Canceled)); ok {
		t.Error("a cancelled call counted as a failure to connect")
	}
}

// nxdomainServer answers every DNS query on a loopback UDP port with
// "no such name" and returns its address.
func nxdomainServer(t *testing.T) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			q := buf[:n]
			if n < 12 || binary.BigEndian.Uint16(q[4:]) != 1 {
				continue
			}
			// The question: labels up to the root, then type and class.
			end := 12
			for end < n && q[end] != 0 {
				end += int(q[end]) + 1
			}
			end += 5
			if end > n {
				continue
			}
			resp := append([]byte(nil), q[:end]...)
			resp[2] = 0x80 | q[2]&0x79               // response, same opcode and RD
			resp[3] = 0x80 | 3                       // recursion available, NXDOMAIN
			binary.BigEndian.PutUint16(resp[6:], 0)  // answers
			binary.BigEndian.PutUint16(resp[8:], 0)  // authority
			binary.BigEndian.PutUint16(resp[10:], 0) // additional
			_, _ = pc.WriteTo(resp, from)
		}
	}()
	return pc.LocalAddr().String()
}
