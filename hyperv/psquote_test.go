package hyperv

import (
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"
)

var hostileNames = []string{
	"web01",
	"",
	"it's",
	"''",
	"'; Remove-Item -Recurse C:\\ ; '",
	"$(Stop-Computer -Force)",
	"${env:USERNAME}",
	"`'; calc; `'",
	"back`tick`n",
	"\"double\" \"quotes\"",
	"with spaces  and\ttabs",
	"line\nbreak'\n$x = 1",
	"smart \u2018quote\u2019 here",
	"\u2019; Stop-Computer; \u2018",
	"\u201a\u201b'\u2019\u2018",
	"nul\x00inside",
	"[wild]*card?",
	"trailing quote'",
	"ünïcødé 名前 😀",
}

// TestPSQuoteRoundTrips proves that no name can break out of its literal:
// PowerShell's own rule (as psUnquote implements it) gives back exactly
// the name, and the line ends right after the closing quote.
func TestPSQuoteRoundTrips(t *testing.T) {
	check := func(s string) {
		t.Helper()
		line := "$Name = " + psQuote(s) + "\n"
		got, rest, err := psUnquote(strings.TrimPrefix(line, "$Name = "))
		want := strings.ReplaceAll(s, "\x00", "")
		if err != nil || got != want || rest != "\n" {
			t.Fatalf("psQuote(%q) = %s: decoded %q, rest %q, err %v", s, psQuote(s), got, rest, err)
		}
	}
	for _, s := range hostileNames {
		check(s)
	}
	alphabet := []rune("a '\u2018\u2019\u201a\u201b$`\"\n;(){}@#")
	rng := rand.New(rand.NewPCG(1, 2))
	for range 5000 {
		r := make([]rune, rng.IntN(12))
		for i := range r {
			r[i] = alphabet[rng.IntN(len(alphabet))]
		}
		check(string(r))
	}
}

// TestPSUnquoteRejectsBreakout makes sure the checker itself would notice a
// naive quoting: a name with a quote, wrapped without doubling, ends early.
func TestPSUnquoteRejectsBreakout(t *testing.T) {
	naive := "'" + "x'; Stop-Computer; '" + "'"
	got, rest, err := psUnquote(naive)
	if err != nil || got == "x'; Stop-Computer; '" || rest == "" {
		t.Fatalf("the decoder did not expose the breakout: %q %q %v", got, rest, err)
	}
	naive = "'" + "x\u2019; Stop-Computer; \u2018" + "'"
	if got, _, _ := psUnquote(naive); got == "x\u2019; Stop-Computer; \u2018" {
		t.Fatal("typographic quotes must end a literal too")
	}
}

func FuzzPSQuote(f *testing.F) {
	for _, s := range hostileNames {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			t.Skip() // psQuote's callers hold Go strings from config and JSON: valid UTF-8
		}
		got, rest, err := psUnquote(psQuote(s))
		if err != nil || rest != "" || got != strings.ReplaceAll(s, "\x00", "") {
			t.Fatalf("%q: got %q rest %q err %v", s, got, rest, err)
		}
	})
}

// TestScriptArgumentsParse proves the whole argument block of a generated
// script reads back as the values given, whatever they contain.
func TestScriptArgumentsParse(t *testing.T) {
	for _, name := range hostileNames {
		name = strings.ReplaceAll(name, "\x00", "")
		spec := VMSpec{Name: name, SwitchName: name + "-sw", Disks: []DiskSpec{{
			HostPath: `E:\VMs\` + name + `.vhdx`, VirtualSize: 1 << 30, Controller: Controller{Type: SCSI, Location: 3},
		}}}
		script := buildScript("create-vm", []psParam{
			strParam("Name", spec.Name), strParam("SwitchName", spec.SwitchName),
			intParam("MemoryStartupBytes", 1<<32), boolParam("DynamicMemory", true),
			{Name: "Disks", Value: psDisks(spec.Disks)},
		})
		op, args, err := parseScript(script)
		if err != nil {
			t.Fatalf("%q: %v", name, err)
		}
		disks := args["Disks"].([]map[string]any)
		if op != "create-vm" || args["Name"] != name || args["SwitchName"] != name+"-sw" ||
			args["MemoryStartupBytes"] != int64(1<<32) || args["DynamicMemory"] != true ||
			len(disks) != 1 || disks[0]["Path"] != `E:\VMs\`+name+`.vhdx` || disks[0]["ControllerLocation"] != int64(3) {
			t.Fatalf("%q: parsed %q %#v", name, op, args)
		}
	}
}

func TestEncodedCommandRoundTrips(t *testing.T) {
	for _, s := range append(hostileNames, buildScript("get-vm", []psParam{strParam("Name", "web01")})) {
		got, err := decodeCommand(encodeCommand(s))
		if err != nil || got != s {
			t.Fatalf("%q: got %q, %v", s, got, err)
		}
	}
	// The known encoding of "dir" (UTF-16LE "d\0i\0r\0").
	if got := encodeCommand("dir"); got != "ZABpAHIA" {
		t.Fatalf("encodeCommand(dir) = %s", got)
	}
}

// TestLongScriptsGoThroughStdin: cmd.exe refuses command lines over 8191
// characters, so long scripts must not be put on it.
func TestLongScriptsGoThroughStdin(t *testing.T) {
	short := "Write-Output 1"
	inv := buildInvocation("powershell", short, maxSSHCommandLine)
	if inv.Stdin != nil {
		t.Fatal("a short script should be on the command line")
	}
	long := buildScript("create-vm", []psParam{strParam("Name", strings.Repeat("x", 5000))})
	inv = buildInvocation("powershell", long, maxSSHCommandLine)
	cmdline := "powershell " + strings.Join(inv.Args, " ")
	if inv.Stdin == nil || len(cmdline) > 8191 {
		t.Fatalf("long script: command line %d chars, stdin %d bytes", len(cmdline), len(inv.Stdin))
	}
	got, err := scriptFromInvocation(cmdline, inv.Stdin)
	if err != nil || got != long {
		t.Fatalf("the script did not survive the stdin route: %v", err)
	}
	got, err = scriptFromInvocation("powershell "+strings.Join(buildInvocation("powershell", short, maxSSHCommandLine).Args, " "), nil)
	if err != nil || got != short {
		t.Fatalf("short route: %q %v", got, err)
	}
}
