package ikev1

import (
	"encoding/hex"
	"fmt"

	"github.com/goipsec/ipsec/internal/alg"
)

// writeKeyLog writes one line of Wireshark's "IKEv1 Decryption Table"
// (ikev1_decryption_table UAT): the initiator's cookie and the phase 1
// encryption key, in hex.
func (sa *isakmpSA) writeKeyLog() {
	w := sa.e.cfg.keylog
	if w == nil {
		return
	}
	fmt.Fprintf(w, "%s,%s\n", hex.EncodeToString(sa.ckyI[:]), hex.EncodeToString(sa.keys.encKey))
}

// writeChildKeyLog writes the IPsec SA's two lines of Wireshark's "ESP
// SAs" table (the format package ike writes).
func (sa *isakmpSA) writeChildKeyLog(c *child, encIn, integIn, encOut, integOut []byte) {
	w := sa.e.cfg.keylog
	if w == nil {
		return
	}
	encName, ok1 := alg.WiresharkESPEncryption(c.prop.Encr[0].ID)
	integName, ok2 := alg.WiresharkESPIntegrity(integOf(c.prop))
	if !ok1 || !ok2 {
		return
	}
	family := "IPv4"
	if sa.local.Addr().Is6() {
		family = "IPv6"
	}
	l, r := sa.local.Addr(), sa.remote.Addr()
	fmt.Fprintf(w, "%q,%q,%q,\"0x%08x\",%q,\"0x%s\",%q,\"0x%s\"\n", family, r, l, c.spiIn, encName, hex.EncodeToString(encIn), integName, hex.EncodeToString(integIn))
	fmt.Fprintf(w, "%q,%q,%q,\"0x%08x\",%q,\"0x%s\",%q,\"0x%s\"\n", family, l, r, c.spiOut, encName, hex.EncodeToString(encOut), integName, hex.EncodeToString(integOut))
}
