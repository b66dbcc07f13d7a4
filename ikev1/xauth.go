package ikev1

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/goipsec/ipsec"
	"github.com/goipsec/ipsec/esp"
	"github.com/goipsec/ipsec/ikev1/wire"
	"github.com/goipsec/ipsec/xauth"
)

// XAuthConfig turns on the "Cisco IPSec" flow of Apple's built-in IKEv1
// client and of racoon: after phase 1 (whose Authentication Method is
// then XAUTHInitPreShared or XAUTHInitRSA) the gateway authenticates the
// user with XAuth (draft-beaulieu-ike-xauth-02), and the client pulls its
// virtual address and DNS with Mode Config (draft-dukes-ike-mode-cfg-02),
// both in Transaction exchanges; only then may it run Quick Mode, for its
// virtual address.
type XAuthConfig struct {
	// Users checks the user names and passwords (a gateway); Backend,
	// when set, checks them instead (a directory, RADIUS later).
	Users   ipsec.UserStore
	Backend xauth.Backend
	// Pools lease the clients' virtual addresses (the first IPv4 pool is
	// used; a user's fixed ipsec.User.Addresses win).
	Pools []ipsec.AddressPool
	// DNS, DefaultDomain, SplitDNS, SplitInclude and Banner go to the
	// client with its address. SplitInclude empty: all IPv4 traffic goes
	// through the tunnel.
	DNS           []netip.Addr
	DefaultDomain string
	SplitDNS      []string
	SplitInclude  []netip.Prefix
	Banner        string
	// User and Password are our credentials when our initiator connects
	// to a Cisco IPSec gateway; it then pulls its virtual address with
	// Mode Config and sets up its IPsec SA for it (to the Children's
	// RemoteTS, the gateway's split-include networks, or everything).
	User     string
	Password ipsec.Secret
	// Hybrid selects hybrid authentication (HybridInitRSA,
	// draft-ietf-ipsec-isakmp-hybrid-auth-05, Apple's "certificate" Cisco
	// IPSec without a client certificate): the gateway proves itself
	// with its certificate (PeerConfig.Auth AuthPubkey), the client only
	// with XAuth. A gateway then needs no CAs, a client no certificate.
	Hybrid bool
	// WaitForPush makes our initiator wait for the gateway to push Mode
	// Config (SET) instead of asking for it (REQUEST), as some clients do.
	WaitForPush bool
}

// xauthState is an ISAKMP SA's XAuth and Mode Config, gateway or client.
type xauthState struct {
	server     *xauth.Server
	client     *xauth.Client
	cfgReq     *xauth.Message // our Mode Config REQUEST (client)
	got        *xauth.Lease   // what the gateway gave us (client)
	mid        uint32         // our REQUEST or SET in flight
	done       bool           // the user is authenticated (or the SA inherited it)
	statusOnly bool
	pushAt     time.Time      // gateway: push Mode Config then, unless the client pulled
	pushed     *xauth.Message // gateway: our Mode Config SET waiting for its ACK
	rec        *xauthRecord   // the session this SA holds (under e.mu)           // the SA inherited the session and sent a bare STATUS OK
	user       *ipsec.User
	name       string
	lease      netip.Addr
	pool       ipsec.AddressPool
	started    time.Time
}

// xauthTimeout bounds XAuth and Mode Config after phase 1: a client that
// never answers or never pulls its address is deleted.
const xauthTimeout = 2 * time.Minute

