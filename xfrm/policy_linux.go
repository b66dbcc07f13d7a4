//go:build linux

package xfrm

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"

	"github.com/goipsec/ipsec/esp"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

func checkPolicy(p *esp.Policy) ([]kselector, error) {
	if p.Dir != esp.DirIn && p.Dir != esp.DirOut {
		return nil, fmt.Errorf("xfrm: policy %s: invalid direction", p)
	}
	if p.Action > esp.ActionDiscard {
		return nil, fmt.Errorf("xfrm: policy %s: invalid action", p)
	}
	k, err := policySelectors(p)
	if err != nil {
		return k, fmt.Errorf("xfrm: policy %s: %w", p, err)
	}
	return k, nil
}

func kernelDir(dir esp.Direction) netlink.Dir {
	if dir == esp.DirOut {
		return netlink.XFRM_DIR_OUT
	}
	return netlink.XFRM_DIR_IN
}

func ipNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

func ipOrZero(a netip.Addr, fam uint16) net.IP {
	if a.IsValid() {
		return a.AsSlice()
	}
	if fam == afInet {
		return net.IPv4zero.To4()
	}
	return net.IPv6zero
}

// templateLocked derives the template of a protect policy from the SAs
// of its ReqID: mode and outer family from the newest SA, and for
// outbound tunnel-mode policies the outer addresses of the newest
// outbound SA (or, before it exists, those of an inbound one, reversed).
func (d *DataPlane) templateLocked(p *esp.Policy, k []kselector) tmplInfo {
	var same, other *saEntry
	for _, e := range d.byReq[p.ReqID] {
		if e.sa.Dir == p.Dir {
			same = e
		} else {
			other = e
		}
	}
	t := tmplInfo{mode: esp.ModeTunnel, fam: family(k[0].dst.Addr())}
	pick := same
	if pick == nil {
		pick = other
	}
	if pick == nil {
		return t
	}
	t.mode, t.fam = pick.sa.Mode, family(pick.sa.Dst.Addr())
	if p.Dir == esp.DirOut && t.mode == esp.ModeTunnel {
		if same != nil {
			t.src, t.dst = same.sa.Src.Addr(), same.sa.Dst.Addr()
		} else {
			t.src, t.dst = other.sa.Dst.Addr(), other.sa.Src.Addr()
		}
	}
	return t
}

// kernelPolicy builds the XFRM policy for selector k of pe in kernel
// direction dir.
func (d *DataPlane) kernelPolicy(pe *polEntry, k *kselector, dir netlink.Dir) *netlink.XfrmPolicy {
	xp := &netlink.XfrmPolicy{
		Src:      ipNet(k.src),
		Dst:      ipNet(k.dst),
		Proto:    netlink.Proto(k.proto),
		SrcPort:  int(k.srcPort),
		DstPort:  int(k.dstPort),
		Dir:      dir,
		Priority: int(kernelPriority(pe.p.Priority, k)),
		Ifid:     int(pe.ifID),
		Action:   netlink.XFRM_POLICY_ALLOW,
	}
	if d.cfg.markMask != 0 {
		xp.Mark = &netlink.XfrmMark{Value: d.cfg.markValue, Mask: d.cfg.markMask}
	}
	switch pe.p.Action {
	case esp.ActionDiscard:
		xp.Action = netlink.XFRM_POLICY_BLOCK
	case esp.ActionProtect:
		mode := netlink.XFRM_MODE_TUNNEL
		if pe.tmpl.mode == esp.ModeTransport {
			mode = netlink.XFRM_MODE_TRANSPORT
		}
		xp.Tmpls = []netlink.XfrmPolicyTmpl{{
			Src:   ipOrZero(pe.tmpl.src, pe.tmpl.fam),
			Dst:   ipOrZero(pe.tmpl.dst, pe.tmpl.fam),
			Proto: netlink.XFRM_PROTO_ESP,
			Mode:  mode,
			Reqid: int(pe.p.ReqID),
		}}
	}
	return xp
}

// kernelPolicies lists the XFRM policies of pe: per selector out, or in
// plus fwd.
func (d *DataPlane) kernelPolicies(pe *polEntry) []*netlink.XfrmPolicy {
	var l []*netlink.XfrmPolicy
	for i := range pe.ksels {
		k := &pe.ksels[i]
		if pe.p.Dir == esp.DirOut {
			l = append(l, d.kernelPolicy(pe, k, netlink.XFRM_DIR_OUT))
			continue
		}
		l = append(l, d.kernelPolicy(pe, k, netlink.XFRM_DIR_IN))
		if pe.fwd {
			l = append(l, d.kernelPolicy(pe, k, netlink.XFRM_DIR_FWD))
		}
	}
	return l
}

