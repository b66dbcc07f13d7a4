package ike

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/goipsec/ipsec"
	"github.com/goipsec/ipsec/esp"
	"github.com/goipsec/ipsec/ike/wire"
	"github.com/goipsec/ipsec/internal/alg"
	"github.com/goipsec/ipsec/internal/kdf"
	"github.com/goipsec/ipsec/proposal"
)

// childSA is one CHILD SA pair (RFC 7296 section 1.3) of an IKE SA.
type childSA struct {
	name     string
	reqid    uint32
	spiIn    uint32             // ours: the peer sends with it
	spiOut   uint32             // the peer's
	prop     *proposal.Proposal // shared, immutable (intern.go)
	mode     esp.Mode
	localTS  []esp.Selector
	remoteTS []esp.Selector
	plane    childPlane // its ESP SAs and policies in the data plane
	rekeyAt  time.Time  // our rekey of this CHILD SA (zero: none)
	// Rekey bookkeeping for collisions (RFC 7296 section 2.8.1).
	ourRekey  *rekeyRecord // our completed rekey
	peerRekey *rekeyRecord // the peer's rekey of the same SA
	encap     bool
	// initiator: we initiated the exchange that created this CHILD SA,
	// which decides which half of KEYMAT protects our traffic (RFC 7296
	// section 2.17).
	initiator   bool
	established time.Time
	keys        *kdf.ChildKeys
	// deferOut: as responder of a CHILD rekey we install the new inbound
	// SA at once but the outbound SA only when the initiator deletes the
	// old one (or plane.outDeadline passes), so we never send with keys
	// the initiator may not have installed yet and no packet is lost
	// (strongSwan does the same).
	deferOut bool
	// offered are the proposals we offered for an additional CHILD SA
	// with its own ChildConfig (nil: the IKE SA's first ChildConfig).
	offered proposal.List
	// acct: traffic this CHILD SA took over from the SAs it replaced,
	// plus its own read from SAs it already removed (accounting.go).
	acct counters
	// passedOn: acct went to the successor or the session (the CHILD SA
	// left the data plane); a late expiry adds to both from then on.
	passedOn bool
}

// deferredOutMax bounds how long a rekey responder keeps sending through
// the old CHILD SA when the initiator does not delete it.
const deferredOutMax = 10 * time.Second

// dpTimeout bounds data plane calls from an SA goroutine.
const dpTimeout = 10 * time.Second

// newChildSPI draws an inbound ESP SPI; values below 256 are reserved
// (RFC 4303 section 2.1).
func (sa *ikeSA) newChildSPI() (uint32, error) {
	var b [4]byte
	for {
		if err := sa.e.random(b[:]); err != nil {
			return 0, err
		}
		if spi := binary.BigEndian.Uint32(b[:]); spi >= 256 {
			return spi, nil
		}
	}
}

// anyTS is the default local selector set: everything, IPv4 and IPv6.
var anyTS = []esp.Selector{esp.AnySelector(true), esp.AnySelector(false)}

func tsFromWire(ts *wire.TS) []esp.Selector {
	if ts == nil {
		return nil
	}
	var out []esp.Selector
	for _, s := range ts.Selectors {
		if s.Type != wire.TS_IPV4_ADDR_RANGE && s.Type != wire.TS_IPV6_ADDR_RANGE {
			continue // unknown selector types cannot be honoured (RFC 7296 3.13.1)
		}
		out = append(out, esp.Selector{Start: s.StartAddr, End: s.EndAddr, Proto: s.IPProtocol, StartPort: s.StartPort, EndPort: s.EndPort})
	}
	return out
}

func tsToWire(sels []esp.Selector, responder bool) *wire.TS {
	ts := &wire.TS{Responder: responder}
	for _, s := range sels {
		t := wire.TS_IPV4_ADDR_RANGE
		if s.Start.Is6() {
			t = wire.TS_IPV6_ADDR_RANGE
		}
		ts.Selectors = append(ts.Selectors, wire.TrafficSelector{Type: t, IPProtocol: s.Proto, StartPort: s.StartPort, EndPort: s.EndPort, StartAddr: s.Start, EndAddr: s.End})
	}
	return ts
}