// startXAuth begins XAuth after phase 1 on a gateway, unless the SA
// inherited an XAuth'd session (the client's phase 1 renewal: iOS cannot
// answer XAuth then, CLIENTS.md section 5).
func (sa *isakmpSA) startXAuth() {
	x := &xauthState{started: sa.e.cfg.now()}
	sa.xa = x
	if rec := sa.e.inheritXAuth(sa); rec != nil {
		x.rec = rec
		x.done, x.user, x.name, x.lease, x.pool = true, rec.user, rec.name, rec.lease, rec.pool
		sa.eapName = rec.name
		sa.log.Info("XAuth skipped: the client renewed phase 1 of an authenticated session", "user", x.name)
		// A bare XAUTH_STATUS OK, as strongSwan's xauth-noauth sends:
		// clients waiting for XAuth go on to Mode Config, and iOS, which
		// cannot answer a second XAuth, only acknowledges it.
		x.statusOnly = true
		var id [2]byte
		sa.e.cfg.rand.Read(id[:])
		sa.sendTransaction(&xauth.Message{Type: xauth.CfgSet, Identifier: uint16(id[0])<<8 | uint16(id[1]),
			Attrs: []xauth.Attribute{xauth.Short(xauth.XAuthStatus, xauth.StatusOK)}}, 0, true)
		return
	}
	srv, err := xauth.NewServer(xauth.ServerConfig{Users: sa.cfg.XAuth.Users, Backend: sa.cfg.XAuth.Backend, Rand: sa.e.cfg.rand})
	if err != nil {
		sa.log.Warn("XAuth cannot start", "err", err)
		sa.terminate(err, true)
		return
	}
	x.server = srv
	m, err := srv.Start()
	if err != nil {
		sa.terminate(err, true)
		return
	}
	sa.sendTransaction(m, 0, true)
}

// sendTransaction sends an attribute message in a Transaction exchange:
// under mid when it answers the peer, under a new message ID otherwise
// (mid 0), which it returns.
func (sa *isakmpSA) sendTransaction(m *xauth.Message, mid uint32, retry bool) uint32 {
	body, err := xauth.Append(nil, m)
	if err != nil {
		sa.log.Warn("encoding a Transaction message failed", "err", err)
		return 0
	}
	if mid == 0 {
		mid = sa.newMID()
	}
	pl := []wire.Payload{&wire.Unknown{PayloadType: wire.PayloadAttributes, Body: body}}
	if err := sa.sendHashed(wire.Transaction, mid, 0, pl, nil, retry); err != nil {
		sa.log.Debug("sending Transaction failed", "err", err)
	}
	if retry && sa.xa != nil {
		sa.xa.mid = mid
	}
	return mid
}

// newMID draws a message ID no exchange of the SA uses.
func (sa *isakmpSA) newMID() uint32 {
	var b [4]byte
	for {
		if _, err := sa.e.cfg.rand.Read(b[:]); err != nil {
			return 1
		}
		mid := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
		if mid != 0 && sa.quick[mid] == nil && sa.out[mid] == nil {
			return mid
		}
	}
}