// AddPolicy implements esp.DataPlane. Inbound policies get a forward
// policy beside them unless WithoutForwardPolicies was given.
func (d *DataPlane) AddPolicy(ctx context.Context, p esp.Policy) error {
	k, err := checkPolicy(&p)
	if err != nil {
		return err
	}
	if p.Action == esp.ActionProtect && !d.cfg.reqIDAllowed(p.ReqID) {
		return fmt.Errorf("xfrm: policy %s: ReqID outside WithReqIDRange %d-%d", &p, d.cfg.reqMin, d.cfg.reqMax)
	}
	if !d.cfg.ifIDAllowed(p.IfID) {
		return fmt.Errorf("xfrm: policy %s: if_id %d not allowed: %s", &p, p.IfID, d.cfg.ifIDRangeString())
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return esp.ErrClosed
	}
	ifID := d.cfg.effIfID(p.IfID)
	key := polKey{p.Dir, p.Src, p.Dst, ifID}
	pe := &polEntry{p: p, ifID: ifID, ksels: k, fwd: p.Dir == esp.DirIn && !d.cfg.noForward}
	if p.Action == esp.ActionProtect {
		pe.tmpl = d.templateLocked(&p, k)
	}
	if old, ok := d.pols[key]; ok {
		same := func(x *polEntry) bool { return x.p.ReqID == p.ReqID }
		if same(old) || slices.ContainsFunc(d.shadow[key], same) {
			return fmt.Errorf("xfrm: add %s: %w", &p, esp.ErrPolicyExists)
		}
		// Identical selectors of another SA (two peers with the same
		// subnets): as strongSwan, the newest carries the traffic; the
		// kernel policies take its template, the old entry waits.
		if err := d.replacePolicyLocked(old, pe); err != nil {
			return err
		}
		d.shadow[key] = append(d.shadow[key], old)
		d.cfg.logger.Debug("xfrm policy takes over identical selectors", "policy", &pe.p, "previous_reqid", old.p.ReqID)
		return nil
	}
	xps := d.kernelPolicies(pe)
	for i, xp := range xps {
		if err := d.h.XfrmPolicyAdd(xp); err != nil {
			for _, done := range xps[:i] {
				_ = d.h.XfrmPolicyDel(done)
			}
			return policyError("add", &p, err)
		}
	}
	d.pols[key] = pe
	for _, ks := range k {
		d.byKSel[kselKey{uint8(kernelDir(p.Dir)), ks, ifID}] = pe
	}
	d.polReq[p.ReqID] = append(d.polReq[p.ReqID], pe)
	// &p, not p.String(): formatting only when debug logging is on (it
	// was 7% of AddPolicy's time in the install benchmark).
	d.cfg.logger.Debug("xfrm policy added", "policy", &pe.p)
	return nil
}

func policyError(op string, p *esp.Policy, err error) error {
	switch {
	case errors.Is(err, unix.EEXIST):
		return fmt.Errorf("xfrm: %s %s: %w", op, p, esp.ErrPolicyExists)
	case errors.Is(err, unix.ENOENT):
		return fmt.Errorf("xfrm: %s %s: %w", op, p, esp.ErrPolicyNotFound)
	}
	return fmt.Errorf("xfrm: %s %s: %w", op, p, err)
}

// DeletePolicy implements esp.DataPlane.
func (d *DataPlane) DeletePolicy(ctx context.Context, p esp.Policy) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return esp.ErrClosed
	}
	key := polKey{p.Dir, p.Src, p.Dst, d.cfg.effIfID(p.IfID)}
	pe, ok := d.pols[key]
	if !ok {
		return fmt.Errorf("xfrm: delete %s: %w", &p, esp.ErrPolicyNotFound)
	}
	sh := d.shadow[key]
	if pe.p.ReqID != p.ReqID {
		// A waiting policy: it is not in the kernel.
		i := slices.IndexFunc(sh, func(x *polEntry) bool { return x.p.ReqID == p.ReqID })
		if i < 0 {
			return fmt.Errorf("xfrm: delete %s: %w", &p, esp.ErrPolicyNotFound)
		}
		d.setShadowLocked(key, slices.Delete(sh, i, i+1))
		return nil
	}
	if len(sh) > 0 {
		// The newest waiting policy of the same selectors takes over.
		next := sh[len(sh)-1]
		d.setShadowLocked(key, sh[:len(sh)-1])
		if next.p.Action == esp.ActionProtect {
			next.tmpl = d.templateLocked(&next.p, next.ksels)
		}
		return d.replacePolicyLocked(pe, next)
	}
	err := d.delPolicyLocked(pe)
	delete(d.pols, key)
	for _, ks := range pe.ksels {
		delete(d.byKSel, kselKey{uint8(kernelDir(p.Dir)), ks, pe.ifID})
	}
	removeIndexed(d.polReq, pe.p.ReqID, pe)
	return err
}

