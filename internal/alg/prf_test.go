package alg

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/goipsec/ipsec/proposal"
)

var prfByName = map[string]proposal.PRFID{
	"PRF_HMAC_MD5":      proposal.PRFHMACMD5,
	"PRF_HMAC_SHA1":     proposal.PRFHMACSHA1,
	"PRF_HMAC_SHA2_256": proposal.PRFHMACSHA2256,
	"PRF_HMAC_SHA2_384": proposal.PRFHMACSHA2384,
	"PRF_HMAC_SHA2_512": proposal.PRFHMACSHA2512,
	"PRF_AES128_XCBC":   proposal.PRFAES128XCBC,
	"PRF_AES128_CMAC":   proposal.PRFAES128CMAC,
}

func TestPRFVectors(t *testing.T) {
	files := []string{"hmac_md5_rfc2202.json", "hmac_sha1_rfc2202.json", "hmac_sha2_rfc4868.json", "aes_xcbc_rfc3566_rfc4434.json", "aes_cmac_rfc4493_rfc4494_rfc4615.json"}
	n := 0
	for _, file := range files {
		for _, v := range loadVectors(t, file) {
			if !strings.HasPrefix(v.str("alg"), "PRF_") {
				continue
			}
			n++
			t.Run(v.str("id"), func(t *testing.T) {
				p, err := NewPRF(prfByName[v.str("alg")])
				if err != nil {
					t.Fatal(err)
				}
				key, data, want := v.hex(t, "key"), v.hex(t, "data"), v.hex(t, "out")
				h := p.New(key)
				if h.Size() != p.Size() || len(want) != p.Size() {
					t.Fatalf("Size %d/%d, vector %d", h.Size(), p.Size(), len(want))
				}
				// Write in two pieces to exercise buffering.
				h.Write(data[:len(data)/2])
				h.Write(data[len(data)/2:])
				if got := h.Sum(nil); !bytes.Equal(got, want) {
					t.Fatalf("prf = %x, want %x", got, want)
				}
				// Sum must not disturb the state; Reset restarts with the key.
				if got := h.Sum(nil); !bytes.Equal(got, want) {
					t.Fatalf("second Sum = %x", got)
				}
				h.Reset()
				h.Write(data)
				if got := h.Sum(nil); !bytes.Equal(got, want) {
					t.Fatalf("after Reset = %x", got)
				}
			})
		}
	}
	if n < 30 {
		t.Fatalf("only %d PRF vectors", n)
	}
}

func TestPRFKeyLen(t *testing.T) {
	want := map[proposal.PRFID]int{
		proposal.PRFHMACMD5: 16, proposal.PRFHMACSHA1: 20, proposal.PRFHMACSHA2256: 32,
		proposal.PRFHMACSHA2384: 48, proposal.PRFHMACSHA2512: 64, proposal.PRFAES128XCBC: 16, proposal.PRFAES128CMAC: 16,
	}
	for id, n := range want {
		if got, err := PRFKeyLen(id); err != nil || got != n {
			t.Errorf("PRFKeyLen(%d) = %d, %v; want %d", id, got, err, n)
		}
	}
	if _, err := NewPRF(proposal.PRFHMACTiger); !errors.Is(err, ErrUnsupported) {
		t.Errorf("Tiger: %v, want ErrUnsupported", err)
	}
}