// transactionProcess handles the peer's Transaction message (XAuth
// REPLY and ACK, Mode Config REQUEST) on a gateway.
func (sa *isakmpSA) transactionProcess(in *inMsg) error {
	if sa.state != stateEstablished || in.Flags&wire.FlagEncryption == 0 || in.MessageID == 0 {
		return errors.New("ikev1: Transaction message outside an established ISAKMP SA or not encrypted")
	}
	h, ok := in.Payloads[0].(*wire.Hash)
	if !ok {
		return errors.New("ikev1: Transaction message without HASH")
	}
	if err := sa.verifyHash12(in, h, nil); err != nil {
		return err
	}
	sa.accepted()
	x := sa.xa
	if x == nil {
		return errors.New("ikev1: Transaction exchange without XAuth configured")
	}
	if sa.initiator {
		return sa.transactionClient(in)
	}
	body := payloadBody(in.body, in.Next, wire.PayloadAttributes)
	m, err := xauth.Parse(body)
	if err != nil {
		return fmt.Errorf("ikev1: Transaction: %w", err)
	}
	switch m.Type {
	case xauth.CfgReply, xauth.CfgAck:
		if x.pushed != nil && m.Type == xauth.CfgAck && in.MessageID == x.mid {
			if m.Identifier != 0 && xauth.CheckAck(x.pushed, m) != nil {
				return errors.New("ikev1: Mode Config ACK does not match our SET")
			}
			sa.answered(in.MessageID)
			x.pushed = nil
			return nil
		}
		if x.statusOnly && m.Type == xauth.CfgAck && in.MessageID == x.mid {
			sa.answered(in.MessageID)
			x.statusOnly = false
			return nil
		}
		if x.server == nil || in.MessageID != x.mid {
			return errors.New("ikev1: Transaction answer to nothing we asked")
		}
		sa.answered(in.MessageID)
		ctx, cancel := context.WithTimeout(sa.e.ctx, authorizeTimeout)
		out, res, err := x.server.Process(xauth.ContextWithNAS(ctx, xauth.NAS{ClientAddr: sa.remote, LocalAddr: sa.local}), m)
		cancel()
		if err != nil {
			var want uint16
			if p := x.server.Pending(); p != nil {
				want = p.Identifier
			}
			sa.log.Debug("XAuth message not taken", "err", err, "identifier", m.Identifier, "want", want, "type", m.Type)
		}
		if errors.Is(err, xauth.ErrDiscarded) {
			return nil
		}
		if out != nil {
			sa.sendTransaction(out, 0, true)
		}
		switch res.Status {
		case xauth.StatusSuccess:
			x.server, x.done, x.user, x.name = nil, true, res.User, res.Name
			sa.eapName = res.Name
			sa.log.Info("XAuth succeeded", "user", res.Name)
			// Clients pull their configuration (racoon, strongSwan with
			// pull); one that waits for it gets it pushed.
			x.pushAt = sa.e.cfg.now().Add(pushDelay)
		case xauth.StatusFailure:
			if out == nil {
				e := fmt.Errorf("%w: XAuth: %w", ErrAuthFailed, res.Err)
				sa.log.Warn("XAuth failed", "user", res.Name, "err", res.Err)
				sa.alert(AlertAuthFailed, e, "")
				sa.terminate(e, true)
			}
		}
		return nil
	case xauth.CfgRequest:
		if !x.done {
			sa.log.Warn("Mode Config request before XAuth: ignored")
			return nil
		}
		return sa.modeConfigReply(in.MessageID, m)
	}
	return fmt.Errorf("ikev1: unexpected %s in a Transaction exchange", m.Type)
}

// startXAuthClient prepares our initiator for the gateway's XAuth.
func (sa *isakmpSA) startXAuthClient() error {
	c, err := xauth.NewClient(xauth.ClientConfig{Name: sa.cfg.XAuth.User, Password: sa.cfg.XAuth.Password})
	if err != nil {
		return err
	}
	sa.xa = &xauthState{client: c, started: sa.e.cfg.now()}
	return nil
}

// transactionClient handles the gateway's XAuth REQUEST and SET and its
// Mode Config REPLY on our initiator.
func (sa *isakmpSA) transactionClient(in *inMsg) error {
	x := sa.xa
	m, err := xauth.Parse(payloadBody(in.body, in.Next, wire.PayloadAttributes))
	if err != nil {
		return fmt.Errorf("ikev1: Transaction: %w", err)
	}
	switch m.Type {
	case xauth.CfgRequest, xauth.CfgSet:
		if x.client == nil && m.Type == xauth.CfgSet && m.Has(xauth.InternalIP4Address) {
			// Mode Config pushed by the gateway.
			sa.sendTransaction(xauth.Ack(m), in.MessageID, false)
			return sa.clientLease(m)
		}
		if x.client == nil {
			return errors.New("ikev1: XAuth message after XAuth ended")
		}
		out, res, err := x.client.Process(m)
		if out != nil {
			sa.sendTransaction(out, in.MessageID, false)
		}
		if err != nil && res.Status != xauth.StatusFailure {
			sa.log.Debug("XAuth message not taken", "err", err)
			return nil
		}
		switch res.Status {
		case xauth.StatusSuccess:
			x.client, x.done, x.name = nil, true, res.Name
			sa.eapName = res.Name
			sa.log.Info("XAuth succeeded", "user", res.Name)
			if !sa.cfg.XAuth.WaitForPush {
				id := uint16(in.MessageID) | 1
				x.cfgReq = xauth.NewRequest(id, xauth.AppleRequest...)
				sa.sendTransaction(x.cfgReq, 0, true)
			}
		case xauth.StatusFailure:
			e := fmt.Errorf("%w: the gateway refused our XAuth credentials: %v", ErrAuthFailed, res.Err)
			sa.log.Warn("XAuth failed", "err", res.Err)
			sa.terminate(e, false)
		}
		return nil
	case xauth.CfgReply:
		if x.cfgReq == nil || in.MessageID != x.mid {
			return errors.New("ikev1: Mode Config REPLY to nothing we asked")
		}
		sa.answered(in.MessageID)
		return sa.clientLease(m)
	}
	return fmt.Errorf("ikev1: unexpected %s in a Transaction exchange", m.Type)
}

