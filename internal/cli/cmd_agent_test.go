package cli

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/failback/failback/agent"
	"github.com/failback/failback/azure"
	"github.com/failback/failback/internal/testenv"
)

// lockedBuffer lets a running command and the test share stderr.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestAgentHelpPointsToDeploymentDoc(t *testing.T) {
	_, errOut, code := syncCLI(context.Background(), "agent", "--help")
	if code != 0 || !strings.Contains(errOut, "docs/AGENT.md") || !strings.Contains(errOut, "next to the storage account") {
		t.Fatalf("agent --help: code %d\n%s", code, errOut)
	}
}

// --gen-cert writes a certificate and key and prints the fingerprint that
// --print-fingerprint prints again; it never overwrites a certificate.
func TestAgentGenCertAndPrintFingerprint(t *testing.T) {
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "agent.crt"), filepath.Join(dir, "agent.key")
	ctx := context.Background()
	out, errOut, code := syncCLI(ctx, "agent", "--gen-cert", "--hostname", "agent.example.com,10.0.0.4", "--tls-cert", cert, "--tls-key", key)
	if code != 0 {
		t.Fatalf("gen-cert: %d %s", code, errOut)
	}
	fp := regexp.MustCompile(`cert_fingerprint = "([0-9A-F:]{95})"`).FindStringSubmatch(out)
	if fp == nil {
		t.Fatalf("no fingerprint in:\n%s", out)
	}
	printed, _, code := syncCLI(ctx, "agent", "--print-fingerprint", "--tls-cert", cert)
	if code != 0 || strings.TrimSpace(printed) != fp[1] {
		t.Fatalf("print-fingerprint %q, gen-cert said %q", printed, fp[1])
	}
	if _, _, err := agent.LoadCert(cert, key); err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := syncCLI(ctx, "agent", "--gen-cert", "--hostname", "x", "--tls-cert", cert, "--tls-key", key); code == 0 || !strings.Contains(errOut, "exists") {
		t.Fatalf("second gen-cert overwrote: %d %s", code, errOut)
	}
}

func TestAgentRefusesToStartWithoutToken(t *testing.T) {
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "a.crt"), filepath.Join(dir, "a.key")
	if _, e, c := syncCLI(context.Background(), "agent", "--gen-cert", "--hostname", "127.0.0.1", "--tls-cert", cert, "--tls-key", key); c != 0 {
		t.Fatal(e)
	}
	t.Setenv("FB_TEST_EMPTY_TOKEN", "")
	_, errOut, code := syncCLI(context.Background(), "agent", "--tls-cert", cert, "--tls-key", key, "--token-env", "FB_TEST_EMPTY_TOKEN")
	if code == 0 || !strings.Contains(errOut, "openssl rand -hex 32") {
		t.Fatalf("no token: code %d\n%s", code, errOut)
	}
	t.Setenv("FB_TEST_SHORT_TOKEN", "short")
	_, errOut, code = syncCLI(context.Background(), "agent", "--tls-cert", cert, "--tls-key", key, "--token-env", "FB_TEST_SHORT_TOKEN")
	if code == 0 || !strings.Contains(errOut, "at least 16") {
		t.Fatalf("short token: code %d\n%s", code, errOut)
	}
}

// The command end to end: it serves a snapshot in Azurite to a pinned
// client, refuses a wrong token, logs without secrets, and stops cleanly
// when its context ends (SIGTERM in main).
func TestAgentCommandServesPinnedClientsAndStops(t *testing.T) {
	conn := testenv.AzuriteConnectionString(t)
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "a.crt"), filepath.Join(dir, "a.key")
	if _, e, c := syncCLI(context.Background(), "agent", "--gen-cert", "--hostname", "127.0.0.1", "--tls-cert", cert, "--tls-key", key); c != 0 {
		t.Fatal(e)
	}
	const token = "cli-test-token-0123456789abcdef"
	t.Setenv("FB_TEST_AGENT_TOKEN", token)
	t.Setenv("FB_TEST_STORAGE", conn)

	st, err := azure.NewStorage(azure.StorageOptions{ConnectionString: azure.NewSecret(conn)})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const container = "cliagent"
	if err := st.CreateContainer(ctx, container); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.DeleteContainer(context.Background(), container) })
	d, err := st.CreateDisk(ctx, container, "vm.vhd", 4<<20, azure.CreateDiskOptions{Overwrite: true})
	if err != nil {
		t.Fatal(err)
	}
	snap, err := d.CreateSnapshot(ctx, azure.SnapshotOptions{Purpose: "test"})
	if err != nil {
		t.Fatal(err)
	}

	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	var errOut lockedBuffer
	done := make(chan int, 1)
	go func() {
		done <- Main(runCtx, []string{"agent", "--listen", "127.0.0.1:0", "--tls-cert", cert, "--tls-key", key,
			"--token-env", "FB_TEST_AGENT_TOKEN", "--connection-string-env", "FB_TEST_STORAGE", "--container", container},
			Stdio{In: strings.NewReader(""), Out: &errOut, Err: &errOut})
	}()
	var addr, fp string
	deadline := time.Now().Add(20 * time.Second)
	for addr == "" || fp == "" {
		if time.Now().After(deadline) {
			t.Fatalf("agent did not start:\n%s", errOut.String())
		}
		time.Sleep(10 * time.Millisecond)
		if m := regexp.MustCompile(`listening on https://(\S+)`).FindStringSubmatch(errOut.String()); m != nil {
			addr = m[1]
		}
		if m := regexp.MustCompile(`fingerprint.*: ([0-9A-F:]{95})`).FindStringSubmatch(errOut.String()); m != nil {
			fp = m[1]
		}
	}
	src, err := agent.NewSource(ctx, agent.Options{URL: "https://" + addr, CertFingerprint: fp, Token: azure.NewSecret(token),
		Container: container, Blob: "vm.vhd", Snapshot: snap.ID})
	if err != nil {
		t.Fatal(err)
	}
	if src.Size() != 4<<20 {
		t.Errorf("size %d through the agent", src.Size())
	}
	src.Close()
	wrong, err := agent.NewSource(ctx, agent.Options{URL: "https://" + addr, CertFingerprint: fp, Token: azure.NewSecret("not-the-token-0123456789"),
		Container: container, Blob: "vm.vhd", Snapshot: snap.ID})
	if !errors.Is(err, agent.ErrUnauthorized) {
		t.Errorf("wrong token: %v", err)
		if wrong != nil {
			wrong.Close()
		}
	}
	// A plain TLS client that does not pin anything still needs the token.
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	if resp, err := hc.Get("https://" + addr + "/v1/info"); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("no token: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	stop()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("agent exited %d:\n%s", code, errOut.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("agent did not stop")
	}
	logs := errOut.String()
	if !strings.Contains(logs, "refused an unauthenticated request") || !strings.Contains(logs, "agent stopped") {
		t.Errorf("log lacks the refusal or the stop:\n%s", logs)
	}
	for _, secret := range []string{token, "not-the-token", "AccountKey", azureKeyPart(conn)} {
		if strings.Contains(logs, secret) {
			t.Errorf("log contains a secret (%q):\n%s", secret, logs)
		}
	}
}

// azureKeyPart is a piece of the connection string's account key.
func azureKeyPart(conn string) string {
	i := strings.Index(conn, "AccountKey=")
	return conn[i+11 : i+31]
}
