package config

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/failback/failback/engine"
	"github.com/failback/failback/vdisk"
)

// TestValidationRules proves each rule: the problem is reported, at the
// marked line, with a message and a fix that say what to write.
func TestValidationRules(t *testing.T) {
	cases := []struct {
		name string
		text string
		want []string // all in one problem's text
		col  int      // expected column when non-zero
		warn bool
	}{
		{"unknown key in host suggests the right one",
			azureLab + siteDC + strings.Replace(hostSSH, `key_file = "id_ed25519"`, "pasword = \"x\" #<", 1) + vmWeb01,
			[]string{`unknown key "pasword" in [[host]] (host "hv01.example.com")`, `did you mean "password"?`}, 1, false},
		{"unknown key in an inline disk table",
			azureLab + siteDC + hostSSH + "[[vm]]\nname = \"w\"\nhost = \"hv01.example.com\"\ndisk = [{ blob = \"vhds/w.vhd\", imgae = 'D:\\VMs\\w.vhdx' }] #<\n",
			[]string{`unknown key "imgae" in [[vm.disk]] (vm "w", disk 1)`, `did you mean "image"?`}, 32, false},
		{"unknown table",
			validDoc + "[agnet] #<\nurl = \"https://agent.example.com\"\n",
			[]string{`unknown key "agnet" in the top level`, `did you mean "agent"?`}, 1, false},
		{"unknown dotted key is reported once, at its first unknown part",
			validDoc + "[engine]\ncatch_upp.max_passes = 2 #<\ncatch_upp.stop_below = 1\n",
			[]string{`unknown key "catch_upp" in [engine]`, `did you mean "catch_up"?`}, 1, false},
		{"unknown key without a near name",
			"colour = \"blue\" #<\n" + validDoc,
			[]string{`unknown key "colour"`, "remove it; config.toml.example lists the keys of the top level"}, 0, false},
		{"miscased key is a warning",
			validDoc + "[engine]\nThreads = 8 #<\n",
			[]string{`key "Threads" is written "threads"`}, 0, true},
		{"ssh host without address points at its table",
			azureLab + siteDC + "[[host]] #<\nname = \"hv01\"\nsite = \"dc1\"\ntransport = \"ssh\"\nuser = \"u\"\nkey_file = \"k\"\n",
			[]string{`host "hv01" has transport = "ssh" but no address`, `add address = "hv01.example.com"`}, 1, false},
		{"ssh host without key or password",
			azureLab + siteDC + "[[host]] #<\nname = \"hv01\"\nsite = \"dc1\"\ntransport = \"ssh\"\naddress = \"hv01.example.com\"\nuser = \"u\"\n",
			[]string{`host "hv01" has neither key_file nor password`}, 0, false},
		{"bad transport suggests ssh",
			azureLab + siteDC + "[[host]]\nname = \"hv01\"\ntransport = \"shh\" #<\n",
			[]string{`transport = "shh" is not a transport`, `did you mean "ssh"?`}, 1, false},
		{"bad compute",
			"[azure]\ncompute = \"azure\" #<\n[azure.storage]\nconnection_string = \"x\"\n",
			[]string{`compute = "azure" is not a compute back end`, `write one of "arm", "lab"`}, 0, false},
		{"arm without subscription",
			"[azure] #<\ncompute = \"arm\"\nresource_group = \"rg\"\n[azure.storage]\nconnection_string = \"x\"\n",
			[]string{`[azure] has no subscription_id`}, 0, false},
		{"subscription name instead of id",
			"[azure]\nsubscription_id = \"Production\" #<\nresource_group = \"rg\"\n[azure.storage]\nconnection_string = \"x\"\n",
			[]string{`subscription_id "Production" is not a subscription ID`}, 0, false},
		{"storage without auth when a disk is a page blob",
			"[azure]\ncompute = \"lab\"\nlab_dir = \"l\"\n[azure.storage] #<\nretries = 3\n" + siteDC + hostSSH + vmWeb01,
			[]string{`[azure.storage] says no way to authenticate`, `page-blob disks`}, 0, false},
		{"a disk that names no Azure disk",
			azureLab + siteDC + hostSSH + "[[vm]]\nname = \"w\"\nhost = \"hv01.example.com\"\n[[vm.disk]] #<\nimage = 'D:\\VMs\\w.vhdx'\n",
			[]string{`disk 1 of VM "w" does not say which Azure disk it is`, `os = true`, `lun = N`}, 0, false},
		{"a disk named two ways",
			azureLab + siteDC + hostSSH + "[[vm]]\nname = \"w\"\nhost = \"hv01.example.com\"\n[[vm.disk]] #<\nos = true\nlun = 1\nimage = 'D:\\VMs\\w.vhdx'\n",
			[]string{`names its Azure disk more than one way`, `keep one of os, lun and blob`}, 0, false},
		{"a LUN out of range",
			azureLab + siteDC + hostSSH + "[[vm]]\nname = \"w\"\nhost = \"hv01.example.com\"\n[[vm.disk]]\nlun = 64 #<\nimage = 'D:\\VMs\\w.vhdx'\n",
			[]string{`lun = 64 is out of range`, `0 to 63`}, 0, false},
		{"the same LUN twice",
			azureLab + siteDC + hostSSH + "[[vm]]\nname = \"w\"\nhost = \"hv01.example.com\"\n[[vm.disk]]\nlun = 1\nimage = 'D:\\VMs\\w.vhdx'\n[[vm.disk]] #<\nlun = 1\nimage = 'D:\\VMs\\w2.vhdx'\n",
			[]string{`is the LUN 1, as is the disk at line`}, 0, false},
		{"managed and page-blob disks in one VM",
			azureLab + siteDC + hostSSH + "[[vm]]\nname = \"w\"\nhost = \"hv01.example.com\"\n[[vm.disk]]\nos = true\nimage = 'D:\\VMs\\w.vhdx'\n[[vm.disk]] #<\nblob = \"vhds/w.vhd\"\nimage = 'D:\\VMs\\w2.vhdx'\n",
			[]string{`is a page-blob disk, the disk at line`, `managed disks or on unmanaged ones, not both`}, 0, false},
		{"an unknown way to stop the VMs",
			"[azure]\nsubscription_id = \"00000000-0000-0000-0000-000000000000\"\nresource_group = \"rg\"\nstop = \"shutdown\" #<\n",
			[]string{`stop = "shutdown" is not a way to stop the Azure VMs`, `"power-off"`, `"deallocate"`}, 0, false},
		{"a SAS duration too short",
			"[azure]\nsubscription_id = \"00000000-0000-0000-0000-000000000000\"\nresource_group = \"rg\"\nsas_duration = \"1m\" #<\n",
			[]string{`sas_duration = 1m is out of range`, `"5m" to "24h"`}, 0, false},
		{"storage with two auths",
			"[azure]\ncompute = \"lab\"\nlab_dir = \"l\"\n[azure.storage] #<\naccount_url = \"https://a.blob.core.windows.net\"\nsas = \"sig=x\"\nentra_id = true\n",
			[]string{`sets sas and entra_id: choose one way`}, 0, false},
		{"account key without url",
			"[azure]\ncompute = \"lab\"\nlab_dir = \"l\"\n[azure.storage] #<\naccount_key = \"k\"\n",
			[]string{`no account_url, which account_key needs`}, 0, false},
		{"plain http to a remote storage account",
			"[azure]\ncompute = \"lab\"\nlab_dir = \"l\"\n[azure.storage]\naccount_url = \"http://a.blob.core.windows.net\" #<\nentra_id = true\n",
			[]string{`is plain http`, "use https://"}, 0, false},
		{"duplicate host names",
			azureLab + siteDC + hostSSH + strings.Replace(hostSSH, `name = "hv01.example.com"`, `name = "HV01.example.com" #<`, 1),
			[]string{`host "HV01.example.com" is defined twice (first at line 12)`}, 0, false},
		{"duplicate VM names",
			azureLab + siteDC + hostSSH + vmWeb01 + strings.Replace(strings.Replace(vmWeb01, `name = "web01"`, `name = "web01" #<`, 1), "web01-os", "web01-b", 1),
			[]string{`VM "web01" is defined twice`}, 0, false},
		{"duplicate plan names",
			validDoc + strings.Replace(planWeb, `name = "web"`, `name = "web" #<`, 1),
			[]string{`plan "web" is defined twice`}, 0, false},
		{"duplicate site names",
			azureLab + siteDC + "[[site]]\nname = \"DC1\" #<\n",
			[]string{`site "DC1" is defined twice`}, 0, false},
		{"site named like the Azure side",
			azureLab + "[[site]]\nname = \"azure\" #<\n",
			[]string{`site "azure" has the name of the Azure side`}, 0, false},
		{"same blob for two disks",
			azureLab + siteDC + hostSSH + vmWeb01 + "[[vm.disk]]\nblob = \"vhds/web01-os.vhd\" #<\nimage = 'D:\\VMs\\web01-data.vhdx'\n",
			[]string{`blob "vhds/web01-os.vhd" is also the disk at line`}, 0, false},
		{"same image for two disks",
			azureLab + siteDC + hostSSH + vmWeb01 + "[[vm.disk]]\nblob = \"vhds/web01-data.vhd\"\nimage = 'd:\\vms\\WEB01.vhdx' #<\n",
			[]string{`is also the disk at line`}, 0, false},
		{"plan names a missing VM, with suggestion",
			azureLab + siteDC + hostSSH + vmWeb01 + "[[plan]]\nname = \"p\"\ngroups = [[\"web1\"]] #<\n",
			[]string{`plan "p" names VM "web1", which no [[vm]] defines`, `did you mean "web01"?`}, 12, false},
		{"plan names a VM in the wrong case",
			azureLab + siteDC + hostSSH + vmWeb01 + "[[plan]]\nname = \"p\"\ngroups = [\n  [\"WEB01\"], #<\n]\n",
			[]string{`names VM "WEB01"`, `did you mean "web01"? (names are matched exactly)`}, 4, false},
		{"plan names an unknown VM with no near name",
			azureLab + siteDC + hostSSH + vmWeb01 + "[[plan]]\nname = \"p\"\ngroups = [[\"web01\", \"exchange\"]] #<\n",
			[]string{`names VM "exchange"`, `add a [[vm]] with name = "exchange", or remove it from the plan`}, 21, false},
		{"VM names a missing host",
			azureLab + siteDC + hostSSH + strings.Replace(vmWeb01, `host = "hv01.example.com"`, `host = "hv1.example.com" #<`, 1),
			[]string{`VM "web01" is on host "hv1.example.com", which no [[host]] defines`, `did you mean "hv01.example.com"?`}, 0, false},
		{"host names a missing site",
			azureLab + siteDC + strings.Replace(hostSSH, `site = "dc1"`, `site = "dc2" #<`, 1),
			[]string{`host "hv01.example.com" is in site "dc2", which no [[site]] defines`, `did you mean "dc1"?`}, 0, false},
		{"bad size",
			validDoc + "[engine]\nblock_size = \"1 MBs\" #<\n",
			[]string{`block_size = "1 MBs" is not a size`, `"4G"`}, 1, false},
		{"block size not a power of two",
			validDoc + "[engine]\nblock_size = 1000 #<\n",
			[]string{`block_size = 1000 is not a power of two from 4.0 KiB to 32.0 MiB`, `"1M"`}, 0, false},
		{"block size a multiple of 4K but not a power of two, which the engine refuses",
			validDoc + "[engine]\nblock_size = \"3M\" #<\n",
			[]string{`block_size = 3M is not a power of two from 4.0 KiB to 32.0 MiB`}, 0, false},
		{"block size over the engine's 32 MiB",
			validDoc + "[engine]\nblock_size = \"64M\" #<\n",
			[]string{`block_size = 64M is not a power of two`}, 0, false},
		{"bad duration",
			validDoc + "[reverse]\ninterval = \"15 minutes\" #<\n",
			[]string{`interval = "15 minutes" is not a duration`}, 0, false},
		{"reverse interval too short",
			validDoc + "[reverse]\ninterval = 10 #<\n",
			[]string{`reverse.interval = 10s is shorter than a minute`}, 0, false},
		{"generation 2 with a VHD",
			azureLab + siteDC + hostSSH + strings.Replace(vmWeb01, `image = 'D:\VMs\web01.vhdx'`, `image = 'D:\VMs\web01.vhd' #<`, 1),
			[]string{`generation 2 VMs use VHDX disks only`, "Convert-VHD", "generation = 1"}, 0, false},
		{"generation 3",
			azureLab + siteDC + hostSSH + strings.Replace(vmWeb01, `generation = 2`, `generation = 3 #<`, 1),
			[]string{`generation = 3: Hyper-V VMs are generation 1 or 2`}, 0, false},
		{"threads zero",
			validDoc + "[engine]\nthreads = 0 #<\n",
			[]string{`threads = 0 is out of range`, "1 to 32"}, 0, false},
		{"threads above 32",
			validDoc + "[engine]\nthreads = 33 #<\n",
			[]string{`threads = 33 is out of range`}, 0, false},
		{"VM in two groups of a plan",
			validDoc + "[[plan]]\nname = \"p2\"\ngroups = [[\"web01\"],\n  [\"web01\"]] #<\n",
			[]string{`VM "web01" is in group 1 and group 2 of plan "p2"`}, 4, false},
		{"empty plan group",
			validDoc + "[[plan]]\nname = \"p2\"\ngroups = [[\"web01\"], []] #<\n",
			[]string{`group 2 of plan "p2" is empty`}, 22, false},
		{"plan without groups",
			validDoc + "[[plan]] #<\nname = \"p2\"\n",
			[]string{`plan "p2" has no groups`}, 0, false},
		{"image outside every path_map of an ssh host",
			azureLab + siteDC + hostShare + strings.Replace(vmWeb01, `image = 'D:\VMs\web01.vhdx'`, `image = 'E:\Other\web01.vhdx' #<`, 1),
			[]string{`image E:\Other\web01.vhdx is not under any path_map of host "hv01.example.com"`, `host = 'E:\Other'`}, 0, false},
		{"a data path that is not one",
			azureLab + siteDC + strings.Replace(hostSSH, `key_file = "id_ed25519"`, "key_file = \"id_ed25519\"\ndata_path = \"shared\" #<", 1) + vmWeb01,
			[]string{`data_path = "shared" is not a data path`, `"share"`}, 0, false},
		{"vm_folder outside every path_map",
			azureLab + siteDC + strings.Replace(hostShare, `key_file = "id_ed25519"`, "key_file = \"k\"\nvm_folder = 'F:\\New' #<", 1),
			[]string{`vm_folder F:\New is not under any path_map`}, 0, false},
		{"relative image path",
			azureLab + siteDC + hostSSH + strings.Replace(vmWeb01, `image = 'D:\VMs\web01.vhdx'`, `image = 'web01.vhdx' #<`, 1),
			[]string{`image "web01.vhdx" is not a full path on the host`}, 0, false},
		{"blob without container",
			azureLab + siteDC + hostSSH + strings.Replace(vmWeb01, `blob = "vhds/web01-os.vhd"`, `blob = "web01-os.vhd" #<`, 1),
			[]string{`blob "web01-os.vhd" names no container`, `"vhds/web01-os.vhd"`}, 0, false},
		{"bad container name",
			azureLab + siteDC + hostSSH + strings.Replace(vmWeb01, `blob = "vhds/web01-os.vhd"`, `blob = "VHDs/web01-os.vhd" #<`, 1),
			[]string{`"VHDs" is not a container name`}, 0, false},
		{"memory not a multiple of 2M",
			azureLab + siteDC + hostSSH + strings.Replace(vmWeb01, `generation = 2`, "generation = 2\nmemory = \"1001M\" #<", 1),
			[]string{`memory = 1001M is not a multiple of 2 MB`, "write 1002M"}, 0, false},
		{"VM without disks",
			azureLab + siteDC + hostSSH + "[[vm]] #<\nname = \"w\"\nhost = \"hv01.example.com\"\n",
			[]string{`VM "w" has no disks`}, 0, false},
		{"two VMs on one Azure VM",
			azureLab + siteDC + hostSSH + vmWeb01 + "[[vm]]\nname = \"w2\"\nazure_vm = \"WEB01\" #<\nhost = \"hv01.example.com\"\ndisk = [{ blob = \"vhds/w2.vhd\", image = 'D:\\VMs\\w2.vhdx' }]\n",
			[]string{`both name Azure VM "WEB01"`}, 0, false},
		{"agent without token",
			validDoc + "[agent] #<\nurl = \"https://agent.example.com:8443\"\ncert_file = \"a.pem\"\n",
			[]string{`[agent] has no token`}, 0, false},
		{"agent with a bad fingerprint",
			validDoc + "[agent]\nurl = \"https://agent.example.com:8443\"\ncert_fingerprint = \"abc\" #<\ntoken = \"t\"\n",
			[]string{`cert_fingerprint is not a SHA-256 fingerprint`}, 0, false},
		{"agent settings without url",
			validDoc + "[agent] #<\ntoken = \"t\"\n",
			[]string{`[agent] has settings but no url`}, 0, false},
		{"ssh listen not host:port",
			validDoc + "[ssh]\nlisten = \"2222\" #<\n",
			[]string{`ssh.listen = "2222" is not host:port`}, 0, false},
		{"secret given twice",
			azureLab + siteDC + strings.Replace(hostSSH, `key_file = "id_ed25519"`, "password = \"p\"\npassword_env = \"HOME\" #<", 1),
			[]string{`password and password_env are all set`, "keep only one of password, password_env and password_file"}, 0, false},
		{"ignored key for a local host is a warning",
			azureLab + siteDC + "[[host]]\nname = \"hv01\"\ntransport = \"local\"\naddress = \"hv01.example.com\" #<\n",
			[]string{`address is ignored`}, 0, true},
		{"PFX entry that is not a PFX",
			validDoc + "[[certificate]]\nfile = \"a.pem\" #<\n",
			[]string{`a.pem is not a PFX file`}, 0, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			line := markedLine(tc.text)
			if line == 0 {
				t.Fatal("case has no #< marker")
			}
			path := writeConfig(t, tc.text)
			c, err := Load(path)
			var ps Problems
			if err != nil {
				ps = err.(Problems)
			} else {
				ps = c.Warnings
			}
			p, ok := findProblem(ps, line, tc.want[0])
			if !ok {
				t.Fatalf("no problem at line %d containing %q; got:\n%v", line, tc.want[0], ps)
			}
			for _, w := range tc.want[1:] {
				if !strings.Contains(p.Error(), w) {
					t.Errorf("problem %q lacks %q", p.Error(), w)
				}
			}
			if p.Warning != tc.warn {
				t.Errorf("warning = %v, want %v: %s", p.Warning, tc.warn, p.Error())
			}
			if tc.warn && err != nil {
				t.Errorf("a warning alone must not fail Load: %v", err)
			}
			if tc.col != 0 && p.Col != tc.col {
				t.Errorf("column %d, want %d: %s", p.Col, tc.col, p.Error())
			}
			if !strings.HasPrefix(p.Error(), fmt.Sprintf("%s:%d:", path, line)) {
				t.Errorf("problem does not start with file:line: %s", p.Error())
			}
		})
	}
}

