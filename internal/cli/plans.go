package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/failback/failback/config"
	"github.com/failback/failback/workflow"
)

func init() {
	register(Command{Name: "plans", Summary: "list the recovery plans and the VMs that can be failed back", Run: runPlans})
}

const plansUsage = `plans [--config FILE] [--json]

Lists the recovery plans of config.toml (their VMs, group by group, in the
order they are started on premises), then every VM alone. Disk sizes show
once a pre-flight or estimate has read them.`

// viewWorkflow returns a Service for looking only: the driver's control
// socket when a process drives the jobs, else a read-only view that never
// becomes their driver.
func viewWorkflow(ctx context.Context, cfg *config.Config) (workflow.Service, func(), error) {
	if c, err := workflow.Dial(ctx, cfg.StateDir); err == nil {
		return c, func() { _ = c.Close() }, nil
	}
	m, err := workflow.Open(ctx, cfg, workflow.Deps{ReadOnly: true})
	if err != nil {
		return nil, nil, err
	}
	return m, func() { _ = m.Close() }, nil
}

func runPlans(ctx context.Context, s Stdio, args []string) error {
	fl := newFlags(s, "plans", plansUsage)
	file := configFlag(fl)
	asJSON := fl.Bool("json", false, "print the plans as JSON")
	pos, err := parse(fl, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("plans takes no arguments (got %q)", pos[0])
	}
	cfg, err := loadConfig(*file)
	if err != nil {
		return err
	}
	printWarnings(s.Err, cfg)
	svc, done, err := viewWorkflow(ctx, cfg)
	if err != nil {
		return err
	}
	defer done()
	plans := svc.Plans()
	if *asJSON {
		enc := json.NewEncoder(s.Out)
		enc.SetIndent("", "  ")
		return enc.Encode(plans)
	}
	singles := false
	for _, p := range plans {
		if p.Single {
			if !singles {
				fmt.Fprintln(s.Out, "\nVMs (each can be failed back alone with --vm NAME):")
				singles = true
			}
			vm := p.Groups[0][0]
			fmt.Fprintf(s.Out, "  %-16s %s\n", vm.Name, vmLine(vm))
			continue
		}
		fmt.Fprintf(s.Out, "plan %s: %s\n", p.Name, p.Description)
		for g, grp := range p.Groups {
			var names []string
			for _, vm := range grp {
				names = append(names, vm.Name)
			}
			fmt.Fprintf(s.Out, "  group %d: %s\n", g+1, strings.Join(names, ", "))
		}
	}
	return nil
}

func vmLine(vm workflow.VMInfo) string {
	var disks []string
	for _, d := range vm.Disks {
		t := d.Blob
		if d.Size > 0 {
			t += " (" + syncBytesText(d.Size) + ")"
		}
		disks = append(disks, t)
	}
	return fmt.Sprintf("Azure VM %s -> host %s, switch %s; disks: %s", vm.AzureVM, vm.Host, vm.Switch, strings.Join(disks, ", "))
}
