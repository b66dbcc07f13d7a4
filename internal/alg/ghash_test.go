package alg

import (
	"bytes"
	"testing"
)

// TestGHASH checks the constant-time GHASH against test case 2 of the
// McGrew/Viega GCM specification (H = E(0^128) under the zero key).
func TestGHASH(t *testing.T) {
	var h [16]byte
	copy(h[:], mustHex("66e94bd4ef8a2c3b884cfa59ca342b2e"))
	k := newGHASHKey(&h)
	g := ghash{k: &k}
	g.write(mustHex("0388dace60b6a392f328c2b971b2fe78"))
	var out [16]byte
	g.lengths(0, 16, &out)
	if want := mustHex("f38cbb1ad69223dcc3457ae5b6b0f885"); !bytes.Equal(out[:], want) {
		t.Fatalf("GHASH = %x, want %x", out, want)
	}
}