// pushDelay is how long a gateway waits for a client's Mode Config
// REQUEST after XAuth before it pushes the configuration with SET.
const pushDelay = 2 * time.Second

// modeConfigPush sends the client its configuration unasked (Mode Config
// push, draft-dukes-ike-mode-cfg-02 section 3.3).
func (sa *isakmpSA) modeConfigPush() {
	x := sa.xa
	x.pushAt = time.Time{}
	if err := sa.leaseAddress(); err != nil {
		sa.log.Warn("no virtual address for the client", "err", err)
		sa.alert(AlertAuthFailed, err, "")
		sa.terminate(err, true)
		return
	}
	var id [2]byte
	sa.e.cfg.rand.Read(id[:])
	set, err := xauth.Set(uint16(id[0])<<8|uint16(id[1]), sa.lease())
	if err != nil {
		sa.log.Warn("Mode Config push failed", "err", err)
		return
	}
	if x.rec == nil {
		sa.e.recordXAuth(sa)
	}
	x.pushed = set
	sa.sendTransaction(set, 0, true)
	sa.log.Info("Mode Config: virtual address pushed", "user", x.name, "vip", x.lease)
}

// lease is what Mode Config gives the client.
func (sa *isakmpSA) lease() *xauth.Lease {
	xc := sa.cfg.XAuth
	return &xauth.Lease{IP4: sa.xa.lease, Netmask4: netip.AddrFrom4([4]byte{255, 255, 255, 255}), DNS: xc.DNS,
		DefaultDomain: xc.DefaultDomain, SplitDNS: xc.SplitDNS, SplitInclude: xc.SplitInclude, Banner: xc.Banner}
}

// clientLease takes the configuration the gateway gave our initiator
// (its REPLY to our REQUEST, or its SET) and sets up the IPsec SAs.
func (sa *isakmpSA) clientLease(m *xauth.Message) error {
	x := sa.xa
	if x.lease.IsValid() {
		return nil // pulled and pushed both: the first one counts
	}
	lease, err := xauth.ParseLease(m)
	if err != nil || !lease.IP4.IsValid() {
		e := fmt.Errorf("ikev1: Mode Config: no virtual address from the gateway: %v", err)
		sa.log.Warn("Mode Config failed", "err", e)
		sa.terminate(e, true)
		return nil
	}
	if x.cfgReq != nil {
		sa.answered(x.mid)
	}
	x.got, x.lease, x.cfgReq = lease, lease.IP4, nil
	sa.log.Info("Mode Config: virtual address received", "vip", lease.IP4, "dns", lease.DNS)
	sa.initiateChildren()
	return nil
}

// modeConfigReply answers a client's Mode Config REQUEST with its lease.
func (sa *isakmpSA) modeConfigReply(mid uint32, m *xauth.Message) error {
	x := sa.xa
	if !x.lease.IsValid() {
		if err := sa.leaseAddress(); err != nil {
			sa.log.Warn("no virtual address for the client", "err", err)
			sa.alert(AlertAuthFailed, err, "")
			sa.terminate(err, true)
			return nil
		}
	}
	x.pushAt = time.Time{}
	reply, err := xauth.Reply(m, sa.lease())
	if err != nil {
		return fmt.Errorf("ikev1: Mode Config: %w", err)
	}
	if x.rec == nil {
		sa.e.recordXAuth(sa)
	}
	sa.sendTransaction(reply, mid, false)
	sa.log.Info("Mode Config: virtual address assigned", "user", x.name, "vip", x.lease)
	return nil
}

