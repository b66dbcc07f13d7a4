package ike

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync/atomic"
	"time"

	"github.com/goipsec/ipsec"
	"github.com/goipsec/ipsec/ike/wire"
	"github.com/goipsec/ipsec/proposal"
)

// Initiator sets up IKE SAs to gateways (RFC 7296 section 1.2, the
// initiator side).
type Initiator struct {
	e *engine
}

// NewInitiator returns an initiator sending through conn (a *Transport,
// usually shared with a Responder).
func NewInitiator(conn Conn, opts ...Option) (*Initiator, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	if conn == nil {
		return nil, errors.New("ike: NewInitiator: nil transport")
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	// One place for an initiator's IKE proposals: the PeerConfig it dials
	// with, used in IKE_SA_INIT and in every rekey of that IKE SA.
	if cfg.proposalsSet {
		return nil, errors.New("ike: WithProposals: an initiator offers the IKE proposals of the PeerConfig it dials (PeerConfig.Proposals); WithProposals is for NewResponder")
	}
	if cfg.preferPeer {
		return nil, errors.New("ike: WithPreferPeerProposals: an initiator follows PeerConfig.PreferPeerProposals; WithPreferPeerProposals is for NewResponder")
	}
	if err := cfg.checkInitiatorOptions(); err != nil {
		return nil, err
	}
	e := newEngine(conn, cfg, false)
	if err := e.register(e.receive); err != nil {
		return nil, err
	}
	return &Initiator{e: e}, nil
}

// maxInitRetries bounds COOKIE and INVALID_KE_PAYLOAD round trips.
const maxInitRetries = 3

// SA is a handle on an IKE SA we initiated. It follows the SA through
// rekeys: after an IKE rekey it refers to the new IKE SA.
type SA struct {
	cur  atomic.Pointer[ikeSA]
	done chan struct{}
	err  error // why it ended; written before done is closed
}

func (s *SA) sa() *ikeSA { return s.cur.Load() }

// Dial establishes an IKE SA and its first CHILD SA with the gateway at
// remote (port 500 unless given) and returns when IKE_AUTH completed, or
// with the error that prevented it (a *NotifyError from the gateway,
// ErrAuthFailed, ErrTimeout, ctx's error).
func (in *Initiator) Dial(ctx context.Context, remote netip.AddrPort, cfg *PeerConfig) (*SA, error) {
	if cfg == nil {
		return nil, errors.New("ike: Dial: nil PeerConfig")
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.Local.Method == AuthEAP && cfg.Remote.Method != AuthPubkey {
		return nil, fmt.Errorf("ike: PeerConfig %q: Remote.Method: with EAP the gateway must prove itself with a certificate", cfg.Name)
	}
	if remote.Port() == 0 {
		remote = netip.AddrPortFrom(remote.Addr(), PortIKE)
	}
	e := in.e
	ikePort, _ := e.conn.Ports()
	local := netip.AddrPortFrom(e.localAddrFor(remote.Addr()), ikePort)
	sa := newSA(e, true, local, remote)
	sa.setCfg(cfg)
	if sa.cfg.Proposals == nil {
		sa.cfg.Proposals = proposal.CompatibleIKE()
	}
	if sa.cfg.RemoteID.IsZero() && sa.cfg.Remote.Method == AuthPubkey {
		sa.cfg.gatewayID = ipsec.AddrID(remote.Addr().Unmap())
	}
	done := make(chan error, 1)
	sa.dialDone = done
	h := &SA{done: make(chan struct{})}
	sa.handle = h
	h.cur.Store(sa)
	if err := e.registerInitiator(sa); err != nil {
		return nil, err
	}
	sa.start(nil)
	if err := sa.do(ctx, func() { sa.startInit(nil) }); err != nil && !errors.Is(err, ErrClosed) {
		return nil, err
	}
	// A redirect after authentication hands the Dial to another IKE SA:
	// wait on the channel and return the handle, which move with it.
	select {
	case err := <-done:
		if err != nil {
			return nil, err
		}
		return h, nil
	case <-ctx.Done():
		h.sa().closeAsync(true)
		return nil, ctx.Err()
	}
}

// localAddrFor picks our source address towards remote: the transport's
// address of that family, or, when it listens on a wildcard, the one the
// routing table chooses (found by connecting a UDP socket, which sends
// nothing).
func (e *engine) localAddrFor(remote netip.Addr) netip.Addr {
	if la, ok := e.conn.(interface{ LocalAddrs() []netip.AddrPort }); ok {
		for _, a := range la.LocalAddrs() {
			if a.Addr().Is4() == remote.Is4() && !a.Addr().IsUnspecified() {
				return a.Addr()
			}
		}
	}
	if c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(remote, PortIKE))); err == nil {
		defer c.Close()
		return c.LocalAddr().(*net.UDPAddr).AddrPort().Addr().Unmap()
	}
	if remote.Is4() {
		return netip.IPv4Unspecified()
	}
	return netip.IPv6Unspecified()
}

