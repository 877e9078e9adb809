package cli

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"testing"

	"github.com/failback/failback/agent"
	"github.com/failback/failback/azure"
	"github.com/failback/failback/internal/units"
	"github.com/failback/failback/workflow"
	"github.com/failback/failback/workflow/labtest"
)

// startLabAgent serves the lab's storage on a loopback port with a
// certificate made now, and names it in the lab's config.toml.
func startLabAgent(t *testing.T, l *labtest.Lab) {
	t.Helper()
	const token = "flow-test-token-0123456789abcdef"
	certPEM, keyPEM, err := agent.GenerateCert(agent.CertOptions{Hosts: []string{"127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := agent.NewServer(agent.ServerOptions{Storage: l.Storage, Token: azure.NewSecret(token),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ctx, ln, cert)
	}()
	t.Cleanup(func() {
		stop()
		<-done
	})
	t.Setenv("FB_TEST_FLOW_AGENT_TOKEN", token)
	f, err := os.OpenFile(l.ConfigFile, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = fmt.Fprintf(f, "\n[agent]\nurl = %q\ncert_fingerprint = %q\ntoken_env = \"FB_TEST_FLOW_AGENT_TOKEN\"\n",
		"https://"+ln.Addr().String(), agent.Fingerprint(cert.Certificate[0]))
	if cerr := f.Close(); err != nil || cerr != nil {
		t.Fatal(err, cerr)
	}
}

// allocatedBytes is what a disk holds in Azure (its allocated pages).
func allocatedBytes(t *testing.T, l *labtest.Lab, blob string) int64 {
	t.Helper()
	ctx := context.Background()
	d, err := l.Storage.OpenDisk(ctx, l.Container, blob)
	if err != nil {
		t.Fatal(err)
	}
	sn, err := d.CreateSnapshot(ctx, azure.SnapshotOptions{Purpose: "test"})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = d.DeleteSnapshot(ctx, sn.ID) }()
	src, err := d.OpenSnapshot(ctx, sn.ID)
	if err != nil {
		t.Fatal(err)
	}
	ext, err := src.Allocated(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, e := range ext {
		n += e.Len
	}
	return n
}

// A delta failback through the agent, as config.toml names it: the
// status (JSON and plain) shows per disk what the agent checked in Azure
// and what crossed the link, far less than the disk's allocated bytes,
// and the disk is right.
func TestDeltaRunThroughTheAgentShowsWhatCrossedTheLink(t *testing.T) {
	// The agent serves drivers writing through a share; movers read storage.
	l := labtest.New(t, labtest.Options{VMs: []labtest.VM{{Name: "files", Disks: []int64{16 << 20}}}, Share: true})
	startLabAgent(t, l)
	blob := l.Blob("files", 0)
	alloc := allocatedBytes(t, l, blob)

	out, errOut, code := wfCLI(t, l, "run", "--vm", "files", "--sync", "delta", "--yes")
	if code != 0 {
		t.Fatalf("run exit %d\n%s\n%s", code, out, errOut)
	}
	id := lastLine(out)
	out, _, code = wfCLI(t, l, "status", id, "--json")
	var v workflow.JobView
	if code != 0 || json.Unmarshal([]byte(out), &v) != nil || v.State != workflow.StateReady {
		t.Fatalf("status --json (exit %d): %s", code, out)
	}
	d := v.VMs[0].Disks[0]
	a := d.Agent
	if a == nil {
		t.Fatalf("no agent figures for a disk read through the agent: %+v\n%s", d, errOut)
	}
	if a.AzureChecked < alloc || a.LinkBytes <= 0 || a.LinkBytes*2 > alloc || a.BlockBytes < d.BytesTransferred || a.Fallback || a.DirectBytes != 0 {
		t.Fatalf("agent figures (allocated %d, transferred %d): %+v", alloc, d.BytesTransferred, *a)
	}
	if !strings.Contains(out, `"azure_checked":`) || !strings.Contains(out, `"link_bytes":`) {
		t.Fatalf("status --json lacks the agent's figures: %s", out)
	}
	t.Logf("allocated %d; agent %+v", alloc, *a)
	plain, _, code := wfCLI(t, l, "status", id)
	if code != 0 || !strings.Contains(plain, "via agent: checked "+units.Bytes(a.AzureChecked)+" in Azure, link "+units.Bytes(a.LinkBytes)) {
		t.Fatalf("plain status (exit %d):\n%s", code, plain)
	}
	if i := labtest.FirstDiff(l.BlobBytes(blob), labtest.ImageBytes(t, l.Image("files", 0))); i >= 0 {
		t.Fatalf("the disk differs from its blob at byte %d after phase 1 through the agent", i)
	}
}
