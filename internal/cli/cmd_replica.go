package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/failback/failback/internal/units"
	"github.com/failback/failback/internal/wire"
	"github.com/failback/failback/workflow"
)

// newReplicaCommand is "failback replica", the command table's entry
// (cli.go).
func newReplicaCommand() Command {
	return Command{Name: "replica", Summary: "make managed disks from a recovery point of reverse replication", Run: runReplica}
}

const replicaUsage = `replica disks JOB [--point TIME] [--dry-run | --yes] [--resource-group NAME]
                  [--location REGION] [--config FILE] [--json]

Makes managed disks in Azure from a recovery point of JOB's reverse
replication (every disk of each VM, snapshotted together after a cycle):
the way back to Azure if the site is lost again. Each point snapshot is
copied inside the storage account into a blob of its own, then imported
as a managed disk (createOption Import); the disks are ready to attach to
a VM. Nothing of the job changes.
  --point TIME   the newest point at or before TIME (2026-12-05T14:30:00Z,
                 or "2026-12-05 14:30" in UTC); default: the newest
  --dry-run      say what would be created, create nothing
  --yes          create them (required unless --dry-run)
Exit status: 0 done, 1 it failed (the message says why), 2 usage error.`

func runReplica(ctx context.Context, s Stdio, args []string) error {
	fl := newFlags(s, "replica", replicaUsage)
	file := configFlag(fl)
	point := fl.String("point", "", "the newest recovery point at or before `TIME`")
	dry := fl.Bool("dry-run", false, "say what would be created; create nothing")
	yes := fl.Bool("yes", false, "create the disks")
	rg := fl.String("resource-group", "", "resource group of the new disks (default [azure] resource_group)")
	loc := fl.String("location", "", "region of the new disks (default: the original disks')")
	asJSON := fl.Bool("json", false, "print the report as JSON")
	pos, err := parse(fl, args)
	if err != nil {
		return err
	}
	switch {
	case len(pos) != 2 || pos[0] != "disks":
		return usagef("replica disks JOB: name the job whose recovery point becomes managed disks")
	case !*dry && !*yes:
		return usagef("replica disks creates managed disks (they cost money while they exist): add --yes to confirm, or --dry-run to see what it would create")
	}
	o := workflow.ReplicaDisksOptions{ResourceGroup: *rg, Location: *loc, DryRun: *dry}
	if *point != "" {
		if o.Point, err = parsePointTime(*point); err != nil {
			return usagef("--point %q: %v", *point, err)
		}
	}
	cfg, err := loadConfig(*file)
	if err != nil {
		return err
	}
	d, release, err := wire.Deps(ctx, cfg)
	if err != nil {
		return err
	}
	defer release()
	rep, err := workflow.MakeReplicaDisks(ctx, cfg, d, pos[1], o)
	if *asJSON {
		if jerr := json.NewEncoder(s.Out).Encode(rep); jerr != nil {
			return jerr
		}
		return err
	}
	for _, rd := range rep.Disks {
		what := "created"
		if rep.DryRun {
			what = "would create"
		}
		fmt.Fprintf(s.Out, "%s managed disk %s (%s, %s) from %s %s\n", what, rd.Name, rd.SKU, units.Bytes(rd.Size), rd.VM, rd.Disk)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(s.Out, "recovery point %s; %s\n", rep.Point.UTC().Format(time.DateTime+" UTC"), rep.Cost)
	return nil
}

// parsePointTime reads RFC 3339 or "YYYY-MM-DD HH:MM[:SS]" (UTC).
func parsePointTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339, "2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02T15:04"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("write the time as 2026-12-05T14:30:00Z or \"2026-12-05 14:30\" (UTC)")
}
