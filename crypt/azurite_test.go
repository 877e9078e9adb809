package crypt

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/pageblob"
	"github.com/failback/failback/engine"
	"github.com/failback/failback/internal/testenv"
)

// pageBlob is the smallest engine.Target over a real page blob, written
// with the SDK alone so this test does not depend on package azure: the
// virtual disk is [0, size), the footer follows it.
type pageBlob struct {
	pb   *pageblob.Client
	size int64
}

func (b *pageBlob) Size() int64 { return b.size }

func (b *pageBlob) ReadAt(ctx context.Context, p []byte, off int64) error {
	r, err := b.pb.DownloadStream(ctx, &blob.DownloadStreamOptions{Range: blob.HTTPRange{Offset: off, Count: int64(len(p))}})
	if err != nil {
		return err
	}
	defer r.Body.Close()
	_, err = io.ReadFull(r.Body, p)
	return err
}

func (b *pageBlob) WriteAt(ctx context.Context, p []byte, off int64) error {
	for len(p) > 0 {
		n := min(len(p), 4<<20)
		if _, err := b.pb.UploadPages(ctx, streaming.NopCloser(bytes.NewReader(p[:n])), blob.HTTPRange{Offset: off, Count: int64(n)}, nil); err != nil {
			return err
		}
		p, off = p[n:], off+int64(n)
	}
	return nil
}

func (b *pageBlob) WriteZeroes(ctx context.Context, off, n int64) error {
	_, err := b.pb.ClearPages(ctx, blob.HTTPRange{Offset: off, Count: n}, nil)
	return err
}

func (b *pageBlob) Allocated(ctx context.Context) ([]engine.Extent, error) {
	var out []engine.Extent
	pager := b.pb.NewGetPageRangesPager(nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, r := range page.PageRange {
			e := engine.Extent{Off: *r.Start, Len: *r.End - *r.Start + 1}
			if e.Off >= b.size {
				continue // the footer
			}
			if n := len(out); n > 0 && out[n-1].End() == e.Off {
				out[n-1].Len += e.Len
			} else {
				out = append(out, e)
			}
		}
	}
	return out, nil
}

func (b *pageBlob) Flush(context.Context) error { return nil }

// On a real page blob (Azurite): the encrypted disk round-trips, the stored
// bytes are ciphertext, zero plaintext leaves pages unallocated, the footer
// stays plain, and the metadata survives Azurite's capitalised names.
func TestEncryptedPageBlobOnAzurite(t *testing.T) {
	conn := testenv.AzuriteConnectionString(t)
	ctx := t.Context()
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	cname := "crypt" + hex.EncodeToString(rnd[:])
	cc, err := container.NewClientFromConnectionString(conn, cname, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cc.Create(ctx, nil); err != nil {
		t.Fatal(err)
	}
	const size = 4 << 20
	pb := cc.NewPageBlobClient("disk0.vhd")
	if _, err := pb.Create(ctx, size+512, nil); err != nil {
		t.Fatal(err)
	}
	disk := &pageBlob{pb: pb, size: size}
	footer := append([]byte("conectix"), bytes.Repeat([]byte{0x42}, 504)...)
	if _, err := pb.UploadPages(ctx, streaming.NopCloser(bytes.NewReader(footer)), blob.HTTPRange{Offset: size, Count: 512}, nil); err != nil {
		t.Fatal(err)
	}

	// Reverse replication: a new key for the certificate, metadata on the blob.
	f := newStoreFixture(t)
	store := NewStore(f.dir, f.opts)
	cert, err := store.Select(ctx, fixtureThumbprint, testNow, false)
	if err != nil {
		t.Fatal(err)
	}
	key, meta, err := cert.NewDisk()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pb.SetMetadata(ctx, meta.ToMetadata(), nil); err != nil {
		t.Fatal(err)
	}
	et := newEncTarget(t, disk, key)
	plain := make([]byte, size)
	copy(plain, bytes.Repeat([]byte("guest data "), size/11))
	clear(plain[1<<20 : 2<<20]) // a zero MiB in the middle
	if err := et.WriteAt(ctx, plain, 0); err != nil {
		t.Fatal(err)
	}

	// Failback: metadata as Azurite returns it, preflight, decrypt.
	props, err := pb.GetProperties(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	capitalised := false
	for k := range props.Metadata {
		capitalised = capitalised || strings.EqualFold(k, MetaVersion) && k != MetaVersion
	}
	got, err := ParseMeta(props.Metadata)
	if err != nil {
		t.Fatalf("metadata from Azurite (capitalised: %v): %v", capitalised, err)
	}
	u, err := CheckCertificate(ctx, store, Check{Thumbprint: got.Thumbprint, Disks: []Disk{{Name: "disk0", Meta: got}}, Now: testNow})
	if err != nil {
		t.Fatal(err)
	}
	defer u.Destroy()
	back := make([]byte, size)
	if err := newDecSource(t, disk, u.Keys["disk0"]).ReadAt(ctx, back, 0); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(back, plain) {
		t.Fatal("decrypted blob differs from the plaintext written")
	}
	raw := make([]byte, size+512)
	if err := (&pageBlob{pb: pb, size: size + 512}).ReadAt(ctx, raw, 0); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw[:size], []byte("guest data")) {
		t.Fatal("plaintext stored in the blob")
	}
	if !bytes.Equal(raw[size:], footer) {
		t.Fatal("the VHD footer changed")
	}
	ext, err := disk.Allocated(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ext {
		if e.Off < 2<<20 && e.End() > 1<<20 {
			t.Fatalf("zero MiB is allocated on the blob: %v", ext)
		}
	}
}
