package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	"github.com/failback/failback/agent"
	"github.com/failback/failback/azure"
	"github.com/failback/failback/config"
	"github.com/failback/failback/internal/wire"
)

// newAgentCommand is "failback agent", the command table's entry (cli.go).
func newAgentCommand() Command {
	return Command{Name: "agent", Summary: "run the Azure-side agent next to the storage account (checksums in Azure, only changed blocks cross the WAN)", Run: runAgent}
}

const agentUsage = `agent --tls-cert FILE --tls-key FILE [--listen ADDR]
             [--token-env VAR | --token-file FILE]
             [--connection-string-env VAR | --account-url URL (--account-key-env VAR | --sas-env VAR | --entra-id) | --config FILE]
             [--container NAME]... [--parallel N] [--memory SIZE] [--max-requests N] [--log-level LEVEL]
       failback agent --gen-cert --hostname NAME[,NAME...] --tls-cert FILE --tls-key FILE [--days N]
       failback agent --print-fingerprint --tls-cert FILE

The Azure-side agent. Run it next to the storage account that holds the VMs'
disks (an Azure VM, or a container in Azure Container Instances, in the same
region): it reads disk snapshots there at datacenter speed and serves block
checksums and compressed blocks over HTTPS (TLS 1.3), so a delta failback
moves only checksums and the blocks that changed across the WAN.

It only reads snapshots: it never writes, never creates or deletes a snapshot
(the console makes them). Give it read-only credentials: a managed identity
with the Storage Blob Data Reader role (--entra-id), or a SAS with read and
list permissions (--sas-env).

Clients send the deployment token and pin the agent's certificate: put the
fingerprint printed at start in the console's [agent] cert_fingerprint and
the token in [agent] token_env. Secrets come from environment variables or
files, never from the command line (other users can read it).

Deployment step by step (Azure VM or Azure Container Instances, certificate,
token, firewall): docs/AGENT.md.`

// stringList is a repeatable flag.
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ",") }

func (l *stringList) Set(v string) error {
	if v == "" {
		return errors.New("empty value")
	}
	*l = append(*l, v)
	return nil
}

// agentFlags are the command's flags.
type agentFlags struct {
	listen, certFile, keyFile, tokenEnv, tokenFile      string
	connEnv, accountURL, keyEnv, sasEnv, config, memory string
	level, hostnames                                    string
	entra, genCert, printFP                             bool
	parallel, maxRequests, days                         int
	containers                                          stringList
}

func runAgent(ctx context.Context, s Stdio, args []string) error {
	var f agentFlags
	fl := newFlags(s, "agent", agentUsage)
	fl.StringVar(&f.listen, "listen", ":8443", "`ADDR` to listen on (host:port)")
	fl.StringVar(&f.certFile, "tls-cert", "", "the agent's TLS certificate `FILE` (PEM)")
	fl.StringVar(&f.keyFile, "tls-key", "", "the certificate's private key `FILE` (PEM)")
	fl.StringVar(&f.tokenEnv, "token-env", "FAILBACK_AGENT_TOKEN", "environment `VAR` holding the deployment token")
	fl.StringVar(&f.tokenFile, "token-file", "", "`FILE` holding the deployment token (instead of --token-env)")
	fl.StringVar(&f.connEnv, "connection-string-env", "", "environment `VAR` holding the storage account's connection string")
	fl.StringVar(&f.accountURL, "account-url", "", "blob endpoint `URL` (https://ACCOUNT.blob.core.windows.net)")
	fl.StringVar(&f.keyEnv, "account-key-env", "", "environment `VAR` holding the account key (with --account-url)")
	fl.StringVar(&f.sasEnv, "sas-env", "", "environment `VAR` holding a read+list SAS token (with --account-url)")
	fl.BoolVar(&f.entra, "entra-id", false, "authenticate with Entra ID: managed identity, workload identity or az login (with --account-url)")
	fl.StringVar(&f.config, "config", "", "take the storage account from [azure.storage] of this config `FILE` (when no storage flag is given)")
	fl.Var(&f.containers, "container", "serve only this container `NAME` (repeat for more; default all)")
	fl.IntVar(&f.parallel, "parallel", 16, "storage reads at once, over all requests")
	fl.StringVar(&f.memory, "memory", "512M", "memory `SIZE` for block buffers, over all requests")
	fl.IntVar(&f.maxRequests, "max-requests", 64, "requests served at once; more get 503 and are retried by clients")
	fl.StringVar(&f.level, "log-level", "info", "`LEVEL`: debug (one line per request), info, warn or error")
	fl.BoolVar(&f.genCert, "gen-cert", false, "write a new self-signed certificate and key to --tls-cert and --tls-key, print its fingerprint, and exit")
	fl.StringVar(&f.hostnames, "hostname", "", "with --gen-cert: comma-separated DNS `NAMES` and IPs clients use to reach the agent")
	fl.IntVar(&f.days, "days", 825, "with --gen-cert: days the certificate is valid")
	fl.BoolVar(&f.printFP, "print-fingerprint", false, "print the SHA-256 fingerprint of --tls-cert (for [agent] cert_fingerprint) and exit")
	pos, err := parse(fl, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("agent takes no arguments (got %q)", pos[0])
	}
	switch {
	case f.genCert:
		return agentGenCert(s, f)
	case f.printFP:
		if f.certFile == "" {
			return usagef("--print-fingerprint needs --tls-cert FILE")
		}
		fp, err := agent.FileFingerprint(f.certFile)
		if err != nil {
			return err
		}
		fmt.Fprintln(s.Out, fp)
		return nil
	}
	return agentServe(ctx, s, f)
}

