package labtest

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"

	"github.com/failback/failback/agent"
	"github.com/failback/failback/azure"
	"github.com/failback/failback/config"
)

// Agent is the Azure-side agent serving the lab's storage on a loopback
// port, as config.toml names it ([agent], its token in an environment
// variable, never in the file).
type Agent struct {
	// Token is its bearer token (tests look for it where it must not be).
	Token string
	ln    net.Listener
	stop  func()
	once  sync.Once
}

// StartAgent starts the agent with a certificate made now and names it
// in config.toml and Cfg; it stops when the test ends (or at Stop).
func (l *Lab) StartAgent() *Agent {
	t := l.T
	t.Helper()
	a := &Agent{Token: "lab-agent-token-0123456789abcdef"}
	certPEM, keyPEM, err := agent.GenerateCert(agent.CertOptions{Hosts: []string{"127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := agent.NewServer(agent.ServerOptions{Storage: l.Storage, Token: azure.NewSecret(a.Token),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if a.ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ctx, a.ln, cert)
	}()
	a.stop = func() {
		cancel()
		<-done
	}
	t.Cleanup(a.Stop)
	t.Setenv("FB_LAB_AGENT_TOKEN", a.Token)
	f, err := os.OpenFile(l.ConfigFile, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = fmt.Fprintf(f, "\n[agent]\nurl = %q\ncert_fingerprint = %q\ntoken_env = \"FB_LAB_AGENT_TOKEN\"\n",
		"https://"+a.ln.Addr().String(), agent.Fingerprint(cert.Certificate[0]))
	if cerr := f.Close(); err != nil || cerr != nil {
		t.Fatal(err, cerr)
	}
	if l.Cfg, err = config.Load(l.ConfigFile); err != nil {
		t.Fatal(err)
	}
	return a
}

// Stop stops the agent: its port refuses connections from now on.
func (a *Agent) Stop() { a.once.Do(a.stop) }