// TestUnknownTableReportedOnce proves keys under an unknown table or
// dotted key are not reported one by one.
func TestUnknownTableReportedOnce(t *testing.T) {
	ps, _ := loadProblems(t, validDoc+"[agnet]\nurl = 1\ntoken = 2\n[engine]\ncatch_upp.max_passes = 2\ncatch_upp.stop_below = 1\n")
	if len(ps) != 2 {
		t.Fatalf("want 2 problems (agnet, catch_upp), got:\n%v", ps)
	}
}

// TestAllProblemsAtOnce proves Load reports every problem in one go, in
// file order, not just the first.
func TestAllProblemsAtOnce(t *testing.T) {
	text := azureLab + siteDC +
		strings.Replace(hostSSH, `transport = "ssh"`, `transport = "shh"`, 1) +
		strings.Replace(vmWeb01, `generation = 2`, "generation = 2\ncolour = 1", 1) +
		"[[plan]]\nname = \"p\"\ngroups = [[\"nope\"]]\n[engine]\nthreads = 99\n"
	ps, _ := loadProblems(t, text)
	for _, want := range []string{`transport = "shh"`, `unknown key "colour"`, `names VM "nope"`, `threads = 99`} {
		found := false
		for _, p := range ps {
			if strings.Contains(p.Msg, want) {
				found = true
			}
		}
		if !found {
			t.Errorf("missing problem %q in:\n%v", want, ps)
		}
	}
	for i := 1; i < len(ps); i++ {
		if ps[i].Line < ps[i-1].Line {
			t.Errorf("problems not in file order: line %d after %d", ps[i].Line, ps[i-1].Line)
		}
	}
	if n := strings.Count(ps.Error(), "\n") + 1; n != len(ps) {
		t.Errorf("Error() has %d lines for %d problems", n, len(ps))
	}
}

