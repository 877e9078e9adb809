//go:build unix

package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v6"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/pageblob"

	"github.com/failback/failback/hyperv"
	"github.com/failback/failback/internal/azurite"
	"github.com/failback/failback/lab"
	"github.com/failback/failback/workflow"
)

// TestTestDrill is the test failback of both lab plans through the
// commands a user types, while the lab's Azure VMs keep writing: run
// --test ends "testing" with the test VMs running on hv01 and checked;
// every test disk, read through failback's chain reader (a differencing
// disk over its parent), equals the Azure snapshot of the job's last pass
// (read through the Azure SDK), byte for byte; test end removes every
// test VM, test file and the switch; the VMs' own disk files are the same
// bytes before and after, and every Azure VM ran and wrote throughout.
func TestTestDrill(t *testing.T) {
	m, _ := labUp(t, "--write-rate", "20")
	cfg := m.Path(m.Config)
	az := newSDK(t, m)
	var thumb string
	for _, c := range m.Certs {
		if c.Unlocks {
			thumb = c.Thumbprint
		}
	}
	drill := func(plan string, extra ...string) {
		t.Helper()
		var vms []lab.VM
		hashes := map[string][32]byte{}
		for _, v := range m.VMs {
			if v.Plan != plan {
				continue
			}
			vms = append(vms, v)
			for _, d := range v.Disks {
				hashes[d.Image] = fileSum(t, d.Image)
			}
		}
		before, _ := status(t, m.Dir)
		job := lastLine(mustFailback(t, append([]string{"run", "--config", cfg, "--plan", plan, "--test", "--yes"}, extra...)...).out)

		var rep workflow.JobView
		if err := json.Unmarshal([]byte(mustFailback(t, "status", "--config", cfg, "--json", job).out), &rep); err != nil || rep.Test == nil {
			t.Fatalf("status --json of a test: %v", err)
		}
		if rep.State != workflow.StateTesting || rep.Test.FinalPass <= 0 || len(rep.Test.VMs) != len(vms) {
			t.Fatalf("plan %s: %s, final pass %s, %d test VMs", plan, rep.State, rep.Test.FinalPass, len(rep.Test.VMs))
		}
		during, _ := status(t, m.Dir)
		passes := jobPasses(t, m, job)
		for _, v := range vms {
			if d := vmStatus(t, during, v.Name); d.Power != "running" || d.Writes <= vmStatus(t, before, v.Name).Writes {
				t.Fatalf("%s is %s with %d writes during the test; the Azure VM must run and write on", v.Name, d.Power, d.Writes)
			}
			var r workflow.TestVMReport
			for _, x := range rep.Test.VMs {
				if x.VM == v.Name {
					r = x
				}
			}
			if r.State != "started" || len(r.Checks) < 2 || !r.Checks[0].OK || !r.Checks[1].OK {
				t.Fatalf("%s: test VM %+v", v.Name, r)
			}
			for i, d := range v.Disks {
				snap := passes[v.Name][i]
				ad := az.snapshotContent(t, d, snap)
				differ, total := differingBlocks(t, ad.plain, r.Disks[i].Image)
				ad.done()
				if differ != 0 {
					t.Fatalf("%s: %d of %d blocks of the test disk %s differ from snapshot %s of %s", v.Name, differ, total, r.Disks[i].Image, snap, d.Describe())
				}
			}
		}

		mustFailback(t, "end-test", "--config", cfg, job)
		after, _ := status(t, m.Dir)
		for _, v := range vms {
			if p := vmStatus(t, after, v.Name).Power; p != "running" {
				t.Fatalf("%s is %s in Azure after the test; it must run as before", v.Name, p)
			}
			for _, d := range v.Disks {
				if fileSum(t, d.Image) != hashes[d.Image] {
					t.Fatalf("%s changed during the test of plan %s", d.Image, plan)
				}
			}
		}
		for _, h := range m.Hosts {
			for _, hv := range vmStatusOfHost(after, h.Name) {
				if strings.HasSuffix(hv.Name, "-test") {
					t.Fatalf("test VM %s is left on %s", hv.Name, h.Name)
				}
			}
			lh, err := hyperv.OpenLab(m.Path(h.Dir))
			if err != nil {
				t.Fatal(err)
			}
			sws, err := lh.ListSwitches(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range sws {
				if strings.HasPrefix(s.Name, "failback-test") {
					t.Fatalf("test switch %s is left on %s", s.Name, h.Name)
				}
			}
			_ = filepath.WalkDir(m.Path(h.Dir), func(p string, e fs.DirEntry, err error) error {
				if err == nil && (strings.Contains(e.Name(), "failback-test") || strings.HasSuffix(p, ".running")) {
					t.Errorf("left on %s: %s", h.Name, p)
				}
				return nil
			})
		}
	}
	drill(lab.PlanTier1)
	drill(lab.PlanTier2, "--cert", thumb)
}

// fileSum hashes a file's bytes.
func fileSum(t *testing.T, p string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

// jobPasses is, per VM, each disk's last pass snapshot, from job.json.
func jobPasses(t *testing.T, m *lab.Manifest, id string) map[string][]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(m.Path("state"), "jobs", id, "job.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rec struct {
		VMs []struct {
			Name  string `json:"name"`
			Disks []struct {
				Passes []struct {
					Kind     string `json:"kind"`
					Done     bool   `json:"done"`
					Snapshot string `json:"snapshot"`
				} `json:"passes"`
			} `json:"disks"`
		} `json:"vms"`
	}
	if err := json.Unmarshal(b, &rec); err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, v := range rec.VMs {
		for _, d := range v.Disks {
			last := d.Passes[len(d.Passes)-1]
			if last.Kind != "test-final" || !last.Done {
				t.Fatalf("%s: the last pass is %+v, not a finished test-final", v.Name, last)
			}
			out[v.Name] = append(out[v.Name], last.Snapshot)
		}
	}
	return out
}

func vmStatusOfHost(s lab.Status, host string) []lab.HostVM {
	for _, h := range s.Hosts {
		if h.Name == host {
			return h.VMs
		}
	}
	return nil
}

// snapshotContent reads an existing snapshot of a lab disk (a job's) as
// any client would: a read grant through ARM for a managed disk's, the
// page blob's snapshot with azblob; done revokes the grant and keeps the
// snapshot.
func (s *sdk) snapshotContent(t *testing.T, d lab.Disk, snapshot string) azureDisk {
	t.Helper()
	ctx := context.Background()
	if d.Managed == "" {
		cred, err := blob.NewSharedKeyCredential(azurite.AccountName, azurite.AccountKey)
		if err != nil {
			t.Fatal(err)
		}
		pb, err := pageblob.NewClientWithSharedKeyCredential(fmt.Sprintf("http://127.0.0.1:%d/%s/%s", s.m.Azurite.Port, azurite.AccountName, d.Blob), cred, nil)
		if err != nil {
			t.Fatal(err)
		}
		at, err := pb.WithSnapshot(snapshot)
		if err != nil {
			t.Fatal(err)
		}
		// failback's snapshots carry its own tags as metadata, so the
		// encryption metadata is the blob's.
		return s.pageBlobAt(t, d, at, pb, func() {})
	}
	rg := s.m.ResourceGroup
	gp, err := s.snaps.BeginGrantAccess(ctx, rg, snapshot, armcompute.GrantAccessData{Access: to.Ptr(armcompute.AccessLevelRead),
		DurationInSeconds: to.Ptr[int32](600)}, nil)
	var grant armcompute.SnapshotsClientGrantAccessResponse
	if err == nil {
		grant, err = gp.PollUntilDone(ctx, poll)
	}
	if err != nil || grant.AccessSAS == nil {
		t.Fatalf("read grant on the job's snapshot %s: %v", snapshot, err)
	}
	revoke := func() {
		if p, err := s.snaps.BeginRevokeAccess(ctx, rg, snapshot, nil); err == nil {
			_, _ = p.PollUntilDone(ctx, poll)
		}
	}
	pb, err := pageblob.NewClientWithNoCredential(*grant.AccessSAS, nil)
	if err != nil {
		revoke()
		t.Fatal(err)
	}
	src := newBlobSource(t, pb, d.Size)
	return azureDisk{raw: src, plain: src, blobSize: src.blobSize, done: revoke}
}
