package crypt

import (
	"bytes"
	"crypto/aes"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"math/big"
	mrand "math/rand/v2"
	"os"
	"testing"

	"golang.org/x/crypto/xts"
)

// ieeeVectors are XTS-AES-256 vectors 10, 11 and 14 of IEEE Std 1619-2007,
// Annex B: 512-byte data units, Key1 || Key2, and the data unit sequence
// number as the standard writes it (a number, encoded little-endian into the
// 128-bit tweak input).
var ieeeVectors = []struct {
	name string
	key  string
	dusn uint64
	ct   string
}{
	{"vector 10", ieeeKey, 0xff, "1c3b3a102f770386e4836c99e370cf9bea00803f5e482357a4ae12d414a3e63b5d31e276f8fe4a8d66b317f9ac683f44680a86ac35adfc3345befecb4bb188fd5776926c49a3095eb108fd1098baec70aaa66999a72a82f27d848b21d4a741b0c5cd4d5fff9dac89aeba122961d03a757123e9870f8acf1000020887891429ca2a3e7a7d7df7b10355165c8b9a6d0a7de8b062c4500dc4cd120c0f7418dae3d0b5781c34803fa75421c790dfe1de1834f280d7667b327f6c8cd7557e12ac3a0f93ec05c52e0493ef31a12d3d9260f79a289d6a379bc70c50841473d1a8cc81ec583e9645e07b8d9670655ba5bbcfecc6dc3966380ad8fecb17b6ba02469a020a84e18e8f84252070c13e9f1f289be54fbc481457778f616015e1327a02b140f1505eb309326d68378f8374595c849d84f4c333ec4423885143cb47bd71c5edae9be69a2ffeceb1bec9de244fbe15992b11b77c040f12bd8f6a975a44a0f90c29a9abc3d4d893927284c58754cce294529f8614dcd2aba991925fedc4ae74ffac6e333b93eb4aff0479da9a410e4450e0dd7ae4c6e2910900575da401fc07059f645e8b7e9bfdef33943054ff84011493c27b3429eaedb4ed5376441a77ed43851ad77f16f541dfd269d50d6a5f14fb0aab1cbb4c1550be97f7ab4066193c4caa773dad38014bd2092fa755c824bb5e54c4f36ffda9fcea70b9c6e693e148c151"},
	{"vector 11", ieeeKey, 0xffff, "77a31251618a15e6b92d1d66dffe7b50b50bad552305ba0217a610688eff7e11e1d0225438e093242d6db274fde801d4cae06f2092c728b2478559df58e837c2469ee4a4fa794e4bbc7f39bc026e3cb72c33b0888f25b4acf56a2a9804f1ce6d3d6e1dc6ca181d4b546179d55544aa7760c40d06741539c7e3cd9d2f6650b2013fd0eeb8c2b8e3d8d240ccae2d4c98320a7442e1c8d75a42d6e6cfa4c2eca1798d158c7aecdf82490f24bb9b38e108bcda12c3faf9a21141c3613b58367f922aaa26cd22f23d708dae699ad7cb40a8ad0b6e2784973dcb605684c08b8d6998c69aac049921871ebb65301a4619ca80ecb485a31d744223ce8ddc2394828d6a80470c092f5ba413c3378fa6054255c6f9df4495862bbb3287681f931b687c888abf844dfc8fc28331e579928cd12bd2390ae123cf03818d14dedde5c0c24c8ab018bfca75ca096f2d531f3d1619e785f1ada437cab92e980558b3dce1474afb75bfedbf8ff54cb2618e0244c9ac0d3c66fb51598cd2db11f9be39791abe447c63094f7c453b7ff87cb5bb36b7c79efb0872d17058b83b15ab0866ad8a58656c5a7e20dbdf308b2461d97c0ec0024a2715055249cf3b478ddd4740de654f75ca686e0d7345c69ed50cdc2a8b332b1f8824108ac937eb050585608ee734097fc09054fbff89eeaeea791f4a7ab1f9868294a4f9e27b42af8100cb9d59cef9645803"},
	{"vector 14", ieeeKey, 0xffffffffff, "64497e5a831e4a932c09be3e5393376daa599548b816031d224bbf50a818ed2350eae7e96087c8a0db51ad290bd00c1ac1620857635bf246c176ab463be30b808da548081ac847b158e1264be25bb0910bbc92647108089415d45fab1b3d2604e8a8eff1ae4020cfa39936b66827b23f371b92200be90251e6d73c5f86de5fd4a950781933d79a28272b782a2ec313efdfcc0628f43d744c2dc2ff3dcb66999b50c7ca895b0c64791eeaa5f29499fb1c026f84ce5b5c72ba1083cddb5ce45434631665c333b60b11593fb253c5179a2c8db813782a004856a1653011e93fb6d876c18366dd8683f53412c0c180f9c848592d593f8609ca736317d356e13e2bff3a9f59cd9aeb19cd482593d8c46128bb32423b37a9adfb482b99453fbe25a41bf6feb4aa0bef5ed24bf73c762978025482c13115e4015aac992e5613a3b5c2f685b84795cb6e9b2656d8c88157e52c42f978d8634c43d06fea928f2822e465aa6576e9bf419384506cc3ce3c54ac1a6f67dc66f3b30191e698380bc999b05abce19dc0c6dcc2dd001ec535ba18deb2df1a101023108318c75dc98611a09dc48a0acdec676fabdf222f07e026f059b672b56e5cbc8e1d21bbd867dd927212054681d70ea737134cdfce93b6f82ae22423274e58a0821cc5502e2d0ab4585e94de6975be5e0b4efce51cd3e70c25a1fbbbd609d273ad5b0d59631c531f6a0a57b9"},
}

