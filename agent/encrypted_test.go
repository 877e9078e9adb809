package agent

import (
	"bytes"
	"context"
	"testing"

	"github.com/failback/failback/crypt"
	"github.com/failback/failback/engine"
	"github.com/failback/failback/engine/enginetest"
)

// An encrypted disk through the agent, as docs/AGENT.md describes it: the
// decrypting reader hides the agent's checksums (they would be of
// ciphertext), so the engine reads every allocated block through the
// agent and hashes plaintext on premises. Ciphertext does not compress,
// so the data crosses in full even though the plaintext is text; only
// the all-zero half (holes stay zero ciphertext) travels as markers.
func TestEncryptedDiskCrossesAsCiphertextExceptHoles(t *testing.T) {
	const size, bs = 8 * mib, mib
	ctx := context.Background()
	key, err := crypt.NewDataKey()
	if err != nil {
		t.Fatal(err)
	}
	line := []byte("plain text compresses well, ciphertext does not. ")
	plain := make([]byte, size)
	copy(plain, bytes.Repeat(line, 4*mib/len(line)+1)[:4*mib])
	cipher := enginetest.NewMemDisk(size, 0)
	enc, err := crypt.EncryptingTarget(cipher, key)
	if err != nil {
		t.Fatal(err)
	}
	if err := enc.WriteAt(ctx, plain[:4*mib], 0); err != nil {
		t.Fatal(err)
	}
	st := newStorage(t, nil)
	d := newDisk(t, st, size)
	d.put(t, cipher.Bytes(), 0) // the zero half as written (allocated) zero pages
	snap := d.snapshot(t)
	a := startAgent(t, newStorage(t, nil), ServerOptions{}, nil)
	src, err := NewSource(ctx, a.options(d, snap))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dec, err := crypt.DecryptingSource(src, key)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := dec.(engine.BlockHasher); ok {
		t.Fatal("the decrypting source exposes checksums of ciphertext")
	}
	old := bytes.Clone(plain)
	old[mib+5] ^= 1                          // one changed block of text
	copy(old[5*mib:], randomBytes(8, 2*mib)) // old data where the disk is now empty
	target := enginetest.NewMemDisk(size, 0)
	if err := target.WriteAt(ctx, old, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := engine.Sync(ctx, dec, target, engine.Options{BlockSize: bs, NoJournal: true}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(target.Bytes(), plain) {
		t.Fatal("target differs from the plaintext")
	}
	cs := src.Stats()
	t.Logf("%+v", cs)
	if cs.CheckedBytes != 0 {
		t.Errorf("the agent checksummed %d bytes of ciphertext for the engine", cs.CheckedBytes)
	}
	if cs.ZeroBytes != 4*mib || cs.PayloadBytes < 4*mib || cs.PayloadBytes > 4*mib+4*mib/100 {
		t.Errorf("zero %d, payload %d: want the zero half as markers and the ciphertext half in full", cs.ZeroBytes, cs.PayloadBytes)
	}
}