// TestValidDocLoads proves the fragments the rule tests change are valid,
// so each rule test fails for its own reason only.
func TestValidDocLoads(t *testing.T) {
	c := loadOK(t, validDoc)
	if len(c.Warnings) != 0 {
		t.Errorf("warnings: %v", c.Warnings)
	}
	if c.VM("web01").AzureVM != "web01" {
		t.Errorf("azure_vm default = %q, want the VM name", c.VM("web01").AzureVM)
	}
}

// TestLocalHostNeedsNoPathMap proves the path_map coverage rule applies to
// ssh hosts only.
func TestLocalHostNeedsNoPathMap(t *testing.T) {
	text := azureLab + siteDC + "[[host]]\nname = \"hv01.example.com\"\ntransport = \"local\"\n" + vmWeb01
	loadOK(t, text)
}

// TestValidateInCode proves Validate works on a Config built in code, with
// schema paths where there is no file.
func TestValidateInCode(t *testing.T) {
	c := Default()
	c.Azure.Compute = ComputeLab
	c.Azure.LabDir = "/tmp/lab"
	c.Azure.Storage.ConnectionString = NewSecret("UseDevelopmentStorage=true")
	c.Plans = []Plan{{Name: "p", Groups: [][]string{{"ghost"}}}}
	err := c.Validate()
	ps, ok := err.(Problems)
	if !ok || len(ps) != 1 {
		t.Fatalf("Validate = %v, want one problem", err)
	}
	if got := ps[0].Error(); !strings.HasPrefix(got, "plan[0].groups[0][0]: ") {
		t.Errorf("problem = %q, want it to start with the schema path", got)
	}
}

