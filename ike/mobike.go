package ike

import (
	"bytes"
	"fmt"
	"net/netip"

	"github.com/goipsec/ipsec/ike/wire"
)

// cookie2Len is the size of our COOKIE2 values (RFC 4555 section 4.8
// allows 8 to 64 octets).
const cookie2Len = 16

// mobikeNotifies collects the MOBIKE notifies of an INFORMATIONAL message.
type mobikeNotifies struct {
	update bool
	cookie []byte
	natSrc [][]byte
	natDst []byte
}

func collectMOBIKE(inner []wire.Payload) mobikeNotifies {
	var m mobikeNotifies
	for _, p := range inner {
		n, ok := p.(*wire.Notify)
		if !ok {
			continue
		}
		switch n.Type {
		case wire.UPDATE_SA_ADDRESSES:
			m.update = true
		case wire.COOKIE2:
			m.cookie = n.Data
		case wire.NAT_DETECTION_SOURCE_IP:
			m.natSrc = append(m.natSrc, n.Data)
		case wire.NAT_DETECTION_DESTINATION_IP:
			m.natDst = n.Data
		}
	}
	return m
}

// natNotifies returns our NAT-D notifies for the path local -> remote.
func (sa *ikeSA) natNotifies(local, remote netip.AddrPort) []wire.Payload {
	src, dst := sa.ourNATSource(sa.spii, sa.spir, local), natHash(sa.spii, sa.spir, remote)
	return []wire.Payload{&wire.Notify{Type: wire.NAT_DETECTION_SOURCE_IP, Data: src[:]},
		&wire.Notify{Type: wire.NAT_DETECTION_DESTINATION_IP, Data: dst[:]}}
}

// processMOBIKE handles the MOBIKE notifies of an INFORMATIONAL request
// (RFC 4555 section 3.5): UPDATE_SA_ADDRESSES moves the IKE SA at once to
// the addresses the request came from and to; the NAT-D notifies in it
// update NAT detection; the response carries our NAT-D notifies and echoes
// COOKIE2 (section 3.7). The CHILD SAs follow only after a return
// routability check of the new address (section 5.2: an INFORMATIONAL
// request with COOKIE2 that must come back), so that an authenticated
// peer cannot point our ESP traffic at a third party.
func (sa *ikeSA) processMOBIKE(inner []wire.Payload) []wire.Payload {
	m := collectMOBIKE(inner)
	var resp []wire.Payload
	from := sa.reqFrom
	if m.update {
		if m.natSrc != nil || m.natDst != nil {
			nat := detectNAT(sa.spii, sa.spir, from.Local, from.Remote, m.natSrc, m.natDst)
			sa.natLocal, sa.natRemote = nat.LocalBehind, nat.RemoteBehind
		}
		if from.Remote != sa.remote || from.Local != sa.local {
			sa.log.Info("peer moved (MOBIKE)", "ike_sa", sa.name(), "from", sa.remote.String(), "to", from.Remote.String())
			sa.local, sa.remote = from.Local, from.Remote
			sa.log = sa.e.log.With("peer", from.Remote.String())
			sa.queueRequest(sa.routabilityCheck())
		} else {
			// Same path, new NAT state: nothing to verify.
			sa.moveChildren()
		}
	}
	if m.update || m.natSrc != nil {
		resp = append(resp, sa.natNotifies(from.Local, from.Remote)...)
	}
	if m.cookie != nil {
		resp = append(resp, &wire.Notify{Type: wire.COOKIE2, Data: m.cookie})
	}
	return resp
}

// routabilityCheck is the return routability check of RFC 4555 section
// 5.2: an INFORMATIONAL request with a fresh COOKIE2 to the IKE SA's
// (new) address; the CHILD SAs move when the echo comes back. If the peer
// moves again meanwhile, they move to wherever the IKE SA is when the
// answer arrives. No answer ends the IKE SA like a failed liveness check.
func (sa *ikeSA) routabilityCheck() *request {
	cookie := make([]byte, cookie2Len)
	return &request{exchange: wire.INFORMATIONAL,
		build: func() ([]wire.Payload, error) {
			if err := sa.e.random(cookie); err != nil {
				return nil, err
			}
			return []wire.Payload{&wire.Notify{Type: wire.COOKIE2, Data: cookie}}, nil
		},
		onReply: func(_ *wire.Message, inner []wire.Payload) error {
			if got := collectMOBIKE(inner).cookie; !bytes.Equal(got, cookie) {
				return fmt.Errorf("%w: return routability check: COOKIE2 not echoed", ErrProtocol)
			}
			sa.log.Info("new path verified, moving CHILD SAs", "ike_sa", sa.name(), "remote", sa.remote.String())
			sa.moveChildren()
			return nil
		}}
}

// moveChildren updates the data plane's outer addresses of every CHILD
// SA to the IKE SA's current path and NAT state.
func (sa *ikeSA) moveChildren() {
	for _, c := range sa.children {
		sa.moveChild(c)
	}
}

// migrateRequest is the initiator's side of RFC 4555 section 3.5: from
// the new local address (on the NAT-T port, which MOBIKE always uses) an
// UPDATE_SA_ADDRESSES request with our NAT-D notifies and COOKIE2 goes to
// the gateway; its answer, which must echo COOKIE2, proves the new path
// works both ways, tells us about NATs on it, and then the CHILD SAs move.
func (sa *ikeSA) migrateRequest(local netip.Addr, done chan<- error) *request {
	cookie := make([]byte, cookie2Len)
	var oldLocal, oldRemote netip.AddrPort
	finish := func(err error) {
		if done == nil {
			return
		}
		select {
		case done <- err:
		default: // already answered
		}
	}
	return &request{exchange: wire.INFORMATIONAL,
		abort: finish,
		build: func() ([]wire.Payload, error) {
			if err := sa.e.random(cookie); err != nil {
				finish(err)
				return nil, err
			}
			_, natt := sa.e.conn.Ports()
			oldLocal, oldRemote = sa.local, sa.remote
			sa.local = netip.AddrPortFrom(local, natt)
			if sa.remote.Port() == PortIKE {
				sa.remote = netip.AddrPortFrom(sa.remote.Addr(), PortNATT)
			}
			ps := []wire.Payload{&wire.Notify{Type: wire.UPDATE_SA_ADDRESSES}}
			ps = append(ps, sa.natNotifies(sa.local, sa.remote)...)
			return append(ps, &wire.Notify{Type: wire.COOKIE2, Data: cookie}), nil
		},
		onReply: func(_ *wire.Message, inner []wire.Payload) error {
			m := collectMOBIKE(inner)
			if !bytes.Equal(m.cookie, cookie) {
				err := fmt.Errorf("%w: MOBIKE: gateway did not echo COOKIE2", ErrProtocol)
				sa.local, sa.remote = oldLocal, oldRemote
				finish(err)
				return err
			}
			if m.natSrc != nil || m.natDst != nil {
				nat := detectNAT(sa.spii, sa.spir, sa.local, sa.remote, m.natSrc, m.natDst)
				sa.natLocal, sa.natRemote = nat.LocalBehind, nat.RemoteBehind
			}
			sa.log = sa.e.log.With("peer", sa.remote.String())
			sa.log.Info("moved to a new address (MOBIKE)", "ike_sa", sa.name(), "local", sa.local.String(), "nat", sa.natLocal)
			sa.moveChildren()
			finish(nil)
			return nil
		}}
}
