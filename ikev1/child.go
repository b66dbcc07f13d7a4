package ikev1

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/goipsec/ipsec"
	"github.com/goipsec/ipsec/esp"
	"github.com/goipsec/ipsec/ikev1/wire"
	"github.com/goipsec/ipsec/internal/alg"
	"github.com/goipsec/ipsec/internal/kdf"
	"github.com/goipsec/ipsec/proposal"
)

// dpTimeout bounds one data plane call.
const dpTimeout = 5 * time.Second

// child is an installed IPsec SA pair (one Quick Mode).
type child struct {
	name        string
	cc          ChildConfig
	initiator   bool // we started the Quick Mode
	spiIn       uint32
	spiOut      uint32
	prop        proposal.Proposal
	transport   bool
	encap       bool
	localTS     []esp.Selector
	remoteTS    []esp.Selector
	reqid       uint32
	installed   []esp.SAID
	polKey      string
	released    bool
	established time.Time
	expires     time.Time
	rekeyAt     time.Time
	rekeying    bool
	outPending  *esp.SA // our outbound SA, installed at outDue (see newChild)
	outDue      time.Time
	replaces    *child // the IPsec SA deleted once outPending is active
	rekeyed     bool
	final       [2]esp.SAStats // in, out: counters read when the SA left the data plane
}

// deferOut is how long the initiator of a Quick Mode that replaces an
// IPsec SA keeps sending through the old one: beyond the responder's
// first retransmission of its answer (4 s), which repairs a lost final
// message.
const deferOut = 6 * time.Second

func (c *child) deadline() time.Time {
	if c.outPending != nil {
		return c.outDue
	}
	if !c.rekeyAt.IsZero() && !c.rekeying && !c.rekeyed {
		if c.rekeyAt.Before(c.expires) {
			return c.rekeyAt
		}
	}
	return c.expires
}

// integOf is the negotiated integrity algorithm (IntegNone with an AEAD).
func integOf(p proposal.Proposal) proposal.IntegID {
	if len(p.Integ) > 0 {
		return p.Integ[0]
	}
	return proposal.IntegNone
}