// startInit sends (or resends, with a cookie or another KE group) our
// IKE_SA_INIT request.
func (sa *ikeSA) startInit(cookie []byte) {
	fail := func(err error) { sa.log.Warn("IKE_SA_INIT failed", "err", err); sa.destroy(err) }
	group := sa.initGroup
	if group == proposal.KENone {
		group = sa.cfg.Proposals[0].KE[0]
		sa.initGroup = group
	}
	if sa.kex == nil || sa.kex.Method() != group {
		kex, err := sa.e.newKeyExchange(group)
		if err != nil {
			fail(err)
			return
		}
		sa.kex = kex
	}
	pub, err := sa.kex.Public()
	if err != nil {
		fail(err)
		return
	}
	if sa.ni == nil {
		sa.ni = make([]byte, sa.e.nonceLen())
		if err := sa.e.random(sa.ni); err != nil {
			fail(err)
			return
		}
	}
	// Our KE method goes first so the responder can pick the proposal
	// that matches it (RFC 7296 section 1.2).
	props := sa.cfg.Proposals.Clone()
	for i := range props {
		if j := slices.Index(props[i].KE, group); j > 0 {
			props[i].KE = append([]proposal.KEID{group}, slices.Delete(props[i].KE, j, j+1)...)
		}
	}
	src, dst := sa.ourNATSource(0, sa.local), natHash(sa.spii, 0, sa.remote)
	var ps []wire.Payload
	if cookie != nil {
		ps = append(ps, &wire.Notify{Type: wire.COOKIE, Data: cookie})
	}
	ps = append(ps,
		listToWire(props, nil),
		&wire.KE{Group: wire.KEID(group), Data: pub},
		&wire.Nonce{Data: sa.ni},
		&wire.Notify{Type: wire.NAT_DETECTION_SOURCE_IP, Data: src[:]},
		&wire.Notify{Type: wire.NAT_DETECTION_DESTINATION_IP, Data: dst[:]},
	)
	if !sa.cfg.DisableFragmentation {
		ps = append(ps, &wire.Notify{Type: wire.IKEV2_FRAGMENTATION_SUPPORTED})
	}
	ps = append(ps, &wire.Notify{Type: wire.SIGNATURE_HASH_ALGORITHMS, Data: hashNotifyData(ourHashAlgorithms)})
	if sa.redirectedFrom.IsValid() {
		ps = append(ps, &wire.Notify{Type: wire.REDIRECTED_FROM, Data: gwIdentity(sa.redirectedFrom)})
	} else {
		ps = append(ps, &wire.Notify{Type: wire.REDIRECT_SUPPORTED})
	}
	m := &wire.Message{Header: wire.Header{SPIi: sa.spii, Exchange: wire.IKE_SA_INIT, Flags: wire.FlagInitiator}, Payloads: ps}
	b, err := m.Append(nil)
	if err != nil {
		fail(err)
		return
	}
	sa.initReq = b
	sa.pending = &request{exchange: wire.IKE_SA_INIT, mid: 0, packets: [][]byte{b}, next: time.Now().Add(sa.backoff(0))}
	sa.logMessage("sending", wire.IKE_SA_INIT, false, 0, ps, 1)
	sa.sendPackets([][]byte{b})
}

