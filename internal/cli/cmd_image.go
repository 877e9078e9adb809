package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/failback/failback/internal/units"
	"github.com/failback/failback/vdisk"
)

// newImageCommand is "failback image", the command table's entry (cli.go).
func newImageCommand() Command {
	return Command{Name: "image", Summary: "inspect, create, convert and compare disk images (vhdx, vhd, raw)", Run: runImage}
}

// Exit codes of 'image compare', which scripts test.
const (
	exitDiffer     = 1
	exitUnreadable = 3
)

var imageCommands = []Command{
	{Name: "info", Summary: "describe an image (format, sizes, allocation)", Run: runImageInfo},
	{Name: "create", Summary: "create an empty image", Run: runImageCreate},
	{Name: "convert", Summary: "copy an image into a new one of any format, keeping it sparse", Run: runImageConvert},
	{Name: "compare", Summary: "compare the virtual contents of two images", Run: runImageCompare},
}

func runImage(ctx context.Context, s Stdio, args []string) error {
	return dispatch(ctx, s, "image", args, imageCommands)
}

const imageInfoUsage = `image info FILE [--json] [--format vhdx|vhd|raw]

Shows the format, fixed or dynamic, virtual size, block size, sector
sizes, allocated bytes and file size. A .vhdx or .vhd FILE must be one
(a file that does not parse is refused as damaged, never read as raw
bytes); any other name is detected from the content. --format reads FILE
as that format instead (--format raw: its bytes as they are).
Exit status: 0 done, 1 the image cannot be read (or is damaged), 2 usage
error.`

func runImageInfo(ctx context.Context, s Stdio, args []string) error {
	fl := newFlags(s, "image info", imageInfoUsage)
	asJSON := fl.Bool("json", false, "print one JSON object")
	format := formatFlag(fl, "format", "FILE")
	pos, err := parse(fl, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("image info needs one FILE")
	}
	img, err := openImage(pos[0], *format, "--format", true)
	if err != nil {
		return err
	}
	defer img.Close()
	in := img.Info()
	if *asJSON {
		enc := json.NewEncoder(s.Out)
		enc.SetIndent("", "  ")
		return enc.Encode(in)
	}
	printInfo(s.Out, in)
	return nil
}

func printInfo(w io.Writer, in vdisk.Info) {
	kind := "dynamic"
	if in.Fixed {
		kind = "fixed"
	}
	if in.Format == vdisk.Raw {
		kind = "plain file"
	}
	if in.Parent != "" {
		kind = "differencing"
	}
	bytesText := func(n int64) string { return fmt.Sprintf("%s (%d bytes)", units.Bytes(n), n) }
	block := "none"
	if in.BlockSize > 0 {
		block = units.Bytes(in.BlockSize)
	}
	fmt.Fprintf(w, "file:          %s\n", in.Path)
	fmt.Fprintf(w, "format:        %s (%s)\n", in.Format, kind)
	fmt.Fprintf(w, "virtual size:  %s\n", bytesText(in.VirtualSize))
	fmt.Fprintf(w, "block size:    %s\n", block)
	fmt.Fprintf(w, "sectors:       %d logical, %d physical\n", in.LogicalSector, in.PhysicalSector)
	fmt.Fprintf(w, "allocated:     %s\n", bytesText(in.AllocatedBytes))
	fmt.Fprintf(w, "file size:     %s\n", bytesText(in.FileSize))
	if in.Parent != "" {
		fmt.Fprintf(w, "parent:        %s (read-only; allocated counts the chain)\n", in.Parent)
	}
}

