package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/failback/failback/config"
	"github.com/failback/failback/crypt"
	"github.com/failback/failback/workflow"
)

// newCertificatesCommand is "failback certificates", the command table's
// entry (cli.go).
func newCertificatesCommand() Command {
	return Command{Name: "certificates", Summary: "list the certificates that unlock encrypted disks (and which one a plan's disks need)", Run: runCertificates}
}

const certificatesUsage = `certificates [--config FILE] [--json] [--plan NAME | --vm NAME]

Lists the certificate files of certificates_dir (PEM, and PFX opened with
the passwords of config.toml's [[certificate]] entries): thumbprint,
subject, expiry, and whether the private key is usable (a PFX no password
opens is "locked"). The thumbprint is what 'failback run --cert' takes.
With --plan or --vm it also reads the Azure disks' metadata (nothing is
changed) and says which certificate each encrypted disk needs, marking
the certificates that unlock them all.
Exit status: 0 listed, 1 the folder or Azure cannot be read, 2 usage
error, 3 a plan or VM config.toml does not define.`

// certRow is one certificate as the command prints it.
type certRow struct {
	thumb, subject, file, key string
	notAfter                  time.Time
	expired, unlocks          bool
}

func runCertificates(ctx context.Context, s Stdio, args []string) error {
	fl := newFlags(s, "certificates", certificatesUsage)
	file := configFlag(fl)
	asJSON := fl.Bool("json", false, "print the listing as JSON")
	plan := fl.String("plan", "", "also say which certificate the encrypted disks of plan `NAME` need")
	vm := fl.String("vm", "", "the same for one VM `NAME`")
	pos, err := parse(fl, args)
	if err != nil {
		return err
	}
	switch {
	case len(pos) > 0:
		return usagef("certificates takes flags only (got %q)", pos[0])
	case *plan != "" && *vm != "":
		return usagef("name one of --plan NAME or --vm NAME, not both")
	}
	cfg, err := loadConfig(*file)
	if err != nil {
		return err
	}
	if *plan == "" && *vm == "" {
		return listStore(ctx, s, cfg, *asJSON)
	}
	c := workflow.Choices{Plan: *plan, VM: *vm, Direction: workflow.DirAzureToOnPrem, Location: workflow.LocOriginal}
	if err := knownNames(cfg, c); err != nil {
		return err
	}
	svc, done, err := openWorkflow(ctx, cfg, wireOptions{Command: "failback certificates"})
	if err != nil {
		return err
	}
	defer done()
	rep, err := svc.Certificates(ctx, c)
	if err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(s.Out).Encode(rep)
	}
	var rows []certRow
	for _, ci := range rep.Certs {
		key := "usable"
		switch {
		case ci.Problem != "":
			key = ci.Problem
		case !ci.HasKey:
			key = "no private key"
		}
		rows = append(rows, certRow{thumb: ci.Thumbprint, subject: ci.Subject, file: ci.File, key: key,
			notAfter: ci.NotAfter, expired: ci.Expired, unlocks: ci.Matches})
	}
	printCerts(s.Out, cfg.CertificatesDir, rows, true)
	if len(rep.Disks) == 0 {
		fmt.Fprintf(s.Out, "no disk of %s is encrypted: no certificate is needed\n", c.Plan+c.VM)
		return nil
	}
	disks := make([]string, 0, len(rep.Disks))
	for d := range rep.Disks {
		disks = append(disks, d)
	}
	sort.Strings(disks)
	for _, d := range disks {
		fmt.Fprintf(s.Out, "disk %s needs certificate %s\n", d, rep.Disks[d])
	}
	return nil
}

// listStore lists certificates_dir alone: no Azure, no host, no state.
func listStore(ctx context.Context, s Stdio, cfg *config.Config, asJSON bool) error {
	pw := map[string]crypt.Secret{}
	for _, c := range cfg.Certificates {
		pw[c.File] = crypt.NewSecret(c.Password.Reveal())
	}
	list, err := crypt.NewStore(cfg.CertificatesDir, crypt.StoreOptions{Passwords: pw}).List(ctx, time.Now())
	if err != nil {
		return fmt.Errorf("certificates_dir %s: %w (set certificates_dir in config.toml to the folder holding the PEM and PFX files)", cfg.CertificatesDir, err)
	}
	if asJSON {
		if list == nil {
			list = []crypt.CertInfo{}
		}
		return json.NewEncoder(s.Out).Encode(list)
	}
	var rows []certRow
	for _, ci := range list {
		key := "usable"
		switch {
		case ci.Locked:
			key = "locked: give the PFX password in a [[certificate]] entry"
		case ci.Err != nil:
			key = "unusable: " + ci.Err.Error()
		case !ci.HasPrivateKey:
			key = "no private key"
		}
		rows = append(rows, certRow{thumb: ci.Thumbprint, subject: ci.Subject, file: ci.File, key: key,
			notAfter: ci.NotAfter, expired: ci.Expired})
	}
	printCerts(s.Out, cfg.CertificatesDir, rows, false)
	return nil
}

// printCerts writes the table (with an UNLOCKS column for a choice: does
// the certificate unlock every encrypted disk of it). KEY is last: it
// says why a key is not usable, at length.
func printCerts(w io.Writer, dir string, rows []certRow, choice bool) {
	if len(rows) == 0 {
		fmt.Fprintf(w, "no certificates in %s: put the PEM or PFX files (with their private keys) there\n", dir)
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	head := []string{"THUMBPRINT", "SUBJECT", "EXPIRES", "FILE", "KEY"}
	if choice {
		head = []string{"THUMBPRINT", "SUBJECT", "EXPIRES", "FILE", "UNLOCKS", "KEY"}
	}
	fmt.Fprintln(tw, strings.Join(head, "\t"))
	for _, r := range rows {
		exp := "-"
		if !r.notAfter.IsZero() {
			exp = r.notAfter.UTC().Format(time.DateOnly)
		}
		if r.expired {
			exp += " (expired)"
		}
		thumb, subject := r.thumb, r.subject
		if thumb == "" {
			thumb = "-"
		}
		if subject == "" {
			subject = "-"
		}
		cols := []string{thumb, subject, exp, r.file, r.key}
		if choice {
			cols = []string{thumb, subject, exp, r.file, map[bool]string{true: "yes", false: "no"}[r.unlocks], r.key}
		}
		fmt.Fprintln(tw, strings.Join(cols, "\t"))
	}
	tw.Flush()
}