// handleInitResponse processes the responder's IKE_SA_INIT answer.
func (sa *ikeSA) handleInitResponse(p Packet, m *wire.Message) {
	if sa.state != stateInit || sa.pending == nil || sa.pending.exchange != wire.IKE_SA_INIT || m.Header.MessageID != 0 {
		return
	}
	ip := collectInit(m.Payloads)
	sa.logMessage("received", wire.IKE_SA_INIT, true, 0, m.Payloads, 0)
	fail := func(err error) {
		sa.log.Warn("IKE_SA_INIT failed", "err", err)
		sa.destroy(err)
	}
	switch {
	case ip.redirect != nil && ip.sa == nil:
		if err := sa.followRedirect(ip.redirect); err != nil {
			fail(err)
		}
		return
	case ip.cookie != nil && ip.sa == nil:
		if sa.initRetries++; sa.initRetries > maxInitRetries {
			fail(fmt.Errorf("%w: too many COOKIE requests", ErrProtocol))
			return
		}
		sa.pending = nil
		sa.startInit(append([]byte(nil), ip.cookie...))
		return
	case ip.invalidKE != nil && ip.sa == nil:
		if len(ip.invalidKE.Data) != 2 {
			fail(fmt.Errorf("%w: malformed INVALID_KE_PAYLOAD", ErrProtocol))
			return
		}
		want := proposal.KEID(binary.BigEndian.Uint16(ip.invalidKE.Data))
		offered := slices.ContainsFunc(sa.cfg.Proposals, func(p proposal.Proposal) bool { return slices.Contains(p.KE, want) })
		if sa.initRetries++; !offered || want == sa.initGroup || sa.initRetries > maxInitRetries {
			fail(&NotifyError{Type: wire.INVALID_KE_PAYLOAD, Remote: true, Data: ip.invalidKE.Data, Err: fmt.Errorf("responder wants %s", want)})
			return
		}
		sa.log.Info("responder asks for another key exchange method", "proposal", want.String())
		sa.initGroup = want
		sa.pending = nil
		sa.startInit(nil)
		return
	case ip.errNotify != nil && ip.sa == nil:
		fail(&NotifyError{Type: ip.errNotify.Type, Remote: true, Data: ip.errNotify.Data})
		return
	case ip.sa == nil || ip.ke == nil || len(ip.nonce) < minNonce || len(ip.nonce) > maxNonce || len(ip.sa.Proposals) != 1 || m.Header.SPIr == 0:
		fail(fmt.Errorf("%w: incomplete IKE_SA_INIT response", ErrProtocol))
		return
	}
	theirs := propFromWire(&ip.sa.Proposals[0])
	sel, err := proposal.Select(sa.cfg.Proposals, proposal.List{theirs}, proposal.SelectOptions{})
	if err != nil || len(sel.KE) != 1 || sel.KE[0] != sa.kex.Method() || proposal.KEID(ip.ke.Group) != sa.kex.Method() {
		fail(fmt.Errorf("%w: responder chose %s, which we did not offer with our KE %s", ErrProtocol, theirs, sa.kex.Method()))
		return
	}
	if err := checkNonce(prfOf(sel), ip.nonce); err != nil {
		fail(err)
		return
	}
	shared, err := sa.kex.Shared(ip.ke.Data)
	defer wipe(shared) // keys derived from it (see secrets.go)
	if err != nil {
		fail(fmt.Errorf("%w: responder KE: %v", ErrProtocol, err))
		return
	}
	sa.prop = sel
	sa.spir = m.Header.SPIr
	sa.nr = append([]byte(nil), ip.nonce...)
	sa.initResp = append([]byte(nil), p.Data...)
	if err := sa.deriveKeys(shared); err != nil {
		fail(err)
		return
	}
	sa.kex = nil
	nat := detectNAT(sa.spii, sa.spir, sa.local, sa.remote, ip.natSrc, ip.natDst)
	sa.natLocal, sa.natRemote = nat.LocalBehind, nat.RemoteBehind
	sa.fragOK = ip.frag && !sa.cfg.DisableFragmentation
	if ip.hashesSeen {
		sa.peerHashes = ip.hashes
	}
	if nat.Any() || sa.e.cfg.forceEncap {
		// RFC 7296 section 2.23: float to the NAT-T port.
		_, natt := sa.e.conn.Ports()
		sa.local = netip.AddrPortFrom(sa.local.Addr(), natt)
		if sa.remote.Port() == PortIKE {
			sa.remote = netip.AddrPortFrom(sa.remote.Addr(), PortNATT)
		}
	}
	sa.pending = nil
	sa.state = stateAuth
	sa.nextMID = 1
	sa.queueRequest(&request{exchange: wire.IKE_AUTH, build: sa.buildAuthRequest, onReply: sa.processAuthResponse})
}

// Info returns a snapshot of the SA.
func (s *SA) Info() ipsec.IKESAInfo {
	var info ipsec.IKESAInfo
	sa := s.sa()
	if err := sa.do(context.Background(), func() { info = sa.info() }); err != nil {
		return ipsec.IKESAInfo{Version: 2, State: stateDead.String(), SPIi: sa.spii, SPIr: sa.spir}
	}
	return info
}

// DNS returns the DNS servers and search domains the gateway sent.
func (s *SA) DNS() (servers []netip.Addr, domains []string) {
	sa := s.sa()
	sa.do(context.Background(), func() {
		servers = slices.Clone(sa.dns)
		domains = slices.Clone(sa.dnsDomains)
	})
	return servers, domains
}

// Subnets returns the networks the gateway announced as reachable through
// it (INTERNAL_IP4_SUBNET and INTERNAL_IP6_SUBNET, RFC 7296 section
// 3.15.1): a client routes them into the tunnel for a split tunnel.
func (s *SA) Subnets() []netip.Prefix {
	sa := s.sa()
	var out []netip.Prefix
	sa.do(context.Background(), func() { out = slices.Clone(sa.subnets) })
	return out
}

// Done is closed when the SA is gone (not when it is rekeyed).
func (s *SA) Done() <-chan struct{} { return s.done }

// Err returns why the SA ended (nil while it is up, and for an orderly
// Delete).
func (s *SA) Err() error {
	select {
	case <-s.done:
		return s.err
	default:
		return nil
	}
}

// Close deletes the SA, telling the gateway, and waits until it is gone.
func (s *SA) Close(ctx context.Context) error {
	for {
		sa := s.sa()
		if err := sa.do(ctx, func() { sa.startDelete(true, nil) }); err != nil && !errors.Is(err, ErrClosed) {
			return err
		}
		select {
		case <-s.done:
			return nil
		case <-sa.done:
			// That IKE SA was rekeyed away meanwhile: delete the new one.
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Close deletes every SA of the initiator and stops it.
func (in *Initiator) Close(ctx context.Context) error { return in.e.shutdown(ctx) }