// intersect narrows a to b (RFC 7296 section 2.9): the overlap of the
// address ranges, port ranges and protocols, if any.
func intersect(a, b esp.Selector) (esp.Selector, bool) {
	if a.Start.Is4() != b.Start.Is4() {
		return esp.Selector{}, false
	}
	r := esp.Selector{Start: maxAddr(a.Start, b.Start), End: minAddr(a.End, b.End)}
	if r.End.Less(r.Start) {
		return esp.Selector{}, false
	}
	switch {
	case a.Proto == b.Proto || b.Proto == 0:
		r.Proto = a.Proto
	case a.Proto == 0:
		r.Proto = b.Proto
	default:
		return esp.Selector{}, false
	}
	r.StartPort, r.EndPort = max(a.StartPort, b.StartPort), min(a.EndPort, b.EndPort)
	if r.EndPort < r.StartPort {
		// An OPAQUE port range (start 65535, end 0) means "ports not
		// available"; treat it as matching only when both say so.
		if a.StartPort == 65535 && a.EndPort == 0 && b.StartPort == 65535 && b.EndPort == 0 {
			r.StartPort, r.EndPort = 65535, 0
			return r, true
		}
		return esp.Selector{}, false
	}
	return r, true
}

func maxAddr(a, b netip.Addr) netip.Addr {
	if a.Less(b) {
		return b
	}
	return a
}

func minAddr(a, b netip.Addr) netip.Addr {
	if a.Less(b) {
		return a
	}
	return b
}

// narrow intersects every proposed selector with every allowed one.
func narrow(proposed, allowed []esp.Selector) []esp.Selector {
	var out []esp.Selector
	for _, p := range proposed {
		for _, a := range allowed {
			if r, ok := intersect(p, a); ok {
				out = append(out, r)
			}
		}
	}
	return out
}

// peerTSAllowed is what the peer may put in its TSi of a CHILD SA we
// respond to. A remote-access client may only use the virtual addresses it
// got. A gateway never falls back to "any" for a peer without one: with
// address pools configured the CP exchange is required (FAILED_CP_REQUIRED,
// as strongSwan answers "expected a virtual IP request") unless the
// configuration allows clients without a virtual IP; such a client gets the
// configured RemoteTS or, by default, its own outer address (strongSwan's
// "dynamic"), and never addresses of the pools, which belong to other
// clients. Otherwise one authenticated peer proposing 0.0.0.0/0 would get
// every packet the gateway sends (kernel data plane) or other clients'
// traffic. As IKE initiator (a client dialing a gateway) the configured
// RemoteTS, by default anything, is what we accept from the gateway.
func (sa *ikeSA) peerTSAllowed(cc ChildConfig) ([]esp.Selector, error) {
	if len(sa.leases) > 0 || len(sa.fixedAddrs) > 0 {
		var l []esp.Selector
		for _, x := range sa.leases {
			l = append(l, hostSelector(x.addr))
		}
		for _, a := range sa.fixedAddrs {
			l = append(l, hostSelector(a))
		}
		return l, nil
	}
	if sa.weInitiated {
		if len(cc.RemoteTS) == 0 {
			return anyTS, nil
		}
		return cc.RemoteTS, nil
	}
	if len(sa.cfg.Pools) > 0 && !sa.cfg.AllowNoVirtualIP {
		err := fmt.Errorf("ike: peer configuration %q has address pools but the peer requested no virtual IP (set PeerConfig.AllowNoVirtualIP to accept such clients)", sa.cfg.Name)
		return nil, notifyErr(wire.FAILED_CP_REQUIRED, err)
	}
	allowed := cc.RemoteTS
	if len(allowed) == 0 {
		allowed = []esp.Selector{hostSelector(sa.remote.Addr().Unmap())}
	}
	return excludePools(allowed, sa.cfg.Pools), nil
}