// leaseAddress takes the client's virtual IPv4 address: the user's fixed
// one, or one of the first IPv4 pool.
func (sa *isakmpSA) leaseAddress() error {
	x := sa.xa
	if x.user != nil {
		for _, a := range x.user.Addresses {
			if a.Is4() {
				x.lease = a
				return nil
			}
		}
	}
	for _, p := range sa.cfg.XAuth.Pools {
		if !p.Prefix().Addr().Is4() {
			continue
		}
		owner := x.name
		if owner == "" {
			owner = sa.remoteID.String()
		}
		ctx, cancel := context.WithTimeout(sa.e.ctx, lookupTimeout)
		a, err := p.Acquire(ctx, owner, netip.Addr{})
		cancel()
		if err != nil {
			return fmt.Errorf("ikev1: Mode Config: %w", err)
		}
		x.lease, x.pool = a, p
		return nil
	}
	return errors.New("ikev1: Mode Config: no IPv4 pool and no fixed address for the user")
}

// xauthTick ends an SA whose XAuth or Mode Config does not finish.
func (sa *isakmpSA) xauthDeadline() time.Time {
	if sa.xa == nil || (sa.xa.done && sa.xa.lease.IsValid()) {
		return time.Time{}
	}
	return sa.xa.started.Add(xauthTimeout)
}

// quickAllowed reports whether a Quick Mode may run: with XAuth, only
// after it succeeded and the client has its address.
func (sa *isakmpSA) quickAllowed() error {
	if sa.cfg.XAuth == nil || sa.initiator {
		return nil
	}
	if sa.xa == nil || !sa.xa.done {
		return errors.New("ikev1: Quick Mode before XAuth")
	}
	if !sa.xa.lease.IsValid() {
		return errors.New("ikev1: Quick Mode before Mode Config")
	}
	return nil
}

// xauthSelectors are the selectors a Mode Config client may use: its
// virtual address, and the configured or full-tunnel networks on our side.
func (sa *isakmpSA) xauthSelectors() (remote, local []esp.Selector) {
	remote = []esp.Selector{hostSel(sa.xa.lease)}
	for _, p := range sa.cfg.XAuth.SplitInclude {
		local = append(local, esp.PrefixSelector(p))
	}
	if len(local) == 0 {
		local = []esp.Selector{esp.AnySelector(true)}
	}
	return remote, local
}

// xauthRecord is an authenticated Cisco IPSec session, kept by the engine
// so that the client's next phase 1 inherits it.
type xauthRecord struct {
	owner *isakmpSA
	user  *ipsec.User
	name  string
	lease netip.Addr
	pool  ipsec.AddressPool
}

func xauthKey(sa *isakmpSA) string {
	return sa.cfg.Name + "|" + sa.remoteID.String() + "|" + sa.remote.Addr().String()
}

// recordXAuth notes an SA's authenticated session once it has its lease.
func (e *engine) recordXAuth(sa *isakmpSA) {
	x := sa.xa
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.xauthed == nil {
		e.xauthed = map[string]*xauthRecord{}
	}
	rec := &xauthRecord{owner: sa, user: x.user, name: x.name, lease: x.lease, pool: x.pool}
	x.rec = rec
	e.xauthed[xauthKey(sa)] = rec
}

// inheritXAuth hands the session of the peer's live XAuth'd SA to sa.
func (e *engine) inheritXAuth(sa *isakmpSA) *xauthRecord {
	e.mu.Lock()
	defer e.mu.Unlock()
	rec := e.xauthed[xauthKey(sa)]
	if rec == nil || rec.owner == sa || !rec.lease.IsValid() {
		return nil
	}
	rec.owner = sa
	return rec
}

// releaseXAuth gives back the lease of an SA that ends, unless another SA
// inherited its session.
func (e *engine) releaseXAuth(sa *isakmpSA) {
	x := sa.xa
	if x == nil || sa.cfg == nil || sa.initiator {
		return
	}
	e.mu.Lock()
	rec := x.rec
	mine := rec == nil || rec.owner == sa
	if rec != nil && rec.owner == sa {
		if k := xauthKey(sa); e.xauthed[k] == rec {
			delete(e.xauthed, k)
		}
	}
	e.mu.Unlock()
	if mine && x.pool != nil && x.lease.IsValid() {
		x.pool.Release(x.lease)
	}
}
