package proposal

import (
	"encoding/binary"
	"errors"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestWindowsProfileMatchesCapture checks the "windows" profile against
// the SA payload of a real Windows IKE_SA_INIT (testdata/ipsec_client.pcap,
// copied from the shared captures, frame 1). The decoder here is a minimal
// test-only walk of pcap -> Ethernet -> IPv4 -> UDP -> IKEv2 SA payload
// (RFC 7296 3.1, 3.3), independent of the codec package.
func TestWindowsProfileMatchesCapture(t *testing.T) {
	raw, err := os.ReadFile("testdata/ipsec_client.pcap")
	if err != nil {
		t.Fatal(err)
	}
	sa, err := firstIKESA(raw)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeSA(sa)
	if err != nil {
		t.Fatal(err)
	}
	win, _ := LookupProfile("windows")
	if diff := cmp.Diff(win.IKE, got); diff != "" {
		t.Errorf("windows profile differs from the capture (-profile +capture):\n%s", diff)
	}
	// And the compatible defaults take the best of it.
	sel, err := Select(CompatibleIKE(), got, SelectOptions{PreferKE: KEMODP1024})
	if err != nil || sel.Describe() != "IKE:AES_CBC_256/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/MODP_1024" || sel.Number != 11 {
		t.Errorf("compatible vs captured Windows: %s #%d, %v", sel.Describe(), sel.Number, err)
	}
}

var errShort = errors.New("short capture")

// firstIKESA returns the body of the SA payload of the first packet.
func firstIKESA(b []byte) ([]byte, error) {
	if len(b) < 24+16 || binary.LittleEndian.Uint32(b) != 0xa1b2c3d4 {
		return nil, errors.New("not a little-endian pcap")
	}
	incl := int(binary.LittleEndian.Uint32(b[24+8:]))
	pkt := b[24+16:]
	if len(pkt) < incl || incl < 14+20 {
		return nil, errShort
	}
	pkt = pkt[14:incl] // Ethernet
	ihl := int(pkt[0]&0x0f) * 4
	if pkt[9] != 17 || len(pkt) < ihl+8+28 {
		return nil, errors.New("not UDP")
	}
	ike := pkt[ihl+8:]
	if ike[16] != 33 { // next payload after the IKE header: SA
		return nil, errors.New("first payload is not SA")
	}
	p := ike[28:]
	plen := int(binary.BigEndian.Uint16(p[2:]))
	if plen < 4 || len(p) < plen {
		return nil, errShort
	}
	return p[4:plen], nil
}

// decodeSA walks proposal and transform substructures (RFC 7296 3.3.1,
// 3.3.2, 3.3.5) into a List with Proposal.Add.
func decodeSA(b []byte) (List, error) {
	var l List
	for len(b) > 0 {
		if len(b) < 8 {
			return nil, errShort
		}
		plen := int(binary.BigEndian.Uint16(b[2:]))
		if plen < 8 || plen > len(b) {
			return nil, errShort
		}
		spiSize := int(b[6])
		p := Proposal{Number: b[4], Protocol: Protocol(b[5]), SPI: b[8 : 8+spiSize]}
		if len(p.SPI) == 0 {
			p.SPI = nil
		}
		tb := b[8+spiSize : plen]
		for n := int(b[7]); n > 0; n-- {
			if len(tb) < 8 {
				return nil, errShort
			}
			tlen := int(binary.BigEndian.Uint16(tb[2:]))
			if tlen < 8 || tlen > len(tb) {
				return nil, errShort
			}
			tr := Transform{Type: TransformType(tb[4]), ID: binary.BigEndian.Uint16(tb[6:])}
			for attrs := tb[8:tlen]; len(attrs) >= 4; attrs = attrs[4:] {
				if binary.BigEndian.Uint16(attrs) == 0x800e { // TV Key Length
					tr.KeyLen = binary.BigEndian.Uint16(attrs[2:])
				}
			}
			p.Add(tr)
			tb = tb[tlen:]
		}
		l = append(l, p)
		b = b[plen:]
	}
	return l, nil
}