// excludePools removes the address ranges of pools from the selectors l.
func excludePools(l []esp.Selector, pools []ipsec.AddressPool) []esp.Selector {
	for _, pool := range pools {
		cut := esp.PrefixSelector(pool.Prefix())
		var out []esp.Selector
		for _, s := range l {
			out = append(out, subtractRange(s, cut.Start, cut.End)...)
		}
		l = out
	}
	return l
}

// subtractRange returns the parts of s outside the addresses lo..hi (of
// the same family), with s's protocol and ports.
func subtractRange(s esp.Selector, lo, hi netip.Addr) []esp.Selector {
	if s.Start.Is4() != lo.Is4() || s.End.Less(lo) || hi.Less(s.Start) {
		return []esp.Selector{s}
	}
	var out []esp.Selector
	if s.Start.Less(lo) {
		r := s
		r.End = lo.Prev()
		out = append(out, r)
	}
	if hi.Less(s.End) {
		r := s
		r.Start = hi.Next()
		out = append(out, r)
	}
	return out
}

// hostSelector covers exactly one address.
func hostSelector(a netip.Addr) esp.Selector {
	return esp.Selector{Start: a, End: a, EndPort: 65535}
}

// childConfig picks the child configuration for a new CHILD SA: the first
// one (configurations with several children select by TS later).
func (pa *peerAuth) childConfig() ChildConfig {
	if len(pa.cfg.Children) > 0 {
		return pa.cfg.Children[0]
	}
	return ChildConfig{Name: pa.cfg.Name}
}

// proposals returns the ESP proposals of c, the defaults when it has none.
// ADDKE transforms are left out: IKE_AUTH takes no key exchange, and in
// CREATE_CHILD_SA they would need IKE_FOLLOWUP_KE (RFC 9370 section
// 2.2.4), which is not implemented.
func (c ChildConfig) proposals() proposal.List {
	if c.Proposals != nil {
		if offersAddKE(c.Proposals) {
			return withoutAddKE(c.Proposals)
		}
		return c.Proposals
	}
	return proposal.CompatibleESP()
}

// respondChild negotiates a CHILD SA as responder from the peer's SA, TSi
// and TSr payloads (RFC 7296 sections 1.3, 2.7, 2.9). keSecret is the PFS
// secret (nil in IKE_AUTH). The returned payloads are SA, TSi, TSr.
func (sa *ikeSA) respondChild(sap *wire.SA, tsi, tsr *wire.TS, transport bool, skipKE bool) (*childSA, []wire.Payload, error) {
	return sa.respondChildKE(sap, tsi, tsr, transport, skipKE, proposal.KENone, nil)
}

