package esp

import (
	"net/netip"
	"slices"
	"sync/atomic"
)

// policyState is an installed policy with its acquire rate limit.
type policyState struct {
	p           Policy
	prio        uint32       // p.Priority, or AutoPriority when it is 0
	seqNo       uint64       // insertion order: ties in priority go to the older policy
	lastAcquire atomic.Int64 // unix nanoseconds of the last EventAcquire
}

// newPolicyState is p as the seqNo-th policy installed, with its
// effective priority.
func newPolicyState(p Policy, seqNo uint64) *policyState {
	ps := &policyState{p: p, prio: p.Priority, seqNo: seqNo}
	if ps.prio == 0 {
		ps.prio = AutoPriority(p.Src, p.Dst)
	}
	return ps
}

func (ps *policyState) matches(f *flow) bool {
	return ps.p.Src.matches(f.src, f.proto, f.sport) && ps.p.Dst.matches(f.dst, f.proto, f.dport)
}

func (ps *policyState) better(o *policyState) bool {
	return o == nil || ps.prio < o.prio || (ps.prio == o.prio && ps.seqNo < o.seqNo)
}

// spd is the security policy database of one direction. Road-warrior
// gateways install one policy per client virtual IP, so policies whose
// matching key selector is a single address are hashed by it; the rest
// are scanned in priority order.
type spd struct {
	byKey map[policyKey]*policyState
	// shadow holds, per key, older policies with the same selectors from
	// other ReqIDs (two peers negotiating identical traffic selectors),
	// oldest first: as in strongSwan, the newest carries the traffic and
	// the next one takes over when it is deleted.
	shadow map[policyKey][]*policyState
	byAddr map[netip.Addr][]*policyState // single-address selectors, keyed by that address
	list   []*policyState                // the rest, sorted by priority
	// keyDst says which selector indexes: the destination for outbound
	// (a packet to a client), the source for inbound (from a client).
	keyDst bool
}

func newSPD(keyDst bool) spd {
	return spd{byKey: map[policyKey]*policyState{}, shadow: map[policyKey][]*policyState{}, byAddr: map[netip.Addr][]*policyState{}, keyDst: keyDst}
}

func (d *spd) indexSel(p *Policy) *Selector {
	if d.keyDst {
		return &p.Dst
	}
	return &p.Src
}

func (d *spd) add(ps *policyState) {
	d.byKey[ps.p.key()] = ps
	if s := d.indexSel(&ps.p); s.single() {
		d.byAddr[s.Start] = append(d.byAddr[s.Start], ps)
		return
	}
	d.list = append(d.list, ps)
	slices.SortStableFunc(d.list, func(a, b *policyState) int {
		if a.better(b) {
			return -1
		}
		if b.better(a) {
			return 1
		}
		return 0
	})
}

func (d *spd) remove(k policyKey) *policyState {
	ps := d.byKey[k]
	if ps == nil {
		return nil
	}
	delete(d.byKey, k)
	del := func(l []*policyState) []*policyState {
		return slices.DeleteFunc(l, func(x *policyState) bool { return x == ps })
	}
	if s := d.indexSel(&ps.p); s.single() {
		if l := del(d.byAddr[s.Start]); len(l) > 0 {
			d.byAddr[s.Start] = l
		} else {
			delete(d.byAddr, s.Start)
		}
	} else {
		d.list = del(d.list)
	}
	return ps
}

// lookup returns the best policy for f, or nil.
func (d *spd) lookup(f *flow) *policyState {
	var best *policyState
	a := f.src
	if d.keyDst {
		a = f.dst
	}
	for _, ps := range d.byAddr[a] {
		if ps.matches(f) && ps.better(best) {
			best = ps
		}
	}
	for _, ps := range d.list {
		if best != nil && best.better(ps) {
			break // sorted: nothing later can win
		}
		if ps.matches(f) {
			return ps
		}
	}
	return best
}

// tables holds everything packet processing looks up, guarded by
// Userspace.mu (read-locked once per batch).
type tables struct {
	in     map[uint32]*saState   // inbound SAs by SPI
	out    map[SAID]*saState     // outbound SAs by ID
	outReq map[uint32][]*saState // outbound SAs by ReqID, newest last
	spdOut spd
	spdIn  spd
	// inReq indexes inbound policies by ReqID for the post-decryption
	// selector check (RFC 4301 section 5.2 step 4).
	inReq    map[uint32][]*policyState
	polSeqNo uint64
}

func newTables() tables {
	return tables{
		in:     map[uint32]*saState{},
		out:    map[SAID]*saState{},
		outReq: map[uint32][]*saState{},
		spdOut: newSPD(true),
		spdIn:  newSPD(false),
		inReq:  map[uint32][]*policyState{},
	}
}

// outSA is the SA an outbound packet for reqid uses: the newest one.
func (t *tables) outSA(reqid uint32) *saState {
	l := t.outReq[reqid]
	if len(l) == 0 {
		return nil
	}
	return l[len(l)-1]
}

// inboundAllowed reports whether the decrypted packet f may arrive
// through an SA with reqid: some inbound protect policy of that ReqID
// must cover it.
func (t *tables) inboundAllowed(reqid uint32, f *flow) bool {
	for _, ps := range t.inReq[reqid] {
		if ps.p.Action == ActionProtect && ps.matches(f) {
			return true
		}
	}
	return false
}