// newChild keys a finished Quick Mode (RFC 2409 section 5.5: KEYMAT per
// direction from the SPI of that direction's receiver) and installs it.
func (sa *isakmpSA) newChild(q *quickMode) (*child, error) {
	encr, integ := q.prop.Encr[0], integOf(q.prop)
	encLen, err := alg.KeyLen(encr.ID, int(encr.KeyLen))
	if err != nil {
		return nil, err
	}
	integLen := 0
	if integ != proposal.IntegNone {
		if integLen, err = alg.IntegKeyLen(integ); err != nil {
			return nil, err
		}
	}
	ni, nr := q.ni, q.nr // Ni_b | Nr_b of the Quick Mode's initiator, in both roles
	kin := kdf.V1QuickModeKEYMAT(sa.keys.prf, sa.keys.v1.SKEYIDd, q.gqmxy, byte(wire.ProtoIPsecESP), be32(q.spiIn), ni, nr, encLen+integLen)
	kout := kdf.V1QuickModeKEYMAT(sa.keys.prf, sa.keys.v1.SKEYIDd, q.gqmxy, byte(wire.ProtoIPsecESP), be32(q.spiOut), ni, nr, encLen+integLen)
	defer kin.Wipe()
	defer kout.Wipe()
	now := sa.e.cfg.now()
	c := &child{name: q.cc.Name, cc: q.cc, initiator: q.initiator, spiIn: q.spiIn, spiOut: q.spiOut, prop: q.prop,
		transport: q.cc.Transport, encap: sa.udpEncap(), localTS: q.localTS, remoteTS: q.remoteTS,
		established: now, expires: now.Add(q.life)}
	if c.name == "" {
		c.name = sa.cfg.Name
	}
	if q.initiator {
		c.rekeyAt = c.expires.Add(-q.cc.rekeyMargin())
	}
	c.polKey = policyKey(c, sa.remote)
	// The policies belong to the selectors, shared by every IPsec SA with
	// them (rekeys, and the IPsec SAs of a new ISAKMP SA after the
	// client's re-authentication), so traffic moves to the newest SA
	// without a gap. In transport mode they belong to the selectors and
	// the peer's outer address and port: two L2TP clients behind one NAT
	// negotiate identical selectors (the NAT's address, udp/1701) and
	// must not share a ReqID, which is what tells their traffic apart.
	sa.e.polMu.Lock()
	defer sa.e.polMu.Unlock()
	ref, fresh := sa.e.acquirePolicies(c.polKey)
	c.reqid = ref.reqid
	sa.writeChildKeyLog(c, kin[:encLen], kin[encLen:], kout[:encLen], kout[encLen:])
	dp := sa.e.cfg.dp
	if dp == nil {
		return c, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), dpTimeout)
	defer cancel()
	mode := esp.ModeTunnel
	if c.transport {
		mode = esp.ModeTransport
	}
	local, remote := sa.local, sa.remote
	if !c.encap {
		local, remote = netip.AddrPortFrom(local.Addr(), 0), netip.AddrPortFrom(remote.Addr(), 0)
	}
	life := esp.Lifetime{Hard: esp.Limits{Time: q.life + 30*time.Second, Bytes: q.lifeBytes}}
	in := &esp.SA{SPI: c.spiIn, Dir: esp.DirIn, Mode: mode, Src: remote, Dst: local, Encr: encr.ID, EncrKeyBits: int(encr.KeyLen),
		Integ: integ, EncrKey: kin[:encLen], IntegKey: kin[encLen:], ReqID: c.reqid, Lifetime: life}
	out := &esp.SA{SPI: c.spiOut, Dir: esp.DirOut, Mode: mode, Src: local, Dst: remote, Encr: encr.ID, EncrKeyBits: int(encr.KeyLen),
		Integ: integ, EncrKey: kout[:encLen], IntegKey: kout[encLen:], ReqID: c.reqid, Lifetime: life, NATKeepalive: sa.nat.local}
	sas := []*esp.SA{in, out}
	if q.initiator && !fresh {
		// Another IPsec SA carries the selectors' traffic (a rekey, or
		// our re-authentication): keep sending through it until the
		// responder surely installed this one, which it does only on our
		// last Quick Mode message (RFC 2409 has no answer to it; a lost
		// one is repaired when the responder retransmits).
		out.EncrKey, out.IntegKey = bytes.Clone(out.EncrKey), bytes.Clone(out.IntegKey)
		c.outPending, c.outDue = out, now.Add(deferOut)
		sas = sas[:1]
	}
	for _, s := range sas {
		if err := dp.AddSA(ctx, s); err != nil {
			sa.removeChildLocked(c)
			return nil, fmt.Errorf("ikev1: data plane: add SA %s: %w", s.ID(), err)
		}
		c.installed = append(c.installed, s.ID())
	}
	if !fresh {
		return c, nil
	}
	for _, l := range c.localTS {
		for _, r := range c.remoteTS {
			if l.Start.Is4() != r.Start.Is4() {
				continue
			}
			for _, p := range []esp.Policy{
				{Dir: esp.DirOut, Src: l, Dst: r, Action: esp.ActionProtect, ReqID: c.reqid},
				{Dir: esp.DirIn, Src: r, Dst: l, Action: esp.ActionProtect, ReqID: c.reqid},
			} {
				if err := dp.AddPolicy(ctx, p); err != nil {
					sa.removeChildLocked(c)
					return nil, fmt.Errorf("ikev1: data plane: add policy: %w", err)
				}
				ref.pols = append(ref.pols, p)
			}
		}
	}
	return c, nil
}

// removeChild takes an IPsec SA out of the data plane, keeping its final
// counters; its selectors' policies go with the last IPsec SA using them.
// When c was the last IPsec SA with its ReqID, the ReqIDDown hook runs
// (after the lock is released).
func (sa *isakmpSA) removeChild(c *child) {
	sa.e.polMu.Lock()
	last := sa.removeChildLocked(c)
	sa.e.polMu.Unlock()
	if h := sa.e.cfg.hooks.ReqIDDown; h != nil && last {
		h(c.reqid)
	}
}

