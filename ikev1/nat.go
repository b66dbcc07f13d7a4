package ikev1

import (
	"bytes"
	"crypto/subtle"
	"encoding/binary"
	"encoding/hex"
	"hash"
	"net/netip"

	"github.com/goipsec/ipsec/ikev1/wire"
)

// Vendor IDs we send and look for (MD5 hashes of the names, as the
// implementations that introduced them defined them).
var (
	vidRFC3947  = mustHex("4a131c81070358455c5728f20e95452f") // RFC 3947
	vidNATT02   = mustHex("cd60464335df21f87cfdb2fc68b6a448") // draft-ietf-ipsec-nat-t-ike-02
	vidNATT02n  = mustHex("90cb80913ebb696e086381b5ec427b1f") // draft-ietf-ipsec-nat-t-ike-02\n
	vidNATT03   = mustHex("7d9419a65310ca6f2c179d9215529d56") // draft-ietf-ipsec-nat-t-ike-03
	vidDPD      = mustHex("afcad71368a1f1c96b8696fc77570100") // RFC 3706
	vidXAuth    = mustHex("09002689dfd6b712")                 // draft-ietf-ipsra-isakmp-xauth
	vidUnity    = mustHex("12f5f28c457168a9702d9fe274cc0100") // Cisco Unity
	vidFragment = mustHex("4048b7d56ebce88525e7de7f00d6c2d3") // IKE fragmentation (Cisco, racoon); 4 more bytes may follow
)

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// nattVariant is the NAT traversal dialect both sides speak.
type nattVariant uint8

const (
	nattNone    nattVariant = iota
	nattDraft               // draft-ietf-ipsec-nat-t-ike-02/03: payloads 130/131, modes 61443/61444
	nattRFC3947             // RFC 3947: payloads 20/21, modes 3/4
)

// natState is what NAT detection found.
type natState struct {
	variant nattVariant
	local   bool // we are behind a NAT
	remote  bool // the peer is
}

func (n natState) any() bool { return n.local || n.remote }

// peerVIDs are the capabilities the peer announced.
type peerVIDs struct {
	natt     nattVariant
	dpd      bool
	xauth    bool
	unity    bool
	fragment bool
}

func parseVIDs(pl []wire.Payload) peerVIDs {
	var v peerVIDs
	for _, p := range pl {
		vid, ok := p.(*wire.VendorID)
		if !ok {
			continue
		}
		d := vid.Data
		switch {
		case bytes.Equal(d, vidRFC3947):
			v.natt = nattRFC3947
		case bytes.Equal(d, vidNATT02), bytes.Equal(d, vidNATT02n), bytes.Equal(d, vidNATT03):
			if v.natt < nattDraft {
				v.natt = nattDraft
			}
		case bytes.Equal(d, vidDPD):
			v.dpd = true
		case bytes.Equal(d, vidXAuth):
			v.xauth = true
		case bytes.Equal(d, vidUnity):
			v.unity = true
		case bytes.HasPrefix(d, vidFragment):
			v.fragment = true
		}
	}
	return v
}

// ourVIDs are the Vendor ID payloads we send: in a request all NAT-T
// dialects we speak, in an answer the one we chose.
func ourVIDs(natt nattVariant, request bool, peer peerVIDs) []wire.Payload {
	var out []wire.Payload
	add := func(b []byte) { out = append(out, &wire.VendorID{Data: b}) }
	switch {
	case request:
		add(vidRFC3947)
		add(vidNATT03)
		add(vidNATT02n)
		add(vidNATT02)
	case natt == nattRFC3947:
		add(vidRFC3947)
	case natt == nattDraft:
		add(vidNATT02n)
	}
	if request || peer.dpd {
		add(vidDPD)
	}
	if request || peer.fragment {
		add(vidFragment)
	}
	if !request && peer.xauth {
		add(vidXAuth)
	}
	if !request && peer.unity {
		add(vidUnity)
	}
	return out
}

// natdHash is HASH(CKY-I | CKY-R | IP | Port) of RFC 3947 section 3.2.
func natdHash(newHash func() hash.Hash, ckyI, ckyR [8]byte, ap netip.AddrPort) []byte {
	h := newHash()
	h.Write(ckyI[:])
	h.Write(ckyR[:])
	h.Write(ap.Addr().Unmap().AsSlice())
	var port [2]byte
	binary.BigEndian.PutUint16(port[:], ap.Port())
	h.Write(port[:])
	return h.Sum(nil)
}

// natdPayloads returns our NAT-D payloads: the peer's address first, then
// ours (RFC 3947 section 3.2).
func (sa *isakmpSA) natdPayloads() []wire.Payload {
	if sa.nat.variant == nattNone {
		return nil
	}
	draft := sa.nat.variant == nattDraft
	return []wire.Payload{
		&wire.NATD{Hash: natdHash(sa.keys0Hash(), sa.ckyI, sa.ckyR, sa.remote), Draft: draft},
		&wire.NATD{Hash: natdHash(sa.keys0Hash(), sa.ckyI, sa.ckyR, sa.local), Draft: draft},
	}
}

// checkNATD compares the peer's NAT-D payloads with the addresses the
// message travelled between (RFC 3947 section 3.2): the first names us as
// the peer saw us, the others the peer itself.
func (sa *isakmpSA) checkNATD(pl []wire.Payload, local, remote netip.AddrPort) {
	if sa.nat.variant == nattNone {
		return
	}
	var hashes [][]byte
	for _, p := range pl {
		if n, ok := p.(*wire.NATD); ok {
			hashes = append(hashes, n.Hash)
		}
	}
	if len(hashes) < 2 {
		return
	}
	nh := sa.keys0Hash()
	sa.nat.local = subtle.ConstantTimeCompare(hashes[0], natdHash(nh, sa.ckyI, sa.ckyR, local)) != 1
	sa.nat.remote = true
	want := natdHash(nh, sa.ckyI, sa.ckyR, remote)
	for _, h := range hashes[1:] {
		if subtle.ConstantTimeCompare(h, want) == 1 {
			sa.nat.remote = false
		}
	}
	if sa.nat.any() {
		sa.log.Debug("NAT detected", "local_behind_nat", sa.nat.local, "peer_behind_nat", sa.nat.remote)
	}
}

// keys0Hash is the negotiated hash, known from the chosen proposal before
// the keys exist.
func (sa *isakmpSA) keys0Hash() func() hash.Hash {
	h, err := hashFor(sa.prop.PRF[0])
	if err != nil {
		return nil
	}
	return h
}

// floatToNATT moves the SA to the NAT-T port once a NAT was found (RFC
// 3947 section 4: from Main Mode message 5 or Aggressive Mode message 3).
func (sa *isakmpSA) floatToNATT() {
	_, natt := sa.e.conn.Ports()
	if !sa.nat.any() || sa.local.Port() == natt {
		return
	}
	sa.local = netip.AddrPortFrom(sa.local.Addr(), natt)
	if sa.initiator {
		sa.remote = netip.AddrPortFrom(sa.remote.Addr(), natt)
	}
}

// udpEncap reports whether the IPsec SAs go in UDP.
func (sa *isakmpSA) udpEncap() bool {
	_, natt := sa.e.conn.Ports()
	return sa.nat.any() || sa.local.Port() == natt
}