const imageCreateUsage = `image create [--format vhdx|vhd|raw] [--fixed] [--block-size SIZE]
           [--logical-sector 512|4096] [--azure] SIZE FILE
       failback image create --size SIZE [flags] FILE

Creates an empty image of virtual size SIZE (bytes, or 512M, 10G, 1T:
1024-based). The format comes from --format, else from FILE's extension
(.vhdx, .vhd, .raw/.img/.bin). Dynamic unless --fixed. An existing FILE
is never overwritten. --azure makes a fixed VHD Azure accepts as a page
blob: the size must be a whole number of MiB, at most 8 TiB less 1 MiB.
Exit status: 0 created, 1 creation failed or the format refuses the size
or options (nothing is left behind), 2 usage error (a size that does not
parse, existing FILE, unknown format).`

func runImageCreate(ctx context.Context, s Stdio, args []string) error {
	fl := newFlags(s, "image create", imageCreateUsage)
	format := fl.String("format", "", "image `FORMAT`: vhdx, vhd or raw (default: from FILE's extension)")
	fixed := fl.Bool("fixed", false, "preallocate the whole disk (VHDX, VHD)")
	bsText := fl.String("block-size", "", "allocation block `SIZE` (VHDX 1M..256M, default 32M; VHD default 2M)")
	logical := fl.Int("logical-sector", 0, "logical sector `BYTES`: 512 or 4096 (VHDX only; default 512)")
	physical := fl.Int("physical-sector", 0, "physical sector `BYTES`: 512 or 4096 (VHDX only; default 4096)")
	azure := fl.Bool("azure", false, "refuse what Azure would refuse (implies a fixed VHD)")
	sizeFlag := fl.String("size", "", "virtual `SIZE` (instead of the SIZE argument)")
	pos, err := parse(fl, args)
	if err != nil {
		return err
	}
	var sizeText, path string
	switch {
	case *sizeFlag != "" && len(pos) == 1:
		sizeText, path = *sizeFlag, pos[0]
	case *sizeFlag == "" && len(pos) == 2:
		sizeText, path = pos[0], pos[1]
	default:
		return usagef("image create needs SIZE and FILE (or --size SIZE and FILE)")
	}
	o := vdisk.CreateOptions{Fixed: *fixed || *azure, LogicalSector: *logical, PhysicalSector: *physical, AzureCompatible: *azure}
	if o.Size, err = parseSize(sizeText); err != nil {
		return usagef("SIZE: %v", err)
	}
	if *bsText != "" {
		if o.BlockSize, err = parseSize(*bsText); err != nil {
			return usagef("--block-size: %v", err)
		}
	}
	if o.Format, err = imageFormat(*format, path); err != nil {
		return err
	}
	if *azure && o.Format != vdisk.VHD {
		return usagef("--azure makes a fixed VHD; use --format vhd or a .vhd name")
	}
	if err := refuseExisting(path); err != nil {
		return err
	}
	img, err := vdisk.Create(path, o)
	if err != nil {
		return err
	}
	in := img.Info()
	if err := img.Close(); err != nil {
		os.Remove(path)
		return fmt.Errorf("create %s: %w", path, err)
	}
	kind := "dynamic"
	if in.Fixed {
		kind = "fixed"
	}
	if in.Format == vdisk.Raw {
		kind = "sparse"
	}
	fmt.Fprintf(s.Out, "created %s: %s %s, %s virtual\n", path, kind, in.Format, units.Bytes(in.VirtualSize))
	return nil
}

// imageFormat picks the format from the flag, else from the extension.
func imageFormat(flagValue, path string) (vdisk.Format, error) {
	if flagValue != "" {
		switch f := vdisk.Format(strings.ToLower(flagValue)); f {
		case vdisk.VHDX, vdisk.VHD, vdisk.Raw:
			return f, nil
		}
		return "", usagef("--format %q: use vhdx, vhd or raw", flagValue)
	}
	f, err := vdisk.FormatFromPath(path)
	if err != nil {
		return "", usagef("%v", err)
	}
	return f, nil
}

func refuseExisting(path string) error {
	if _, err := os.Lstat(path); err == nil {
		return usagef("%s already exists; remove it or choose another name (images are never overwritten)", path)
	}
	return nil
}