// removeChildLocked reports whether c was the last IPsec SA with its
// ReqID.
func (sa *isakmpSA) removeChildLocked(c *child) bool {
	pols, last := sa.e.releasePolicies(c)
	dp := sa.e.cfg.dp
	if dp == nil {
		return last
	}
	ctx, cancel := context.WithTimeout(context.Background(), dpTimeout)
	defer cancel()
	for _, p := range pols {
		dp.DeletePolicy(ctx, p)
	}
	for _, id := range c.installed {
		if st, err := dp.SAStats(id); err == nil {
			if id.Dir == esp.DirIn {
				c.final[0] = st
			} else {
				c.final[1] = st
			}
		}
		dp.DeleteSA(ctx, id)
	}
	c.installed = nil
	return last
}

// policyKey names the policies of an IPsec SA: its selectors and mode,
// and in transport mode the peer's outer address and port (see newChild).
func policyKey(c *child, remote netip.AddrPort) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%v|", c.transport)
	if c.transport {
		fmt.Fprintf(&b, "%s|", remote)
	}
	for _, s := range c.localTS {
		b.WriteString(selString(s) + ",")
	}
	b.WriteString("|")
	for _, s := range c.remoteTS {
		b.WriteString(selString(s) + ",")
	}
	return b.String()
}

// policyRef is the policies of one set of selectors and the IPsec SAs
// using them.
type policyRef struct {
	reqid uint32
	users int
	pols  []esp.Policy
}

// acquirePolicies returns the policies of key, fresh when no IPsec SA
// used them yet (the caller installs them). e.polMu is held.
func (e *engine) acquirePolicies(key string) (*policyRef, bool) {
	if ref := e.policies[key]; ref != nil {
		ref.users++
		return ref, false
	}
	ref := &policyRef{reqid: e.reqid.Add(1), users: 1}
	e.policies[key] = ref
	return ref, true
}

// releasePolicies ends c's use of its policies and returns them, and
// true, when it was the last user. e.polMu is held.
func (e *engine) releasePolicies(c *child) ([]esp.Policy, bool) {
	if c.released || c.polKey == "" {
		return nil, false
	}
	c.released = true
	ref := e.policies[c.polKey]
	if ref == nil {
		return nil, false
	}
	if ref.users--; ref.users > 0 {
		return nil, false
	}
	delete(e.policies, c.polKey)
	return ref.pols, true
}

// info is the IPsec SA's snapshot with its counters.
func (c *child) info(sa *isakmpSA) ipsec.ChildSAInfo {
	in := ipsec.ChildSAInfo{Name: c.name, State: "INSTALLED", Transport: c.transport, UDPEncap: c.encap,
		SPIIn: c.spiIn, SPIOut: c.spiOut, ReqID: c.reqid, Proposal: c.prop.String(), Established: c.established}
	if !c.rekeyAt.IsZero() {
		in.RekeyAt = c.rekeyAt
	}
	for _, s := range c.localTS {
		in.LocalTS = append(in.LocalTS, selString(s))
	}
	for _, s := range c.remoteTS {
		in.RemoteTS = append(in.RemoteTS, selString(s))
	}
	st := c.final
	if dp := sa.e.cfg.dp; dp != nil {
		for _, id := range c.installed {
			if x, err := dp.SAStats(id); err == nil {
				if id.Dir == esp.DirIn {
					st[0] = x
				} else {
					st[1] = x
				}
			}
		}
	}
	in.BytesIn, in.PacketsIn, in.LastIn = st[0].Bytes, st[0].Packets, st[0].LastUse
	in.BytesOut, in.PacketsOut, in.LastOut = st[1].Bytes, st[1].Packets, st[1].LastUse
	return in
}