// TestTestdata proves the shared fixtures are what they claim: minimal.toml
// loads clean, broken.toml has exactly its four problems.
func TestTestdata(t *testing.T) {
	c, err := Load("testdata/minimal.toml")
	if err != nil || len(c.Warnings) > 0 {
		t.Fatalf("minimal.toml: %v %v", err, c)
	}
	_, err = Load("testdata/broken.toml")
	ps, ok := err.(Problems)
	if !ok || len(ps) != 4 {
		t.Fatalf("broken.toml: want 4 problems, got %v", err)
	}
	for i, line := range []int{10, 16, 25, 30} {
		if ps[i].Line != line {
			t.Errorf("problem %d at line %d, want %d: %s", i, ps[i].Line, line, ps[i].Error())
		}
	}
}

// TestURLsCarryNoCredentials proves a SAS token or a password written into
// a URL is refused at its line and never printed.
func TestURLsCarryNoCredentials(t *testing.T) {
	for _, tc := range []struct{ table, line, want string }{
		{"[azure.storage]\nsas_env = \"X\"\n", `account_url = "https://a.blob.core.windows.net/?sv=2022-11-02&sig=TOPSIG" #<`, "sas_env or sas_file"},
		{"[azure.storage]\nentra_id = true\n", `account_url = "http://a.blob.core.windows.net/?sig=TOPSIG" #<`, "carries a query"},
		{"[azure.storage]\nentra_id = true\n", `account_url = "https://admin:TOPSIG@a.blob.core.windows.net" #<`, "carries a password"},
		{"[agent]\ntoken_env = \"X\"\ncert_file = \"a.pem\"\n", `url = "https://agent.example.com:8443/?token=TOPSIG" #<`, "carries a query"},
	} {
		t.Setenv("X", "sv=1&sig=x")
		text := "state_dir = \"s\"\n[azure]\ncompute = \"lab\"\nlab_dir = \"l\"\n" + tc.table + tc.line + "\n"
		ps, _ := loadProblems(t, text)
		if _, ok := findProblem(ps, markedLine(text), tc.want); !ok {
			t.Errorf("%s: no problem %q at its line:\n%v", tc.line, tc.want, ps)
		}
		if strings.Contains(ps.Error(), "TOPSIG") {
			t.Errorf("%s: the credential shows:\n%v", tc.line, ps)
		}
	}
	if got := safeURL("https://u:pw@h.example.com/p?sig=S"); strings.Contains(got, "pw") || strings.Contains(got, "S") && strings.Contains(got, "sig") {
		t.Errorf("safeURL = %q", got)
	}
}