const ieeeKey = "2718281828459045235360287471352662497757247093699959574966967627" +
	"3141592653589793238462643383279502884197169399375105820974944592"

// ieeePlain is the plaintext of vectors 10-14: bytes 00..ff twice.
func ieeePlain() []byte {
	p := make([]byte, 512)
	for i := range p {
		p[i] = byte(i)
	}
	return p
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func testCipher(t testing.TB, key []byte) *unitCipher {
	t.Helper()
	c, err := newUnitCipher(newDataKey(key))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// The unit cipher and x/crypto/xts both reproduce the IEEE 1619 vectors,
// with the data unit sequence number passed as the unit index.
func TestXTSMatchesIEEE1619Vectors(t *testing.T) {
	for _, v := range ieeeVectors {
		key, want := mustHex(t, v.key), mustHex(t, v.ct)
		c := testCipher(t, key)
		got := make([]byte, 512)
		c.encrypt(got, ieeePlain(), v.dusn)
		if !bytes.Equal(got, want) {
			t.Errorf("%s: unit cipher gives %x...", v.name, got[:16])
		}
		ref, err := xts.NewCipher(aes.NewCipher, key)
		if err != nil {
			t.Fatal(err)
		}
		ref.Encrypt(got, ieeePlain(), v.dusn)
		if !bytes.Equal(got, want) {
			t.Errorf("%s: x/crypto/xts gives %x...", v.name, got[:16])
		}
		c.decrypt(got, want, v.dusn)
		if !bytes.Equal(got, ieeePlain()) {
			t.Errorf("%s: decrypt does not invert", v.name)
		}
	}
}

// referenceXTS is XTS written from IEEE 1619 section 5 with math/big, slow
// and obvious: T = AES-K2(i) * alpha^j, where the 16-byte tweak input is the
// data unit number i little-endian and the GF(2^128) element is the
// little-endian integer of the 16 bytes.
func referenceXTS(key []byte, unit uint64, p []byte) []byte {
	k1, _ := aes.NewCipher(key[:32])
	k2, _ := aes.NewCipher(key[32:])
	var in [16]byte
	binary.LittleEndian.PutUint64(in[:], unit)
	k2.Encrypt(in[:], in[:])
	le := func(b []byte) *big.Int { // little-endian bytes -> integer
		r := make([]byte, 16)
		for i := range r {
			r[i] = b[15-i]
		}
		return new(big.Int).SetBytes(r)
	}
	toLE := func(x *big.Int) []byte {
		r := make([]byte, 16)
		b := x.FillBytes(make([]byte, 16))
		for i := range r {
			r[i] = b[15-i]
		}
		return r
	}
	poly := new(big.Int).Or(new(big.Int).Lsh(big.NewInt(1), 128), big.NewInt(0x87))
	t := le(in[:])
	out := make([]byte, len(p))
	for j := 0; j < len(p); j += 16 {
		tb := toLE(t)
		var x [16]byte
		for i := range x {
			x[i] = p[j+i] ^ tb[i]
		}
		k1.Encrypt(x[:], x[:])
		for i := range x {
			out[j+i] = x[i] ^ tb[i]
		}
		t.Lsh(t, 1)
		if t.Bit(128) == 1 {
			t.Xor(t, poly)
		}
	}
	return out
}

// A whole 4 KiB unit at a large index: the unit cipher equals the reference
// written from the standard (checked itself against vector 14, whose number
// spans five bytes), x/crypto/xts, and a fixture made by OpenSSL's XTS
// through Python's cryptography package (testdata/README.md).
func TestUnitTweakIsLittleEndianUnitIndex(t *testing.T) {
	key := make([]byte, 64)
	for i := range key {
		key[i] = byte(i)
	}
	if got := referenceXTS(mustHex(t, ieeeKey), 0xffffffffff, ieeePlain()); !bytes.Equal(got, mustHex(t, ieeeVectors[2].ct)) {
		t.Fatal("the reference does not reproduce IEEE vector 14")
	}
	p := make([]byte, UnitSize)
	for i := range p {
		p[i] = byte(i*7 + 3)
	}
	const unit = 0x0123456789
	got := make([]byte, UnitSize)
	testCipher(t, key).encrypt(got, p, unit)
	if want := referenceXTS(key, unit, p); !bytes.Equal(got, want) {
		t.Fatal("unit cipher differs from the reference on a 4 KiB unit")
	}
	want, err := os.ReadFile("testdata/xts-unit-0123456789.bin")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("unit cipher differs from OpenSSL's XTS on a 4 KiB unit")
	}
	// The unit at byte offset off has tweak off/UnitSize: the engine-level
	// path (encryptUnits at that offset) gives the same bytes.
	buf := append([]byte(nil), p...)
	testCipher(t, key).encryptUnits(buf, unit*UnitSize, nil)
	if !bytes.Equal(buf, want) {
		t.Fatal("encryptUnits at offset unit*4096 does not use tweak = unit")
	}
}

// Random keys, unit numbers and lengths: identical to x/crypto/xts.
func TestUnitCipherMatchesXCryptoXTS(t *testing.T) {
	r := mrand.New(mrand.NewPCG(1, 2))
	for i := 0; i < 200; i++ {
		key := make([]byte, 64)
		rand.Read(key)
		n := 16 * (1 + r.IntN(UnitSize/16))
		p := make([]byte, n)
		rand.Read(p)
		unit := r.Uint64()
		ref, _ := xts.NewCipher(aes.NewCipher, key)
		want := make([]byte, n)
		ref.Encrypt(want, p, unit)
		got := make([]byte, n)
		c := testCipher(t, key)
		c.encrypt(got, p, unit)
		if !bytes.Equal(got, want) {
			t.Fatalf("case %d (n=%d unit=%#x): differs from x/crypto/xts", i, n, unit)
		}
		c.decrypt(got, got, unit)
		if !bytes.Equal(got, p) {
			t.Fatalf("case %d: in-place decrypt does not invert", i)
		}
	}
}

// Unit numbers at the edges of 32 and 64 bits, whole units and short last
// units (a disk's last unit may be any multiple of 512 bytes): identical to
// x/crypto/xts, both ways.
func TestUnitCipherMatchesXCryptoXTSAtEdgeUnits(t *testing.T) {
	key := make([]byte, 64)
	rand.Read(key)
	ref, err := xts.NewCipher(aes.NewCipher, key)
	if err != nil {
		t.Fatal(err)
	}
	c := testCipher(t, key)
	p := make([]byte, UnitSize)
	rand.Read(p)
	for _, unit := range []uint64{0, 1, 2, 1<<31 - 1, 1 << 31, 1<<32 - 1, 1 << 32, 1<<32 + 1, 1 << 63, 1<<64 - 1} {
		for _, n := range []int{16, 512, 1536, UnitSize - 512, UnitSize} {
			want := make([]byte, n)
			ref.Encrypt(want, p[:n], unit)
			got := make([]byte, n)
			c.encrypt(got, p[:n], unit)
			if !bytes.Equal(got, want) {
				t.Fatalf("unit %#x, %d bytes: differs from x/crypto/xts", unit, n)
			}
			c.decrypt(got, got, unit)
			if !bytes.Equal(got, p[:n]) {
				t.Fatalf("unit %#x, %d bytes: decrypt does not invert", unit, n)
			}
		}
	}
}