// respondChildKE is respondChild with the method of the peer's KE payload
// (CREATE_CHILD_SA with PFS), which selection prefers.
func (sa *ikeSA) respondChildKE(sap *wire.SA, tsi, tsr *wire.TS, transport bool, skipKE bool, peerKE proposal.KEID, old *childSA) (*childSA, []wire.Payload, error) {
	cc := sa.childConfig()
	if old != nil && old.offered != nil {
		// A rekey of an additional CHILD SA of ours keeps its proposals.
		cc.Proposals = old.offered
	}
	if sap == nil || tsi == nil || tsr == nil {
		return nil, nil, notifyErr(wire.INVALID_SYNTAX, fmt.Errorf("%w: CHILD SA request lacks SA, TSi or TSr", ErrProtocol))
	}
	peer := listFromWire(sap)
	chosen, err := proposal.Select(cc.proposals(), peer, proposal.SelectOptions{SkipKE: skipKE, PreferPeer: sa.cfg.PreferPeerProposals, PreferKE: peerKE})
	if err != nil {
		detail := err.Error()
		var mm *proposal.MismatchError
		if errors.As(err, &mm) {
			detail = mm.Explain()
		}
		sa.log.Warn("ESP proposal mismatch", "notify", wire.NO_PROPOSAL_CHOSEN.String(), "err", err)
		sa.alert(AlertProposalMismatch, err, detail)
		return nil, nil, notifyErr(wire.NO_PROPOSAL_CHOSEN, err)
	}
	if len(chosen.SPI) != 4 {
		return nil, nil, notifyErr(wire.INVALID_SYNTAX, fmt.Errorf("%w: ESP SPI of %d bytes", ErrProtocol, len(chosen.SPI)))
	}
	localAllowed := cc.LocalTS
	if len(localAllowed) == 0 && len(sa.cfg.Subnets) > 0 && !sa.weInitiated {
		// A split tunnel: the networks we push are all the client may
		// reach (iOS and macOS route by the narrowed selectors).
		for _, p := range sa.cfg.Subnets {
			localAllowed = append(localAllowed, esp.PrefixSelector(p))
		}
	}
	if len(localAllowed) == 0 {
		localAllowed = anyTS
	}
	remoteAllowed, err := sa.peerTSAllowed(cc)
	if err != nil {
		return nil, nil, err
	}
	remoteTS := narrow(tsFromWire(tsi), remoteAllowed)
	localTS := narrow(tsFromWire(tsr), localAllowed)
	if len(remoteTS) == 0 || len(localTS) == 0 {
		return nil, nil, notifyErr(wire.TS_UNACCEPTABLE, fmt.Errorf("traffic selectors %v/%v outside %v/%v", tsFromWire(tsi), tsFromWire(tsr), remoteAllowed, localAllowed))
	}
	spi, err := sa.newChildSPI()
	if err != nil {
		return nil, nil, err
	}
	c := &childSA{
		name: cc.Name, reqid: sa.e.newReqID(), spiIn: spi, spiOut: binary.BigEndian.Uint32(chosen.SPI),
		prop: internProposal(chosen), localTS: localTS, remoteTS: remoteTS,
	}
	if old != nil {
		c.offered = old.offered
	}
	if transport && cc.Mode == esp.ModeTransport {
		c.mode = esp.ModeTransport
	}
	wp := propToWire(chosen, chosen.Number, binary.BigEndian.AppendUint32(nil, spi))
	payloads := []wire.Payload{&wire.SA{Proposals: []wire.Proposal{wp}}, tsToWire(remoteTS, false), tsToWire(localTS, true)}
	if c.mode == esp.ModeTransport {
		payloads = append([]wire.Payload{&wire.Notify{Type: wire.USE_TRANSPORT_MODE}}, payloads...)
	}
	return c, payloads, nil
}

// childKeys derives the CHILD SA keys (RFC 7296 section 2.17).
func (n *negotiated) childKeys(c *childSA, ni, nr []byte, secrets [][]byte) error {
	_, _, encLen, integLen, err := keyLengths(*c.prop)
	if err != nil {
		return err
	}
	keys, err := kdf.ChildSAKeys(n.prf, n.keys.SKd, ni, nr, secrets, encLen, integLen)
	if err != nil {
		return err
	}
	c.keys = keys
	return nil
}