// replacePolicyLocked puts pe in old's place (the same key and kernel
// selectors): the kernel policies are updated to pe's template and ReqID.
func (d *DataPlane) replacePolicyLocked(old, pe *polEntry) error {
	xps := d.kernelPolicies(pe)
	for i, xp := range xps {
		if err := d.h.XfrmPolicyUpdate(xp); err != nil {
			for _, back := range d.kernelPolicies(old)[:i] {
				_ = d.h.XfrmPolicyUpdate(back)
			}
			return policyError("replace", &pe.p, err)
		}
	}
	key := polKey{pe.p.Dir, pe.p.Src, pe.p.Dst, pe.ifID}
	d.pols[key] = pe
	for _, ks := range pe.ksels {
		d.byKSel[kselKey{uint8(kernelDir(pe.p.Dir)), ks, pe.ifID}] = pe
	}
	removeIndexed(d.polReq, old.p.ReqID, old)
	d.polReq[pe.p.ReqID] = append(d.polReq[pe.p.ReqID], pe)
	return nil
}

// setShadowLocked stores the waiting policies of key.
func (d *DataPlane) setShadowLocked(key polKey, l []*polEntry) {
	if len(l) == 0 {
		delete(d.shadow, key)
		return
	}
	d.shadow[key] = l
}

// delPolicyLocked removes pe's kernel policies; ones already gone are fine.
func (d *DataPlane) delPolicyLocked(pe *polEntry) error {
	var errs []error
	for _, xp := range d.kernelPolicies(pe) {
		if err := d.h.XfrmPolicyDel(xp); err != nil && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, policyError("delete", &pe.p, err))
		}
	}
	return errors.Join(errs...)
}

// resyncLocked points the templates of reqid's protect policies at the
// SAs now installed for it (after an add, update, delete or expiry).
func (d *DataPlane) resyncLocked(reqid uint32) error {
	var errs []error
	for _, pe := range d.polReq[reqid] {
		if pe.p.Action != esp.ActionProtect {
			continue
		}
		t := d.templateLocked(&pe.p, pe.ksels)
		if t == pe.tmpl {
			continue
		}
		pe.tmpl = t
		for _, xp := range d.kernelPolicies(pe) {
			if err := d.h.XfrmPolicyUpdate(xp); err != nil {
				errs = append(errs, policyError("update template of", &pe.p, err))
			}
		}
	}
	return errors.Join(errs...)
}

// ownsTags reports whether a state or policy left behind carries this
// data plane's tags: an interface ID it owns (the default or one of
// WithIfIDRange) and exactly its mark (an unset mark must be absent).
func (d *DataPlane) ownsTags(ifID int, m *netlink.XfrmMark) bool {
	if ifID < 0 || !d.cfg.ownsStaleIfID(uint32(ifID)) {
		return false
	}
	if d.cfg.markMask == 0 {
		return m == nil || (m.Value == 0 && m.Mask == 0)
	}
	return m != nil && m.Value == d.cfg.markValue && m.Mask == d.cfg.markMask
}

// removeStale deletes states and policies carrying this data plane's tags.
func (d *DataPlane) removeStale() error {
	states, err := d.h.XfrmStateList(netlink.FAMILY_ALL)
	if err != nil {
		return fmt.Errorf("xfrm: WithRemoveStale: listing states: %w", err)
	}
	nStates, nPols := 0, 0
	for i := range states {
		st := &states[i]
		if st.Proto != netlink.XFRM_PROTO_ESP || !d.ownsTags(st.Ifid, st.Mark) || !d.cfg.reqIDAllowed(uint32(st.Reqid)) {
			continue
		}
		dst, _ := netip.AddrFromSlice(st.Dst)
		if err := d.delStateLocked(dst.Unmap(), uint32(st.Spi)); err != nil && !errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("xfrm: WithRemoveStale: deleting state 0x%08x: %w", st.Spi, err)
		}
		nStates++
	}
	pols, err := d.h.XfrmPolicyList(netlink.FAMILY_ALL)
	if err != nil {
		return fmt.Errorf("xfrm: WithRemoveStale: listing policies: %w", err)
	}
	for i := range pols {
		xp := &pols[i]
		if !d.ownsTags(xp.Ifid, xp.Mark) {
			continue
		}
		if d.cfg.reqMax != 0 {
			ours := len(xp.Tmpls) > 0
			for _, t := range xp.Tmpls {
				ours = ours && d.cfg.reqIDAllowed(uint32(t.Reqid))
			}
			if !ours {
				continue
			}
		}
		if err := d.h.XfrmPolicyDel(xp); err != nil && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("xfrm: WithRemoveStale: deleting policy %d: %w", xp.Index, err)
		}
		nPols++
	}
	if nStates+nPols > 0 {
		d.cfg.logger.Info("xfrm: removed stale state", "states", nStates, "policies", nPols)
	}
	return nil
}
