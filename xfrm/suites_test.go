package xfrm

import (
	"crypto/rand"
	"fmt"
	"net/netip"

	"github.com/goipsec/ipsec/esp"
	"github.com/goipsec/ipsec/proposal"
)

func pfx(s string) esp.Selector { return esp.PrefixSelector(netip.MustParsePrefix(s)) }

// suite is one ESP transform combination the tests install.
type suite struct {
	encr  proposal.EncrID
	bits  int
	integ proposal.IntegID
}

func (s suite) String() string {
	if s.integ == proposal.IntegNone {
		return fmt.Sprintf("%s-%d", s.encr, s.bits)
	}
	return fmt.Sprintf("%s-%d+%s", s.encr, s.bits, s.integ)
}

// testSuites covers every entry of encrMap and integMap.
var testSuites = []suite{
	{proposal.EncrAESGCM16, 128, 0},
	{proposal.EncrAESGCM16, 256, 0},
	{proposal.EncrAESGCM12, 192, 0},
	{proposal.EncrAESGCM8, 128, 0},
	{proposal.EncrAESCCM16, 128, 0},
	{proposal.EncrAESCCM12, 192, 0},
	{proposal.EncrAESCCM8, 256, 0},
	{proposal.EncrChaCha20Poly1305, 0, 0},
	{proposal.EncrNULLAuthAESGMAC, 128, 0},
	{proposal.EncrAESCBC, 128, proposal.IntegHMACSHA2256128},
	{proposal.EncrAESCBC, 256, proposal.IntegHMACSHA2384192},
	{proposal.EncrAESCBC, 192, proposal.IntegHMACSHA2512256},
	{proposal.EncrAESCTR, 128, proposal.IntegHMACSHA2256128},
	{proposal.EncrAESCBC, 128, proposal.IntegHMACSHA196},
	{proposal.EncrAESCBC, 128, proposal.IntegHMACMD596},
	{proposal.EncrAESCBC, 128, proposal.IntegHMACMD5128},
	{proposal.EncrAESCBC, 128, proposal.IntegHMACSHA1160},
	{proposal.EncrAESCBC, 128, proposal.IntegAESXCBC96},
	{proposal.EncrAESCBC, 128, proposal.IntegAESCMAC96},
	{proposal.Encr3DES, 0, proposal.IntegHMACSHA196},
	{proposal.EncrNULL, 0, proposal.IntegHMACSHA2256128},
	{proposal.EncrCamelliaCBC, 256, proposal.IntegHMACSHA2256128},
}

// keyLens returns the key sizes a suite needs, computed independently of
// encrMap from the RFCs: AES/Camellia key plus 4 bytes of salt (GCM, GMAC,
// CTR, ChaCha) or 3 (CCM); integrity keys are the hash size (RFC 2104,
// 4868) or 16 bytes (XCBC, CMAC).
func keyLens(s suite) (encr, integ int) {
	switch s.encr {
	case proposal.EncrAESGCM8, proposal.EncrAESGCM12, proposal.EncrAESGCM16, proposal.EncrNULLAuthAESGMAC, proposal.EncrAESCTR:
		encr = s.bits/8 + 4
	case proposal.EncrAESCCM8, proposal.EncrAESCCM12, proposal.EncrAESCCM16:
		encr = s.bits/8 + 3
	case proposal.EncrChaCha20Poly1305:
		encr = 36
	case proposal.Encr3DES:
		encr = 24
	case proposal.EncrNULL:
		encr = 0
	default:
		encr = s.bits / 8
	}
	switch s.integ {
	case proposal.IntegHMACMD596, proposal.IntegHMACMD5128, proposal.IntegAESXCBC96, proposal.IntegAESCMAC96:
		integ = 16
	case proposal.IntegHMACSHA196, proposal.IntegHMACSHA1160:
		integ = 20
	case proposal.IntegHMACSHA2256128:
		integ = 32
	case proposal.IntegHMACSHA2384192:
		integ = 48
	case proposal.IntegHMACSHA2512256:
		integ = 64
	}
	return encr, integ
}

// fill sets sa's transforms and fresh random keys for s.
func (s suite) fill(sa *esp.SA) *esp.SA {
	e, i := keyLens(s)
	sa.Encr, sa.EncrKeyBits, sa.Integ = s.encr, s.bits, s.integ
	sa.EncrKey = make([]byte, e)
	rand.Read(sa.EncrKey)
	sa.IntegKey = nil
	if i > 0 {
		sa.IntegKey = make([]byte, i)
		rand.Read(sa.IntegKey)
	}
	return sa
}
