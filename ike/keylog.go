package ike

import (
	"encoding/hex"
	"fmt"

	"github.com/goipsec/ipsec/internal/alg"
)

// writeIKEKeyLog writes one line of Wireshark's "IKEv2 Decryption Table"
// (ikev2_decryption_table UAT): SPIi, SPIr, SK_ei, SK_er, encryption,
// SK_ai, SK_ar, integrity.
func (sa *ikeSA) writeIKEKeyLog() {
	w := sa.e.cfg.keyLog
	if w == nil {
		return
	}
	encr := sa.prop.Encr[0]
	encName, ok1 := alg.WiresharkIKEv2Encryption(encr.ID, int(encr.KeyLen))
	integName, ok2 := alg.WiresharkIKEv2Integrity(integOf(*sa.prop))
	if !ok1 || !ok2 {
		return
	}
	k := sa.keys
	fmt.Fprintf(w, "%016x,%016x,%s,%s,%q,%s,%s,%q\n", sa.spii, sa.spir,
		hex.EncodeToString(k.SKei), hex.EncodeToString(k.SKer), encName,
		hex.EncodeToString(k.SKai), hex.EncodeToString(k.SKar), integName)
}

// writeChildKeyLog writes two lines of Wireshark's "ESP SAs" table.
func (sa *ikeSA) writeChildKeyLog(c *childSA) {
	w := sa.e.cfg.keyLog
	if w == nil || c.keys == nil {
		return
	}
	encName, ok1 := alg.WiresharkESPEncryption(c.prop.Encr[0].ID)
	integName, ok2 := alg.WiresharkESPIntegrity(integOf(*c.prop))
	if !ok1 || !ok2 {
		return
	}
	family := "IPv4"
	if sa.local.Addr().Is6() {
		family = "IPv6"
	}
	// "I" keys protect initiator-to-responder traffic.
	iSrc, iDst := sa.remote.Addr(), sa.local.Addr()
	iSPI, rSPI := c.spiIn, c.spiOut
	if c.initiator {
		iSrc, iDst = sa.local.Addr(), sa.remote.Addr()
		iSPI, rSPI = c.spiOut, c.spiIn
	}
	fmt.Fprintf(w, "%q,%q,%q,\"0x%08x\",%q,\"0x%s\",%q,\"0x%s\"\n", family, iSrc, iDst, iSPI, encName, hex.EncodeToString(c.keys.EncI), integName, hex.EncodeToString(c.keys.IntegI))
	fmt.Fprintf(w, "%q,%q,%q,\"0x%08x\",%q,\"0x%s\",%q,\"0x%s\"\n", family, iDst, iSrc, rSPI, encName, hex.EncodeToString(c.keys.EncR), integName, hex.EncodeToString(c.keys.IntegR))
}