func agentGenCert(s Stdio, f agentFlags) error {
	if f.certFile == "" || f.keyFile == "" || f.hostnames == "" {
		return usagef("--gen-cert needs --tls-cert FILE, --tls-key FILE and --hostname NAME[,NAME...]")
	}
	for _, p := range []string{f.certFile, f.keyFile} {
		if _, err := os.Stat(p); err == nil {
			return fmt.Errorf("%s exists: remove it first if you mean to replace the agent's certificate (clients pinning the old one will refuse the new one until you update [agent] cert_fingerprint)", p)
		}
	}
	var hosts []string
	for _, h := range strings.Split(f.hostnames, ",") {
		if h = strings.TrimSpace(h); h != "" {
			hosts = append(hosts, h)
		}
	}
	certPEM, keyPEM, err := agent.GenerateCert(agent.CertOptions{Hosts: hosts, ValidFor: time.Duration(f.days) * 24 * time.Hour})
	if err != nil {
		return err
	}
	if err := os.WriteFile(f.keyFile, keyPEM, 0o600); err != nil {
		return fmt.Errorf("write the key: %w", err)
	}
	if err := os.WriteFile(f.certFile, certPEM, 0o644); err != nil {
		return fmt.Errorf("write the certificate: %w", err)
	}
	fp, err := agent.FileFingerprint(f.certFile)
	if err != nil {
		return err
	}
	fmt.Fprintf(s.Out, "wrote %s and %s (valid %d days for %s)\n", f.certFile, f.keyFile, f.days, strings.Join(hosts, ", "))
	fmt.Fprintf(s.Out, "pin it in the console's config.toml:\n[agent]\ncert_fingerprint = %q\n", fp)
	return nil
}

