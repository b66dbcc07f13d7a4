package ike

import (
	"fmt"
	"net/netip"
	"time"
)

// scheduleReauth arms reauthentication. As initiator we reauthenticate
// ourselves (make before break). As responder we never start one
// (RFC 7296 section 2.8.3 leaves it to either side, and a gateway-started
// IKE SA breaks macOS and any client behind a NAT): the client is told
// the lifetime with AUTH_LIFETIME (RFC 4478) and the IKE SA is deleted if
// it has not reauthenticated by then plus reauthGrace.
func (sa *ikeSA) scheduleReauth() {
	if sa.cfg == nil || sa.cfg.ReauthTime <= 0 {
		return
	}
	if sa.weInitiated {
		sa.reauthAt = time.Now().Add(sa.jittered(sa.cfg.ReauthTime))
		return
	}
	sa.reauthAt = time.Now().Add(sa.cfg.ReauthTime + reauthGrace(sa.cfg.ReauthTime))
}

// reauthGrace is how long a responder waits past the authentication
// lifetime before it deletes an IKE SA the client did not reauthenticate:
// a tenth of the lifetime, at least a minute (strongSwan's over_time).
func reauthGrace(life time.Duration) time.Duration { return max(life/10, time.Minute) }

// reauthOverdue ends the IKE SA of a client that did not reauthenticate
// within AUTH_LIFETIME.
func (sa *ikeSA) reauthOverdue() {
	sa.reauthAt = time.Time{}
	sa.log.Info("client did not reauthenticate within its authentication lifetime; deleting the IKE SA", "ike_sa", sa.name(), "lifetime", sa.cfg.ReauthTime.String())
	sa.startDelete(true, fmt.Errorf("%w: authentication lifetime expired", ErrTimeout))
}

// startReauth reauthenticates make-before-break (RFC 7296 section 2.8.3):
// a complete new IKE SA with the same configuration, asking for the
// virtual addresses we hold, is set up beside this one; when it is up it
// takes over the Dial handle and this SA is deleted. If it fails, this SA
// goes on and retries later.
func (sa *ikeSA) startReauth() { sa.startReauthAt(sa.remote.Addr()) }

// startReauthAt sets up the replacement IKE SA at gateway gw: the same
// gateway for a reauthentication, another one when redirected.
func (sa *ikeSA) startReauthAt(gw netip.Addr) {
	local := sa.local.Addr()
	if gw != sa.remote.Addr() {
		local = sa.e.localAddrFor(gw)
	}
	sa.startReauthFrom(local, gw)
}

// startReauthFrom sets up the replacement IKE SA from our address local
// to gateway gw.
func (sa *ikeSA) startReauthFrom(local, gw netip.Addr) {
	sa.reauthAt = time.Time{}
	e := sa.e
	ikePort, _ := e.conn.Ports()
	ns := newSA(e, true, netip.AddrPortFrom(local, ikePort), netip.AddrPortFrom(gw, PortIKE))
	if gw != sa.remote.Addr() {
		ns.redirectedFrom = sa.remote.Addr()
		ns.redirects = sa.redirects
	}
	ns.setCfg(sa.cfg)
	if gw != sa.remote.Addr() {
		ns.cfg.retarget(gw)
	}
	if len(sa.vips) > 0 {
		ns.cfg.VirtualIPs = append([]netip.Addr(nil), sa.vips...)
	}
	ns.reauthOf = sa
	ns.continueSession(sa)
	if err := e.registerInitiator(ns); err != nil {
		sa.reauthAt = time.Now().Add(time.Minute)
		return
	}
	sa.log.Info("reauthenticating", "ike_sa", sa.name(), "new_spi_i", ns.spii)
	ns.start(nil)
	go ns.do(e.ctx, func() { ns.startInit(nil) })
}

// reauthDone runs on the new SA when it is established: it takes over the
// Dial handle and deletes the SA it replaces (telling the peer).
func (ns *ikeSA) reauthDone() {
	old := ns.reauthOf
	ns.reauthOf = nil
	go old.do(ns.e.ctx, func() {
		if old.handle != nil {
			old.handle.cur.Store(ns)
			h := old.handle
			old.handle = nil
			go ns.do(ns.e.ctx, func() { ns.handle = h })
		}
		old.rekeyed = true // not a loss of the peer: no IKEDown
		old.startDelete(true, nil)
	})
}

// reauthFailed keeps the old SA and retries in a minute.
func (ns *ikeSA) reauthFailed() {
	old := ns.reauthOf
	go old.do(ns.e.ctx, func() {
		old.log.Warn("reauthentication failed, keeping the current IKE SA")
		old.reauthAt = time.Now().Add(time.Minute)
	})
}

// registerInitiator gives a new IKE SA we initiate its SPI and enters it in
// the engine's table.
func (e *engine) registerInitiator(ns *ikeSA) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return ErrClosed
	}
	spi, err := e.newSPI()
	if err != nil {
		return err
	}
	ns.spii = spi
	e.sas[spi] = ns
	return nil
}
