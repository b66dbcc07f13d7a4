package ike

import (
	"context"
	"net/netip"
	"time"

	"github.com/goipsec/ipsec/esp"
)

// childPlane is a CHILD SA's handle on the data plane: the ESP SAs and
// policies the CHILD SA installed, and the calls that install, update and
// remove them and read their counters. A CHILD SA holds it instead of a
// pointer to its IKE SA: what only the IKE SA knows (its addresses, the
// configuration, where counters go) is handed in by the IKE SA's code in
// child.go and accounting.go.
type childPlane struct {
	dp        esp.DataPlane // nil: no data plane, nothing is installed
	installed []esp.SAID
	sas       []esp.SA // copies of what was installed, for UpdateSA
	policies  []esp.Policy
	// outDeferred and outDeadline: the outbound SA of a rekey we answered,
	// installed when the initiator deletes the old one or outDeadline
	// passes (see childSA.deferOut).
	outDeferred *esp.SA
	outDeadline time.Time
}

// retired is an ESP SA that left the data plane: its final counters, or
// ok false when the data plane had removed it by itself (a hard
// lifetime) and they went with its expiry event.
type retired struct {
	id esp.SAID
	st esp.SAStats
	ok bool
}

// dpContext bounds one data plane call from an SA goroutine.
func dpContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), dpTimeout)
}

// addSA installs s; with deferIt set it keeps s, an outbound SA, for
// activateOut instead.
func (p *childPlane) addSA(ctx context.Context, s *esp.SA, deferIt bool) error {
	if deferIt {
		p.outDeferred, p.outDeadline = s, time.Now().Add(deferredOutMax)
		return nil
	}
	if err := p.dp.AddSA(ctx, s); err != nil {
		return err
	}
	p.installed = append(p.installed, s.ID())
	p.sas = append(p.sas, *s)
	return nil
}

// addPolicy installs a policy of the CHILD SA.
func (p *childPlane) addPolicy(ctx context.Context, pol esp.Policy) error {
	if err := p.dp.AddPolicy(ctx, pol); err != nil {
		return err
	}
	p.policies = append(p.policies, pol)
	return nil
}

// activateOut installs the deferred outbound SA, with the outer addresses
// given when encapsulated (MOBIKE may have moved them meanwhile). It
// reports whether there was one.
func (p *childPlane) activateOut(encap bool, local, remote netip.AddrPort, keepalive bool) (bool, error) {
	s := p.outDeferred
	if s == nil {
		return false, nil
	}
	p.outDeferred, p.outDeadline = nil, time.Time{}
	if p.dp == nil {
		return true, nil
	}
	if encap {
		s.Src, s.Dst, s.NATKeepalive = local, remote, keepalive
	}
	ctx, cancel := dpContext()
	defer cancel()
	return true, p.addSA(ctx, s, false)
}

// retire reads the counters of the installed ESP SA i and deletes it.
func (p *childPlane) retire(ctx context.Context, i int) retired {
	id := p.installed[i]
	st, err := p.dp.SAStats(id)
	p.dp.DeleteSA(ctx, id)
	return retired{id: id, st: st, ok: err == nil}
}

// removeOut takes the outbound ESP SAs out of the data plane; the inbound
// ones stay.
func (p *childPlane) removeOut() []retired {
	if p.dp == nil {
		return nil
	}
	ctx, cancel := dpContext()
	defer cancel()
	var out []retired
	for i := 0; i < len(p.installed); i++ {
		if p.installed[i].Dir != esp.DirOut {
			continue
		}
		out = append(out, p.retire(ctx, i))
		p.installed = append(p.installed[:i], p.installed[i+1:]...)
		p.sas = append(p.sas[:i], p.sas[i+1:]...)
		i--
	}
	return out
}

// remove takes everything out of the data plane. The policies belong to
// the ReqID; a successor with the same ReqID (heir, if not nil) keeps
// them.
func (p *childPlane) remove(heir *childPlane) []retired {
	p.outDeferred = nil
	if p.dp == nil {
		return nil
	}
	ctx, cancel := dpContext()
	defer cancel()
	if heir != nil && p.policies != nil {
		heir.policies, p.policies = p.policies, nil
	}
	for _, pol := range p.policies {
		p.dp.DeletePolicy(ctx, pol)
	}
	var out []retired
	for i := range p.installed {
		out = append(out, p.retire(ctx, i)) // the final counters, before they are gone
	}
	p.policies, p.installed, p.sas = nil, nil, nil
	return out
}

// forget drops the ESP SA id, which the data plane removed at its hard
// lifetime, and reports whether it was installed.
func (p *childPlane) forget(id esp.SAID) bool {
	for i := range p.installed {
		if p.installed[i].SPI == id.SPI && p.installed[i].Dir == id.Dir {
			if p.dp != nil {
				// Normally gone already; a data plane that only reported
				// the expiry must not keep the SA.
				ctx, cancel := dpContext()
				p.dp.DeleteSA(ctx, p.installed[i])
				cancel()
			}
			p.installed = append(p.installed[:i], p.installed[i+1:]...)
			p.sas = append(p.sas[:i], p.sas[i+1:]...)
			return true
		}
	}
	return false
}

// has reports whether the ESP SA id is installed.
func (p *childPlane) has(id esp.SAID) bool {
	for _, x := range p.installed {
		if x.SPI == id.SPI && x.Dir == id.Dir {
			return true
		}
	}
	return false
}

// counters adds the counters of the installed ESP SAs to n.
func (p *childPlane) counters(n *counters) {
	if p.dp == nil {
		return
	}
	for _, id := range p.installed {
		if st, err := p.dp.SAStats(id); err == nil {
			n.addStats(id.Dir, st)
		}
	}
}

// lastInbound returns the latest use of an inbound ESP SA after last.
func (p *childPlane) lastInbound(last time.Time) time.Time {
	if p.dp == nil {
		return last
	}
	for _, id := range p.installed {
		if id.Dir != esp.DirIn {
			continue
		}
		if st, err := p.dp.SAStats(id); err == nil && st.LastUse.After(last) {
			last = st.LastUse
		}
	}
	return last
}

// move changes the outer addresses of the installed ESP SAs (a NAT
// rebinding or a MOBIKE move); encapsulation off drops the ports. It
// returns the errors of the SAs it could not update.
func (p *childPlane) move(encap bool, local, remote netip.AddrPort, keepalive bool) []error {
	if p.dp == nil {
		return nil
	}
	if !encap {
		local, remote = netip.AddrPortFrom(local.Addr(), 0), netip.AddrPortFrom(remote.Addr(), 0)
	}
	ctx, cancel := dpContext()
	defer cancel()
	var errs []error
	// UpdateSA takes the whole SA; only addresses, ports and the
	// keepalive flag may differ from what was installed.
	for i, id := range p.installed {
		upd := p.sas[i]
		if id.Dir == esp.DirOut {
			upd.Src, upd.Dst, upd.NATKeepalive = local, remote, keepalive
		} else {
			upd.Src, upd.Dst = remote, local
		}
		if upd.Src == p.sas[i].Src && upd.Dst == p.sas[i].Dst && upd.NATKeepalive == p.sas[i].NATKeepalive {
			continue
		}
		if err := p.dp.UpdateSA(ctx, id, &upd); err != nil {
			errs = append(errs, err)
			continue
		}
		p.sas[i] = upd
		p.installed[i] = upd.ID()
	}
	return errs
}