// installChild puts the CHILD SA pair c and its policies into the data
// plane, through c's handle.
func (sa *ikeSA) installChild(c *childSA) error {
	c.established = sa.e.cfg.now()
	sa.writeChildKeyLog(c)
	c.plane.dp = sa.e.cfg.dp
	if c.plane.dp == nil {
		return nil
	}
	ctx, cancel := dpContext()
	defer cancel()
	encr, integ := c.prop.Encr[0], integOf(*c.prop)
	esn := len(c.prop.ESN) > 0 && c.prop.ESN[0] == proposal.ESNOn
	// Keys "I" protect traffic from the initiator of the exchange that
	// created the CHILD SA; for IKE_AUTH that is the IKE initiator.
	inEnc, inInt, outEnc, outInt := c.keys.EncI, c.keys.IntegI, c.keys.EncR, c.keys.IntegR
	if c.initiator {
		inEnc, inInt, outEnc, outInt = c.keys.EncR, c.keys.IntegR, c.keys.EncI, c.keys.IntegI
	}
	c.encap = sa.udpEncap()
	local, remote := sa.local, sa.remote
	if !c.encap {
		local, remote = netip.AddrPortFrom(local.Addr(), 0), netip.AddrPortFrom(remote.Addr(), 0)
	}
	// Volume limits trigger a rekey through the data plane's soft expiry;
	// LifeTime is the hard limit the data plane enforces itself.
	cc := sa.childConfig()
	life := esp.Lifetime{
		Soft: esp.Limits{Bytes: cc.RekeyBytes, Packets: cc.RekeyPackets},
		Hard: esp.Limits{Time: cc.LifeTime},
	}
	in := &esp.SA{SPI: c.spiIn, Dir: esp.DirIn, Mode: c.mode, Src: remote, Dst: local,
		Encr: encr.ID, EncrKeyBits: int(encr.KeyLen), Integ: integ, EncrKey: inEnc, IntegKey: inInt, ESN: esn, ReqID: c.reqid,
		Lifetime: life, IfID: cc.IfID}
	out := &esp.SA{SPI: c.spiOut, Dir: esp.DirOut, Mode: c.mode, Src: local, Dst: remote,
		Encr: encr.ID, EncrKeyBits: int(encr.KeyLen), Integ: integ, EncrKey: outEnc, IntegKey: outInt, ESN: esn, ReqID: c.reqid,
		NATKeepalive: sa.natLocal, Lifetime: life, IfID: cc.IfID}
	for _, s := range []*esp.SA{in, out} {
		if err := c.plane.addSA(ctx, s, s.Dir == esp.DirOut && c.deferOut); err != nil {
			sa.removeChild(c)
			return fmt.Errorf("ike: data plane: add SA %s: %w", s.ID(), err)
		}
	}
	if sa.policyHolder(c.reqid, c) != nil {
		// A rekey: the policies stay with the ReqID and the data plane
		// sends through the newest outbound SA.
		return nil
	}
	for _, l := range c.localTS {
		for _, r := range c.remoteTS {
			if l.Start.Is4() != r.Start.Is4() {
				continue
			}
			for _, p := range []esp.Policy{
				{Dir: esp.DirOut, Src: l, Dst: r, Action: esp.ActionProtect, ReqID: c.reqid, IfID: cc.IfID},
				{Dir: esp.DirIn, Src: r, Dst: l, Action: esp.ActionProtect, ReqID: c.reqid, IfID: cc.IfID},
			} {
				if err := c.plane.addPolicy(ctx, p); err != nil {
					sa.removeChild(c)
					return fmt.Errorf("ike: data plane: add policy: %w", err)
				}
			}
		}
	}
	return nil
}

// activateOut installs c's deferred outbound SA (see deferOut), with the
// IKE SA's current addresses (MOBIKE may have moved them meanwhile).
func (sa *ikeSA) activateOut(c *childSA) {
	if ok, err := c.plane.activateOut(c.encap, sa.local, sa.remote, sa.natLocal); ok && err != nil {
		sa.log.Warn("data plane: add outbound SA of rekeyed CHILD SA", "child_sa", c.name, "err", err)
	}
}

// activateSuccessors installs the deferred outbound SAs of old's
// successors before old goes: traffic moves to the new keys.
func (sa *ikeSA) activateSuccessors(old *childSA) {
	for _, x := range sa.children {
		if x != old && x.reqid == old.reqid && x.plane.outDeferred != nil {
			sa.activateOut(x)
		}
	}
}

// activateDueOutbound installs deferred outbound SAs whose wait is over.
func (sa *ikeSA) activateDueOutbound(now time.Time) {
	for _, c := range sa.children {
		if c.plane.outDeferred != nil && !now.Before(c.plane.outDeadline) {
			sa.activateOut(c)
		}
	}
}

