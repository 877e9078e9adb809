package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/failback/failback/internal/units"
	"github.com/failback/failback/internal/wire"
	"github.com/failback/failback/workflow"
)

// newPlansCommand is "failback plans", the command table's entry (cli.go).
func newPlansCommand() Command {
	return Command{Name: "plans", Summary: "list the recovery plans and the VMs that can be failed back", Run: runPlans}
}

const plansUsage = `plans [--config FILE] [--json] [--no-sizes]

Lists the recovery plans of config.toml (their VMs, group by group, in the
order they are started on premises), then every VM alone with its disks
and their sizes. The sizes are read from the storage account (blob
properties only: nothing is changed, no snapshot is taken); a disk whose
size cannot be read says why. --no-sizes lists the configuration alone,
without contacting Azure.`

// sizesWait bounds how long plans waits for the disk sizes: one blob's
// lookup is bounded by the workflow (15 s), a few run at once.
const sizesWait = 30 * time.Second

// plansWithSizes asks for the plans until every disk's size is read (or
// why it cannot be), or sizesWait passes.
func plansWithSizes(ctx context.Context, svc workflow.Service) []workflow.PlanInfo {
	ch, stop := svc.Subscribe()
	defer stop()
	deadline := time.After(sizesWait)
	for {
		plans := svc.Plans()
		if sizesKnown(plans) {
			return plans
		}
		select {
		case <-ctx.Done():
			return plans
		case <-deadline:
			return plans
		case <-ch:
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func sizesKnown(plans []workflow.PlanInfo) bool {
	for _, p := range plans {
		for _, g := range p.Groups {
			for _, vm := range g {
				for _, d := range vm.Disks {
					if d.Size == 0 && d.SizeError == "" {
						return false
					}
				}
			}
		}
	}
	return true
}

func runPlans(ctx context.Context, s Stdio, args []string) error {
	fl := newFlags(s, "plans", plansUsage)
	file := configFlag(fl)
	asJSON := fl.Bool("json", false, "print the plans as JSON")
	noSizes := fl.Bool("no-sizes", false, "do not read disk sizes from the storage account")
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
	var d workflow.Deps
	if !*noSizes {
		disks, err := wire.Disks(cfg)
		if err != nil {
			fmt.Fprintf(s.Err, "failback: disk sizes not read: %v\n", err)
		} else {
			d.Disks = disks
		}
	}
	svc, done, err := viewWorkflowWith(ctx, cfg, d)
	if err != nil {
		return err
	}
	defer done()
	// A driving process reads the sizes itself; this view only with the
	// storage account it was given.
	_, remote := svc.(*workflow.Client)
	sizes := !*noSizes && (d.Disks != nil || remote)
	plans := svc.Plans()
	if sizes {
		plans = plansWithSizes(ctx, svc)
	}
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
			fmt.Fprintf(s.Out, "  %-16s %s\n", vm.Name, vmLine(vm, sizes))
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

func vmLine(vm workflow.VMInfo, sizes bool) string {
	var disks []string
	for _, d := range vm.Disks {
		t := d.Label()
		var facts []string
		switch {
		case !sizes:
		case d.Size > 0:
			facts = append(facts, units.Bytes(d.Size))
		case d.SizeError != "":
			facts = append(facts, "size not read: "+d.SizeError)
		default:
			facts = append(facts, "size not read in time")
		}
		if d.SKU != "" {
			facts = append(facts, d.SKU)
		}
		if len(facts) > 0 {
			t += " (" + strings.Join(facts, ", ") + ")"
		}
		disks = append(disks, t)
	}
	az := vm.AzureVM
	if vm.ResourceGroup != "" {
		az += " (resource group " + vm.ResourceGroup + ")"
	}
	return fmt.Sprintf("Azure VM %s -> host %s, switch %s; disks: %s", az, vm.Host, vm.Switch, strings.Join(disks, ", "))
}