// TestBlockSizeRuleIsTheEngines: config check takes exactly the block
// sizes the engine takes (the pre-flight applies the same function), so a
// file config check passes is never refused later for its block size.
func TestBlockSizeRuleIsTheEngines(t *testing.T) {
	dir := t.TempDir()
	open := func(name string) vdisk.Image {
		img, err := vdisk.Create(filepath.Join(dir, name), vdisk.CreateOptions{Format: vdisk.Raw, Size: 1 << 20})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { img.Close() })
		return img
	}
	src, dst := engine.ImageSource(open("src.raw")), engine.ImageTarget(open("dst.raw"))
	for _, bs := range []int64{512, 4 << 10, 12 << 10, 64 << 10, 1 << 20, 3 << 20, 32 << 20, 48 << 20, 64 << 20} {
		_, err := engine.Sync(context.Background(), src, dst, engine.Options{BlockSize: bs, Mode: engine.Full, NoJournal: true})
		if err != nil && !strings.Contains(err.Error(), "block size") {
			t.Fatalf("block size %d: %v", bs, err)
		}
		if refused := BlockSizeProblem(bs) != ""; refused != (err != nil) {
			t.Errorf("block size %d: config refuses it %v, the engine %v (%v)", bs, refused, err != nil, err)
		}
	}
}