// removeOut takes c's outbound SA out of the data plane; the inbound one
// stays until the peer confirms the Delete.
func (sa *ikeSA) removeOut(c *childSA) {
	sa.book(c, c.plane.removeOut())
}

// removeChild takes the CHILD SA c out of the data plane and passes its
// counters on.
func (sa *ikeSA) removeChild(c *childSA) {
	if c.keys != nil {
		c.keys.Wipe()
	}
	if c.plane.dp == nil {
		c.plane.outDeferred = nil
		return
	}
	heir := sa.sibling(c)
	var hp *childPlane
	if heir != nil {
		hp = &heir.plane
	}
	sa.book(c, c.plane.remove(hp))
	sa.passOnCounters(c, heir)
}

// sibling returns another live CHILD SA with c's ReqID (the rekeyed one
// or its successor), if any.
func (sa *ikeSA) sibling(c *childSA) *childSA {
	for _, x := range sa.children {
		if x != c && x.reqid == c.reqid && x.plane.installed != nil {
			return x
		}
	}
	return nil
}

// policyHolder returns the CHILD SA other than c that holds the policies
// of reqid.
func (sa *ikeSA) policyHolder(reqid uint32, c *childSA) *childSA {
	for _, x := range sa.children {
		if x != c && x.reqid == reqid && x.plane.policies != nil {
			return x
		}
	}
	return nil
}

// moveChild moves c's outer addresses in the data plane to the IKE SA's
// current path: a NAT rebinding or a MOBIKE move, which may also switch
// UDP encapsulation on or off (RFC 4555 section 3.5).
func (sa *ikeSA) moveChild(c *childSA) {
	c.encap = sa.udpEncap()
	for _, err := range c.plane.move(c.encap, sa.local, sa.remote, sa.natLocal) {
		sa.log.Warn("data plane: update SA addresses", "child_sa", c.name, "err", err)
	}
}

func selectorString(s esp.Selector) string {
	if p, ok := selectorPrefix(s); ok {
		return p.String()
	}
	return s.Start.String() + ".." + s.End.String()
}

// selectorPrefix returns the prefix a selector covers, if it is one.
func selectorPrefix(s esp.Selector) (netip.Prefix, bool) {
	for bits := 0; bits <= s.Start.BitLen(); bits++ {
		p := netip.PrefixFrom(s.Start, bits).Masked()
		if p.Addr() == s.Start && esp.PrefixSelector(p).End == s.End {
			return p, true
		}
	}
	return netip.Prefix{}, false
}

func (c *childSA) info() ipsec.ChildSAInfo {
	in := ipsec.ChildSAInfo{
		Name: c.name, State: "INSTALLED", Transport: c.mode == esp.ModeTransport, UDPEncap: c.encap,
		SPIIn: c.spiIn, SPIOut: c.spiOut, Proposal: c.prop.String(), Established: c.established,
	}
	for _, s := range c.localTS {
		in.LocalTS = append(in.LocalTS, selectorString(s))
	}
	for _, s := range c.remoteTS {
		in.RemoteTS = append(in.RemoteTS, selectorString(s))
	}
	return in
}

// integOf returns the negotiated integrity transform (IntegNone with an
// AEAD).
func integOf(p proposal.Proposal) proposal.IntegID {
	if len(p.Integ) > 0 {
		return p.Integ[0]
	}
	return proposal.IntegNone
}

// keyLengths returns a selected proposal's encryption and integrity
// transforms and the key lengths KEYMAT must supply for them (the AEAD
// salt included).
func keyLengths(p proposal.Proposal) (encr proposal.Encr, integ proposal.IntegID, encLen, integLen int, err error) {
	encr, integ = p.Encr[0], integOf(p)
	if encLen, err = alg.KeyLen(encr.ID, int(encr.KeyLen)); err != nil {
		return
	}
	if integ != proposal.IntegNone {
		integLen, err = alg.IntegKeyLen(integ)
	}
	return
}