// deleteChild removes an IPsec SA; with notify the peer gets a Delete.
func (sa *isakmpSA) deleteChild(c *child, notify bool) {
	idx := -1
	for i, o := range sa.children {
		if o == c {
			idx = i
		}
	}
	if idx < 0 {
		return
	}
	if notify && sa.state == stateEstablished {
		sa.sendDeleteIPsec([]uint32{c.spiIn})
	}
	if c.outPending != nil {
		clear(c.outPending.EncrKey)
		clear(c.outPending.IntegKey)
		c.outPending = nil
	}
	sa.e.polMu.Lock()
	last := sa.removeChildLocked(c)
	sa.e.polMu.Unlock()
	ike, _ := sa.info()
	ci := c.info(sa)
	sa.children = append(sa.children[:idx], sa.children[idx+1:]...)
	sa.log.Info("IPsec SA deleted", "child_sa", c.name, "spi_in", fmt.Sprintf("%08x", c.spiIn), "spi_out", fmt.Sprintf("%08x", c.spiOut),
		"bytes_in", ci.BytesIn, "bytes_out", ci.BytesOut)
	if h := sa.e.cfg.hooks.ChildDown; h != nil {
		h(ike, ci)
	}
	if h := sa.e.cfg.hooks.ReqIDDown; h != nil && last {
		h(c.reqid)
	}
}

// deleteChildren removes every IPsec SA, with one Delete for all when
// notify is set.
func (sa *isakmpSA) deleteChildren(notify bool) {
	if notify && len(sa.children) > 0 && sa.state == stateEstablished {
		spis := make([]uint32, 0, len(sa.children))
		for _, c := range sa.children {
			spis = append(spis, c.spiIn)
		}
		sa.sendDeleteIPsec(spis)
	}
	for len(sa.children) > 0 {
		sa.deleteChild(sa.children[len(sa.children)-1], false)
	}
}

// childTimers rekeys (as the Quick Mode's initiator) and expires IPsec SAs.
func (sa *isakmpSA) childTimers(now time.Time) {
	for _, c := range append([]*child(nil), sa.children...) {
		if c.outPending != nil && !now.Before(c.outDue) {
			sa.activateOut(c)
		}
		switch {
		case !now.Before(c.expires):
			if x := sa.successorOf(c); x != nil {
				sa.activateOut(x) // deletes c
				continue
			}
			sa.log.Info("IPsec SA expired", "child_sa", c.name)
			sa.deleteChild(c, true)
		case c.initiator && !c.rekeyAt.IsZero() && !c.rekeying && !c.rekeyed && !now.Before(c.rekeyAt):
			c.rekeying = true
			sa.log.Debug("rekeying IPsec SA", "child_sa", c.name)
			if err := sa.startQuick(c.cc, c); err != nil {
				sa.log.Warn("rekeying IPsec SA failed", "child_sa", c.name, "err", err)
			}
		}
	}
}

// successorOf returns the IPsec SA whose deferred outbound SA waits to
// replace c.
func (sa *isakmpSA) successorOf(c *child) *child {
	for _, x := range sa.children {
		if x.replaces == c && x.outPending != nil {
			return x
		}
	}
	return nil
}

// activateOut installs a deferred outbound SA: traffic moves to the new
// IPsec SA, and the one it replaced (or the ISAKMP SA ours replaced) is
// deleted.
func (sa *isakmpSA) activateOut(c *child) {
	out := c.outPending
	c.outPending = nil
	if dp := sa.e.cfg.dp; dp != nil && out != nil {
		ctx, cancel := context.WithTimeout(context.Background(), dpTimeout)
		err := dp.AddSA(ctx, out)
		cancel()
		if err != nil {
			sa.log.Warn("data plane: add outbound SA", "child_sa", c.name, "err", err)
		} else {
			c.installed = append(c.installed, out.ID())
		}
	}
	if out != nil {
		clear(out.EncrKey)
		clear(out.IntegKey)
	}
	if old := c.replaces; old != nil {
		c.replaces = nil
		sa.deleteChild(old, true)
	}
	sa.replacePredecessor()
}

// initiateChildren starts the Quick Mode of the configuration's first
// IPsec SA after phase 1 (our initiator).
func (sa *isakmpSA) initiateChildren() {
	ccs := sa.cfg.Children
	if len(ccs) == 0 {
		ccs = []ChildConfig{{Name: sa.cfg.Name}}
	}
	for _, cc := range ccs {
		if err := sa.startQuick(cc, nil); err != nil {
			sa.log.Warn("starting Quick Mode failed", "child_sa", cc.Name, "err", err)
			sa.notifyWaiters(err)
			return
		}
	}
}