const imageConvertUsage = `image convert [--format vhdx|vhd|raw] [--fixed] [--block-size SIZE]
           [--azure] [--quiet] [--src-format vhdx|vhd|raw] SRC DST

Copies the virtual contents of SRC (any format: by its .vhdx or .vhd
name, else detected; --src-format forces one) into a new
image DST, whose format comes from --format or DST's extension. Only
SRC's allocated ranges are read and all-zero stretches are not written,
so a sparse SRC gives a sparse DST. DST must not exist; if the
conversion fails or is interrupted, DST is removed. Progress goes to
stderr when it is a terminal.
Exit status: 0 converted, 1 failed (DST removed), 2 usage error.`

func runImageConvert(ctx context.Context, s Stdio, args []string) error {
	fl := newFlags(s, "image convert", imageConvertUsage)
	format := fl.String("format", "", "`FORMAT` of DST: vhdx, vhd or raw (default: from DST's extension)")
	fixed := fl.Bool("fixed", false, "make DST fixed (VHDX, VHD)")
	bsText := fl.String("block-size", "", "block `SIZE` of a dynamic DST")
	azure := fl.Bool("azure", false, "make DST an Azure-compatible fixed VHD")
	quiet := fl.Bool("quiet", false, "no progress")
	srcFormat := formatFlag(fl, "src-format", "SRC")
	pos, err := parse(fl, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return usagef("image convert needs SRC and DST")
	}
	srcPath, dstPath := pos[0], pos[1]
	o := vdisk.CreateOptions{Fixed: *fixed || *azure, AzureCompatible: *azure}
	if o.Format, err = imageFormat(*format, dstPath); err != nil {
		return err
	}
	if *bsText != "" {
		if o.BlockSize, err = parseSize(*bsText); err != nil {
			return usagef("--block-size: %v", err)
		}
	}
	if *azure && o.Format != vdisk.VHD {
		return usagef("--azure makes a fixed VHD; use --format vhd or a .vhd name for DST")
	}
	if err := refuseExisting(dstPath); err != nil {
		return err
	}
	src, err := openImage(srcPath, *srcFormat, "--src-format", true)
	if err != nil {
		return err
	}
	defer src.Close()
	o.Size = src.Size()
	if o.Format != vdisk.Raw && o.Size%512 != 0 {
		up := (o.Size/512 + 1) * 512
		return fmt.Errorf("%s is %d bytes, not whole 512-byte sectors, so a %s cannot hold it exactly: convert it to a raw image, or pad it first (truncate -s %d %s) and convert again", srcPath, o.Size, o.Format, up, srcPath)
	}
	if o.Format == vdisk.VHDX {
		si := src.Info()
		if si.LogicalSector == 4096 {
			o.LogicalSector = 4096
		}
		if si.Format == vdisk.VHDX {
			o.PhysicalSector = si.PhysicalSector
		}
	}
	dst, err := vdisk.Create(dstPath, o)
	if err != nil {
		return err
	}
	pr := &convertProgress{w: s.Err, on: !*quiet && isTerminal(s.Err)}
	err = vdisk.Copy(ctx, dst, src, pr.update)
	pr.done()
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(dstPath)
		if ctx.Err() != nil {
			return fmt.Errorf("conversion interrupted; removed the partial %s", dstPath)
		}
		return fmt.Errorf("convert %s to %s failed; removed the partial %s: %w", srcPath, dstPath, dstPath, err)
	}
	fmt.Fprintf(s.Out, "converted %s (%s) to %s (%s): %s virtual, %s copied\n",
		srcPath, src.Info().Format, dstPath, o.Format, units.Bytes(o.Size), units.Bytes(pr.last))
	return nil
}

// convertProgress prints at most four updates a second on a terminal.
type convertProgress struct {
	w     io.Writer
	on    bool
	at    time.Time
	last  int64
	shown bool
}

