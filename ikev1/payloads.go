package ikev1

import (
	"crypto"
	"crypto/ecdsa"
	"net/netip"

	"github.com/goipsec/ipsec"
	"github.com/goipsec/ipsec/ikev1/wire"
	"github.com/goipsec/ipsec/proposal"
	"github.com/goipsec/ipsec/transport"
)

func findSA(pl []wire.Payload) *wire.SA {
	for _, p := range pl {
		if x, ok := p.(*wire.SA); ok {
			return x
		}
	}
	return nil
}

func findKE(pl []wire.Payload) *wire.KE {
	for _, p := range pl {
		if x, ok := p.(*wire.KE); ok {
			return x
		}
	}
	return nil
}

func findNonce(pl []wire.Payload) *wire.Nonce {
	for _, p := range pl {
		if x, ok := p.(*wire.Nonce); ok {
			return x
		}
	}
	return nil
}

func findID(pl []wire.Payload) *wire.ID {
	for _, p := range pl {
		if x, ok := p.(*wire.ID); ok {
			return x
		}
	}
	return nil
}

// findIDs returns the ID payloads in order (Quick Mode: IDci, IDcr).
func findIDs(pl []wire.Payload) []*wire.ID {
	var out []*wire.ID
	for _, p := range pl {
		if x, ok := p.(*wire.ID); ok {
			out = append(out, x)
		}
	}
	return out
}

func findHash(pl []wire.Payload) *wire.Hash {
	for _, p := range pl {
		if x, ok := p.(*wire.Hash); ok {
			return x
		}
	}
	return nil
}

// identityOf converts a phase 1 ID payload.
func identityOf(id *wire.ID) ipsec.Identity {
	return ipsec.Identity{Type: ipsec.IDType(id.IDType), Data: append([]byte(nil), id.Data...)}
}

// idPayload is a phase 1 ID payload (protocol and port zero, RFC 2407
// section 4.6.2).
func idPayload(id ipsec.Identity) *wire.ID {
	return &wire.ID{IDType: wire.IDType(id.Type), Data: id.Data}
}

// idBody returns the body of an ID payload as it goes on the wire: what
// HASH_I and HASH_R cover.
func idBody(id *wire.ID) ([]byte, error) {
	return encodedBody(id)
}

// encodedBody encodes one payload and returns its body (without the
// generic header).
func encodedBody(p wire.Payload) ([]byte, error) {
	m := &wire.Message{Payloads: []wire.Payload{p}}
	b, err := m.Append(nil)
	if err != nil {
		return nil, err
	}
	return append([]byte(nil), b[headerLen+4:]...), nil
}

func packetTo(b []byte, local, remote netip.AddrPort) transport.Packet {
	return transport.Packet{Data: b, Local: local, Remote: remote}
}

// ecdsaMethod is the Authentication Method of an ECDSA key (RFC 4754).
func ecdsaMethod(pub crypto.PublicKey) (proposal.IKEv1AuthMethod, bool) {
	k, ok := pub.(*ecdsa.PublicKey)
	if !ok {
		return 0, false
	}
	switch k.Curve.Params().BitSize {
	case 256:
		return proposal.V1AuthECDSA256, true
	case 384:
		return proposal.V1AuthECDSA384, true
	case 521:
		return proposal.V1AuthECDSA521, true
	}
	return 0, false
}
