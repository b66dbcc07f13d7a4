package ike

import (
	"encoding/binary"
	"fmt"

	"github.com/goipsec/ipsec"
	"github.com/goipsec/ipsec/esp"
	"github.com/goipsec/ipsec/ike/wire"
	"github.com/goipsec/ipsec/internal/alg"
	"github.com/goipsec/ipsec/proposal"
)

// createChildRequest negotiates an additional CHILD SA described by cc
// (RFC 7296 section 1.3.1): its own traffic selectors and proposals,
// with PFS when cc's proposals carry a KE method. done receives the
// result.
func (sa *ikeSA) createChildRequest(cc ChildConfig, done chan<- childResult) *request {
	var (
		nc  *childSA
		ni  []byte
		kex alg.KeyExchange
	)
	props := cc.proposals()
	finish := func(info ipsec.ChildSAInfo, err error) error {
		select {
		case done <- childResult{info, err}:
		default: // already answered
		}
		return err
	}
	return &request{
		exchange: wire.CREATE_CHILD_SA,
		abort:    func(err error) { finish(ipsec.ChildSAInfo{}, err) },
		build: func() ([]wire.Payload, error) {
			if sa.state != stateEstablished || sa.rekeyed {
				err := fmt.Errorf("%w: IKE SA %s is not established", ErrClosed, sa.name())
				finish(ipsec.ChildSAInfo{}, err)
				return nil, err
			}
			spi, err := sa.newChildSPI()
			if err != nil {
				finish(ipsec.ChildSAInfo{}, err)
				return nil, err
			}
			local := cc.LocalTS
			if len(local) == 0 {
				for _, a := range sa.vips {
					local = append(local, hostSelector(a))
				}
				if len(local) == 0 {
					local = []esp.Selector{hostSelector(sa.local.Addr())}
				}
			}
			remote := cc.RemoteTS
			if len(remote) == 0 {
				remote = anyTS
			}
			nc = &childSA{name: cc.Name, reqid: sa.e.newReqID(), spiIn: spi, localTS: local, remoteTS: remote, mode: cc.Mode, initiator: true, offered: props}
			ni = make([]byte, sa.e.nonceLen())
			if err := sa.e.random(ni); err != nil {
				finish(ipsec.ChildSAInfo{}, err)
				return nil, err
			}
			var ps []wire.Payload
			if cc.Mode == esp.ModeTransport {
				ps = append(ps, &wire.Notify{Type: wire.USE_TRANSPORT_MODE})
			}
			ps = append(ps, listToWire(props, binary.BigEndian.AppendUint32(nil, spi)), &wire.Nonce{Data: ni})
			if g := pfsGroup(props); g != proposal.KENone {
				if kex, err = sa.e.newKeyExchange(g); err != nil {
					finish(ipsec.ChildSAInfo{}, err)
					return nil, err
				}
				pub, err := kex.Public()
				if err != nil {
					finish(ipsec.ChildSAInfo{}, err)
					return nil, err
				}
				ps = append(ps, &wire.KE{Group: wire.KEID(g), Data: pub})
			}
			return append(ps, tsToWire(local, false), tsToWire(remote, true)), nil
		},
		onReply: func(_ *wire.Message, inner []wire.Payload) error {
			ap := collectAuth(inner)
			nr, ke := nonceAndKE(inner)
			if ap.errNotify != nil && ap.sa == nil {
				return finish(ipsec.ChildSAInfo{}, &NotifyError{Type: ap.errNotify.Type, Remote: true, Data: ap.errNotify.Data})
			}
			if len(nr) < minNonce || len(nr) > maxNonce {
				return finish(ipsec.ChildSAInfo{}, fmt.Errorf("%w: CREATE_CHILD_SA response without nonce", ErrProtocol))
			}
			if err := checkNonce(prfOf(sa.prop), nr); err != nil {
				return finish(ipsec.ChildSAInfo{}, err)
			}
			pfs := ap.sa != nil && len(ap.sa.Proposals) == 1 && len(propFromWire(&ap.sa.Proposals[0]).KE) > 0
			var secrets [][]byte
			if kex != nil && pfs {
				if ke == nil || proposal.KEID(ke.Group) != kex.Method() {
					return finish(ipsec.ChildSAInfo{}, fmt.Errorf("%w: CREATE_CHILD_SA response without our KE method", ErrProtocol))
				}
				shared, err := kex.Shared(ke.Data)
				defer wipe(shared) // keys derived from it (see secrets.go)
				if err != nil {
					return finish(ipsec.ChildSAInfo{}, fmt.Errorf("%w: peer KE: %v", ErrProtocol, err))
				}
				secrets = [][]byte{shared}
			}
			if err := sa.completeChild(nc, &ap, ni, nr, secrets, false); err != nil {
				nc.remove(sa)
				return finish(ipsec.ChildSAInfo{}, err)
			}
			sa.children = append(sa.children, nc)
			sa.childUp(nc)
			return finish(nc.info(), nil)
		},
	}
}

type childResult struct {
	info ipsec.ChildSAInfo
	err  error
}