func (p *convertProgress) update(done, total int64) {
	p.last = done
	if !p.on || time.Since(p.at) < 250*time.Millisecond {
		return
	}
	p.at = time.Now()
	pct := 100.0
	if total > 0 {
		pct = float64(done) * 100 / float64(total)
	}
	fmt.Fprintf(p.w, "\rconverting: %5.1f%% (%s of %s allocated)   ", pct, units.Bytes(done), units.Bytes(total))
	p.shown = true
}

func (p *convertProgress) done() {
	if p.shown {
		fmt.Fprintln(p.w)
	}
}

const imageCompareUsage = `image compare [--format-a vhdx|vhd|raw] [--format-b vhdx|vhd|raw] A B

Compares the virtual contents of two images of any formats (what a guest
would read), skipping ranges both report unallocated. Formats go by a
.vhdx or .vhd name, else by the content; --format-a and --format-b force
one (a damaged VHDX is read as raw bytes only with --format-a raw).
Exit status: 0 identical (prints "identical"), 1 different (prints
"differ at offset N"; images of different sizes differ at the end of
the shorter one), 2 usage error, 3 an image cannot be opened or read
(or the comparison was interrupted).`

func runImageCompare(ctx context.Context, s Stdio, args []string) error {
	fl := newFlags(s, "image compare", imageCompareUsage)
	formats := [2]*string{formatFlag(fl, "format-a", "A"), formatFlag(fl, "format-b", "B")}
	pos, err := parse(fl, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return usagef("image compare needs two images")
	}
	var imgs [2]vdisk.Image
	for i, p := range pos {
		img, err := openImage(p, *formats[i], "--format-"+string(rune('a'+i)), true)
		if err != nil {
			return &ExitError{Code: exitUnreadable, Err: err}
		}
		defer img.Close()
		imgs[i] = img
	}
	equal, at, err := vdisk.Compare(ctx, imgs[0], imgs[1])
	if err != nil {
		return &ExitError{Code: exitUnreadable, Err: err}
	}
	if equal {
		fmt.Fprintln(s.Out, "identical")
		return nil
	}
	msg := fmt.Sprintf("differ at offset %d", at)
	if a, b := imgs[0].Size(), imgs[1].Size(); a != b {
		msg += fmt.Sprintf(" (sizes differ: %s is %d bytes, %s is %d bytes)", pos[0], a, pos[1], b)
	}
	fmt.Fprintln(s.Out, msg)
	return &ExitError{Code: exitDiffer}
}

// formatFlag defines a flag that forces the format an image is read as.
func formatFlag(fl *flag.FlagSet, name, what string) *string {
	return fl.String(name, "", "read "+what+" as `FORMAT` vhdx, vhd or raw (default: by a .vhdx/.vhd name, else the content)")
}

// openImage opens an existing image, as format when a flag forces one.
// A damaged VHDX or VHD says which flag reads its bytes anyway.
func openImage(path, format, flagName string, readOnly bool) (vdisk.Image, error) {
	o := vdisk.OpenOptions{ReadOnly: readOnly}
	if format != "" {
		switch f := vdisk.Format(strings.ToLower(format)); f {
		case vdisk.VHDX, vdisk.VHD, vdisk.Raw:
			o.Format = f
		default:
			return nil, usagef("%s %q: use vhdx, vhd or raw", flagName, format)
		}
	}
	img, err := vdisk.Open(path, o)
	if readOnly && errors.Is(err, vdisk.ErrDifferencing) {
		// Reading a differencing disk means reading its chain: the child
		// over its parent, both read-only.
		img, err = vdisk.OpenChain(path, vdisk.ChainOptions{ReadOnly: true})
	}
	var de *vdisk.DamagedError
	if errors.As(err, &de) {
		return nil, fmt.Errorf("%w; to treat it as raw bytes anyway pass %s raw", err, flagName)
	}
	return img, err
}
