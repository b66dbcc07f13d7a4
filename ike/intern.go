package ike

import (
	"reflect"
	"runtime"
	"sync"
	"weak"

	"github.com/goipsec/ipsec/proposal"
)

// Negotiated proposals are shared: every IKE SA and CHILD SA holds a
// pointer to one immutable copy per distinct selection instead of its own
// proposal.Proposal (344 bytes plus a slice per transform type), because
// a gateway's thousands of SAs are negotiated from a handful of
// combinations. The copies carry no SPI and no proposal number (each SA
// keeps its SPIs in its own fields; the number the peer gave the chosen
// proposal is echoed in the response before interning, or kept beside it)
// and are never modified, so the selections of a configuration are few
// whatever the peers send; the table holds at most
// maxInternedProposals of them, after which selections are simply not
// shared (a peer that cycles through odd combinations cannot grow it).

// noProposal is what an SA holds before it has negotiated.
var noProposal = &proposal.Proposal{}

const maxInternedProposals = 256

var proposals struct {
	mu sync.Mutex
	m  map[string]*proposal.Proposal
}

// internProposal returns the shared copy of p without its SPI and number.
func internProposal(p proposal.Proposal) *proposal.Proposal {
	p.SPI, p.Number = nil, 0
	key := internKey(&p)
	proposals.mu.Lock()
	defer proposals.mu.Unlock()
	if s, ok := proposals.m[key]; ok {
		return s
	}
	c := p.Clone()
	s := &c
	if proposals.m == nil {
		proposals.m = make(map[string]*proposal.Proposal)
	}
	if len(proposals.m) < maxInternedProposals {
		proposals.m[key] = s
	}
	return s
}

// internKey identifies a proposal: its protocol and every transform with
// its attributes (the string form of proposal.Proposal leaves unknown
// transforms out).
func internKey(p *proposal.Proposal) string {
	b := make([]byte, 0, 64)
	b = append(b, byte(p.Protocol))
	for _, e := range p.Encr {
		b = append(b, 1, byte(e.ID>>8), byte(e.ID), byte(e.KeyLen>>8), byte(e.KeyLen))
	}
	for _, x := range p.PRF {
		b = append(b, 2, byte(x>>8), byte(x))
	}
	for _, x := range p.Integ {
		b = append(b, 3, byte(x>>8), byte(x))
	}
	for _, x := range p.KE {
		b = append(b, 4, byte(x>>8), byte(x))
	}
	for _, x := range p.ESN {
		b = append(b, 5, byte(x>>8), byte(x))
	}
	for i, l := range p.AddKE {
		for _, x := range l {
			b = append(b, byte(6+i), byte(x>>8), byte(x))
		}
	}
	for _, t := range p.Unknown {
		b = append(b, 0xff, byte(t.Type), byte(t.ID>>8), byte(t.ID), byte(t.KeyLen>>8), byte(t.KeyLen))
	}
	return string(b)
}

// The configurations of established responder SAs are shared too: once
// both AUTH payloads are computed, a responder SA needs no secret of its
// PeerConfig, and its copy usually equals that of every other client the
// same lookup answered (a PeerConfig with its slices is about a kilobyte).
// sharedConfig swaps an SA's copy for an equal one already in use. The
// table holds weak pointers, so a configuration no SA uses any more is
// collected and its entry goes with it; it holds at most
// maxSharedPerName configurations per name. Configurations with a
// function (VerifyCertificate) are never equal (reflect.DeepEqual), so
// they stay the SA's own.

const maxSharedPerName = 8

type configTable struct {
	mu sync.Mutex
	m  map[string][]weak.Pointer[PeerConfig]
}

// share returns a configuration equal to c that other SAs already use, or
// c itself, recorded for the next ones. c's secrets must be wiped; they
// are dropped (the shared copy has none to wipe), and the SA must treat
// the result as lent (ikeSA.cfgLent).
func (t *configTable) share(c *PeerConfig) *PeerConfig {
	c.Local.PSK, c.Remote.PSK, c.Local.EAPPassword = nil, nil, nil
	t.mu.Lock()
	defer t.mu.Unlock()
	list := t.m[c.Name]
	live := list[:0]
	var found *PeerConfig
	for _, w := range list {
		s := w.Value()
		if s == nil {
			continue
		}
		live = append(live, w)
		if found == nil && reflect.DeepEqual(s, c) {
			found = s
		}
	}
	if found != nil {
		t.setLocked(c.Name, live)
		return found
	}
	if len(live) < maxSharedPerName {
		live = append(live, weak.Make(c))
		runtime.AddCleanup(c, t.prune, c.Name)
	}
	t.setLocked(c.Name, live)
	return c
}

// prune drops the collected configurations of name.
func (t *configTable) prune(name string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	list := t.m[name]
	live := list[:0]
	for _, w := range list {
		if w.Value() != nil {
			live = append(live, w)
		}
	}
	clear(list[len(live):])
	t.setLocked(name, live)
}

func (t *configTable) setLocked(name string, list []weak.Pointer[PeerConfig]) {
	if len(list) == 0 {
		delete(t.m, name)
		return
	}
	if t.m == nil {
		t.m = make(map[string][]weak.Pointer[PeerConfig])
	}
	t.m[name] = list
}