func agentServe(ctx context.Context, s Stdio, f agentFlags) error {
	if f.certFile == "" || f.keyFile == "" {
		return usagef("agent needs --tls-cert FILE and --tls-key FILE (make them with 'failback agent --gen-cert', see docs/AGENT.md)")
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(f.level)); err != nil {
		return usagef("--log-level %q: use debug, info, warn or error", f.level)
	}
	mem, err := config.ParseSize(f.memory)
	if err != nil {
		return usagef("--memory: %v", err)
	}
	token, err := agentToken(f)
	if err != nil {
		return err
	}
	so, err := agentStorage(f)
	if err != nil {
		return err
	}
	st, err := azure.NewStorage(so)
	if err != nil {
		return err
	}
	cert, fp, err := agent.LoadCert(f.certFile, f.keyFile)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(s.Err, &slog.HandlerOptions{Level: lvl}))
	srv, err := agent.NewServer(agent.ServerOptions{Storage: st, Token: token, Containers: f.containers,
		Parallel: f.parallel, MemoryLimit: mem.Bytes(), MaxRequests: f.maxRequests, Logger: log})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", f.listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (is another agent running, or the port below 1024 without privileges?)", f.listen, err)
	}
	served := "every container"
	if len(f.containers) > 0 {
		served = "containers " + f.containers.String()
	}
	fmt.Fprintf(s.Err, "failback agent listening on https://%s\n", ln.Addr())
	fmt.Fprintf(s.Err, "certificate SHA-256 fingerprint (the console's [agent] cert_fingerprint): %s\n", fp)
	fmt.Fprintf(s.Err, "reading %s of %s, read-only; stop with Ctrl-C or SIGTERM\n", served, st.URL())
	err = srv.Serve(ctx, ln, cert)
	stats := srv.Stats()
	log.Info("agent stopped", "requests", stats.Requests, "refused", stats.Refused, "bytes_read", stats.BytesRead,
		"bytes_checked", stats.BytesChecked, "payload_sent", stats.PayloadSent)
	return err
}

// agentToken reads the token from --token-file or the --token-env variable.
func agentToken(f agentFlags) (azure.Secret, error) {
	var tok string
	if f.tokenFile != "" {
		b, err := os.ReadFile(f.tokenFile)
		if err != nil {
			return azure.Secret{}, fmt.Errorf("token file: %w", err)
		}
		tok = strings.TrimSpace(string(b))
	} else {
		tok = strings.TrimSpace(os.Getenv(f.tokenEnv))
		if tok == "" {
			return azure.Secret{}, fmt.Errorf("no deployment token: set %s (for example export %s=$(openssl rand -hex 32)) or pass --token-file FILE; the console needs the same value in [agent] token_env", f.tokenEnv, f.tokenEnv)
		}
	}
	if len(tok) < agent.MinTokenLen {
		return azure.Secret{}, fmt.Errorf("the deployment token is %d characters; use at least %d (openssl rand -hex 32 makes 64)", len(tok), agent.MinTokenLen)
	}
	return azure.NewSecret(tok), nil
}

// agentStorage builds the storage options from the flags, or from the
// config file's [azure.storage] when no storage flag is given.
func agentStorage(f agentFlags) (azure.StorageOptions, error) {
	env := func(flag, name string) (azure.Secret, error) {
		v := os.Getenv(name)
		if v == "" {
			return azure.Secret{}, fmt.Errorf("%s %s: the environment variable is empty or not set", flag, name)
		}
		return azure.NewSecret(v), nil
	}
	var o azure.StorageOptions
	var err error
	switch {
	case f.connEnv != "":
		if f.accountURL != "" || f.keyEnv != "" || f.sasEnv != "" || f.entra {
			return o, usagef("--connection-string-env names the account already: drop --account-url, --account-key-env, --sas-env and --entra-id")
		}
		o.ConnectionString, err = env("--connection-string-env", f.connEnv)
	case f.accountURL != "":
		o.AccountURL, o.UseEntraID = f.accountURL, f.entra
		if f.keyEnv != "" {
			o.AccountKey, err = env("--account-key-env", f.keyEnv)
		}
		if f.sasEnv != "" && err == nil {
			o.SAS, err = env("--sas-env", f.sasEnv)
		}
	case f.keyEnv != "" || f.sasEnv != "" || f.entra:
		return o, usagef("--account-key-env, --sas-env and --entra-id need --account-url")
	default:
		c, lerr := loadConfig(f.config)
		if lerr != nil {
			if errors.Is(lerr, fs.ErrNotExist) {
				return o, usagef("no storage account: pass --connection-string-env VAR, or --account-url URL with --entra-id, --sas-env VAR or --account-key-env VAR, or --config FILE")
			}
			return o, lerr
		}
		return wire.StorageOptions(c.Azure.Storage), nil
	}
	if err != nil {
		return o, err
	}
	return o, o.Validate()
}
