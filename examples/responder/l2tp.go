package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vishvananda/netlink"
	"golang.zx2c4.com/wireguard/tun"

	"github.com/goipsec/ipsec"
	"github.com/goipsec/ipsec/esp"
	"github.com/goipsec/ipsec/l2tp"
	"github.com/goipsec/ipsec/ppp"
)

// L2TPConfig is the l2tp: section: L2TP/IPsec clients (the L2TP client
// built into macOS, iOS, Windows and Android) served in this process.
// IPsec is IKEv1 Main Mode with the key every address gets (the ikev1:
// section's group_secret, a psks entry for "*", or the demo key) or with
// certificates (ikev1.certificates), then transport mode for udp/1701;
// the L2TP tunnel and its PPP session run here, without xl2tpd, pppd or
// kernel PPP. The user logs in with PPP (MS-CHAPv2 by default) against
// users:, gets an address of the IPv4 pool and the dns: servers, and
// its packets leave through a TUN device of their own (device).
type L2TPConfig struct {
	// Enabled serves L2TP/IPsec clients (needs ikev1.enabled).
	Enabled bool `yaml:"enabled"`
	// Auth are the PPP authentication methods in the order the server
	// asks for them: mschapv2, chap (CHAP-MD5), pap. Empty: mschapv2 and
	// chap. CHAP-MD5 and PAP need the user's password in clear in users:.
	Auth []string `yaml:"auth"`
	// MTU is the PPP MRU and the device's MTU (1280..1500, default 1400):
	// the PPP frame must fit into L2TP, UDP and ESP on a 1500-byte path.
	MTU int `yaml:"mtu"`
	// IPv6 negotiates IPV6CP (link-local addresses) with clients that ask.
	IPv6 bool `yaml:"ipv6"`
	// TunnelSecret (or the first line of TunnelSecretFile) is the L2TP
	// tunnel secret ("L2TP secret" of Android): tunnel authentication and
	// hidden AVPs. Empty: none, as Apple and Windows clients expect.
	TunnelSecret     string `yaml:"tunnel_secret"`
	TunnelSecretFile string `yaml:"tunnel_secret_file"`
	// HelloInterval is how long a tunnel may be silent before the server
	// sends HELLO (default 60s).
	HelloInterval time.Duration `yaml:"hello_interval"`
	// MaxSessions limits the L2TP sessions (default 1000).
	MaxSessions int `yaml:"max_sessions"`
	// Device is the TUN device of the PPP clients' packets (default: the
	// tun.name with "l" appended, e.g. goipsec0l).
	Device string `yaml:"device"`
}

// l2tpSettings is the validated l2tp: section.
type l2tpSettings struct {
	enabled     bool
	auth        []ppp.AuthProtocol
	mtu         int
	ipv6        bool
	secret      ipsec.Secret
	hello       time.Duration
	maxSessions int
	device      string
}

// check validates the l2tp: section; v1 is the validated ikev1: section
// and tunName the data plane's device name.
func (c *L2TPConfig) check(v1 *v1Settings, tunName string, hasPool4 bool) (l2tpSettings, error) {
	s := l2tpSettings{enabled: c.Enabled, ipv6: c.IPv6, hello: c.HelloInterval, maxSessions: c.MaxSessions, mtu: c.MTU}
	if !c.Enabled {
		return s, nil
	}
	if v1 == nil || !v1.enabled {
		return s, fieldErr("l2tp.enabled", "L2TP/IPsec needs IKEv1 (ikev1.enabled); set l2tp.enabled: false to run without both")
	}
	if !hasPool4 {
		return s, fieldErr("l2tp.enabled", "L2TP/IPsec clients need an IPv4 pool (pools) for their PPP address; or set l2tp.enabled: false")
	}
	seen := map[ppp.AuthProtocol]bool{}
	for i, a := range c.Auth {
		var p ppp.AuthProtocol
		switch strings.ToLower(strings.TrimSpace(a)) {
		case "mschapv2", "ms-chapv2", "ms-chap-v2":
			p = ppp.AuthMSCHAPv2
		case "chap", "chap-md5":
			p = ppp.AuthCHAPMD5
		case "pap":
			p = ppp.AuthPAP
		default:
			return s, fieldErr(fmt.Sprintf("l2tp.auth[%d]", i), "%q: want mschapv2, chap or pap", a)
		}
		if seen[p] {
			return s, fieldErr(fmt.Sprintf("l2tp.auth[%d]", i), "%q is listed twice", a)
		}
		seen[p] = true
		s.auth = append(s.auth, p)
	}
	if len(s.auth) == 0 {
		s.auth = []ppp.AuthProtocol{ppp.AuthMSCHAPv2, ppp.AuthCHAPMD5}
	}
	if s.mtu == 0 {
		s.mtu = ppp.DefaultMRU
	}
	if s.mtu < 1280 || s.mtu > 1500 {
		return s, fieldErr("l2tp.mtu", "%d is outside 1280..1500", s.mtu)
	}
	switch {
	case c.TunnelSecret != "" && c.TunnelSecretFile != "":
		return s, fieldErr("l2tp.tunnel_secret_file", "either tunnel_secret or tunnel_secret_file, not both")
	case c.TunnelSecretFile != "":
		b, err := os.ReadFile(c.TunnelSecretFile)
		if err != nil {
			return s, fieldErr("l2tp.tunnel_secret_file", "%v", err)
		}
		line, _, _ := strings.Cut(string(b), "\n")
		if line = strings.TrimSpace(line); line == "" {
			return s, fieldErr("l2tp.tunnel_secret_file", "%s: empty", c.TunnelSecretFile)
		}
		s.secret = ipsec.Secret(line)
	case c.TunnelSecret != "":
		s.secret = ipsec.Secret(c.TunnelSecret)
	}
	if s.hello == 0 {
		s.hello = 60 * time.Second
	}
	if s.hello < 5*time.Second || s.hello > time.Hour {
		return s, fieldErr("l2tp.hello_interval", "%s is outside 5s..1h", s.hello)
	}
	if s.maxSessions == 0 {
		s.maxSessions = 1000
	}
	if s.maxSessions < 1 || s.maxSessions > 65535 {
		return s, fieldErr("l2tp.max_sessions", "%d is outside 1..65535", s.maxSessions)
	}
	s.device = strings.TrimSpace(c.Device)
	if s.device == "" {
		s.device = tunName
		if len(s.device) > 14 {
			s.device = s.device[:14]
		}
		s.device += "l"
	}
	if len(s.device) > 15 || strings.ContainsAny(s.device, "/ \t\"") {
		return s, fieldErr("l2tp.device", "%q is not a valid interface name", s.device)
	}
	if s.device == tunName {
		return s, fieldErr("l2tp.device", "%q is the data plane's device (tun.name)", s.device)
	}
	return s, nil
}

// l2tpPort is L2TP's UDP port (RFC 2661 section 8.1).
const l2tpPort = 1701

// l2tpGateway is the in-process L2TP/IPsec LNS: the l2tp server, the PPP
// sessions of its L2TP sessions and the TUN device through which their IP
// packets reach the host's routing (a /32 route per client to the
// device, added when the client's IPCP opens).
type l2tpGateway struct {
	log    *slog.Logger
	srv    *l2tp.Server
	dev    tun.Device
	name   string
	index  int // the device's interface index
	pppCfg ppp.Config
	udp    *net.UDPConn // kernel data plane: the socket on udp/1701

	mu     sync.RWMutex                // readTUN reads byAddr per packet
	byAddr map[netip.Addr]*ppp.Session // clients with IPCP open
	addrOf map[*ppp.Session]netip.Addr // the reverse, kept past the lease's release
	all    map[*ppp.Session]*l2tp.Session

	wg       sync.WaitGroup
	closing  atomic.Bool
	tunDrops atomic.Uint64 // packets the device or a PPP session did not take
}

// espL2TPConn sends L2TP datagrams through the userspace data plane: each
// through the IPsec SA (ReqID) its peer's datagrams came in on, so two
// clients behind one NAT, both on port 1701, stay apart.
type espL2TPConn struct{ u *esp.Userspace }

func (c espL2TPConn) WriteTo(b []byte, to l2tp.Peer) error {
	return c.u.SendUDP(to.Key, to.Local, to.Addr, b)
}

// l2tpParams is what the gateway takes from the rest of the responder.
type l2tpParams struct {
	s        l2tpSettings
	users    ipsec.UserStore
	pool     ipsec.AddressPool // IPv4
	local    netip.Addr        // the server's inside IPv4 address
	dns      []netip.Addr
	hostName string
}

// startL2TP creates the PPP clients' TUN device and the L2TP server: on
// the userspace data plane the server gets the datagrams the data plane
// decrypted (see newUserspaceDataPlane's local handler, which loads
// *hook), on the kernel one it reads a UDP socket on port 1701 that only
// IPsec-protected datagrams reach (the nftables table drops the rest).
func startL2TP(p l2tpParams, dp *dataPlane, hook *atomic.Pointer[l2tpGateway], log *slog.Logger) (*l2tpGateway, error) {
	lg := log.With("l2tp", true)
	dev, err := tun.CreateTUN(p.s.device, p.s.mtu)
	if err != nil {
		return nil, fmt.Errorf("L2TP: TUN %s: %w", p.s.device, err)
	}
	name, err := dev.Name()
	if err != nil {
		dev.Close()
		return nil, fmt.Errorf("L2TP: TUN %s: %w", p.s.device, err)
	}
	link, err := netlink.LinkByName(name)
	if err == nil {
		err = netlink.LinkSetUp(link)
	}
	if err != nil {
		dev.Close()
		return nil, fmt.Errorf("L2TP: TUN %s: %w", name, err)
	}
	g := &l2tpGateway{log: lg, dev: dev, name: name, index: link.Attrs().Index,
		byAddr: map[netip.Addr]*ppp.Session{}, addrOf: map[*ppp.Session]netip.Addr{}, all: map[*ppp.Session]*l2tp.Session{}}
	g.pppCfg = ppp.Config{
		Users: p.users, Auth: p.s.auth, Pool: p.pool, LocalAddr: p.local, IPv6: p.s.ipv6,
		MRU: uint16(p.s.mtu), DeliverIP: g.deliver, OnUp: g.up, OnDown: g.down, Logger: lg,
	}
	for _, a := range p.dns {
		if a.Is4() {
			g.pppCfg.DNS = append(g.pppCfg.DNS, a)
		}
	}
	var conn l2tp.PacketConn
	if dp.kernel {
		g.udp, err = net.ListenUDP("udp", &net.UDPAddr{Port: l2tpPort})
		if err != nil {
			dev.Close()
			return nil, fmt.Errorf("L2TP: udp/%d: %w", l2tpPort, err)
		}
		conn = l2tp.NewUDPConn(g.udp)
	} else {
		u, ok := dp.DataPlane.(*esp.Userspace)
		if !ok {
			dev.Close()
			return nil, errors.New("L2TP: the data plane delivers no L2TP datagrams")
		}
		conn = espL2TPConn{u}
	}
	g.srv, err = l2tp.NewServer(conn, l2tp.Config{
		HostName: p.hostName, Secret: p.s.secret, HelloInterval: p.s.hello,
		MaxSessions: p.s.maxSessions, MaxTunnels: p.s.maxSessions,
		NewSession: g.newSession, Logger: lg,
	})
	if err != nil {
		dev.Close()
		return nil, fmt.Errorf("L2TP: %w", err)
	}
	if g.udp != nil {
		uc := conn.(*l2tp.UDPConn)
		g.wg.Go(func() {
			if err := uc.Serve(context.Background(), g.srv); err != nil && !g.closing.Load() {
				lg.Warn("L2TP socket", "err", err)
			}
		})
	}
	hook.Store(g)
	g.wg.Go(g.readTUN)
	return g, nil
}

// newSession starts PPP on an established L2TP session.
func (g *l2tpGateway) newSession(ls *l2tp.Session) (l2tp.FrameHandler, error) {
	if g.closing.Load() {
		return nil, errors.New("server stopping")
	}
	ps, err := ppp.NewSession(ls, &g.pppCfg)
	if err != nil {
		return nil, err
	}
	g.mu.Lock()
	g.all[ps] = ls
	g.mu.Unlock()
	return ps, nil
}

// up routes the client's address to the device once IPCP opened.
func (g *l2tpGateway) up(ps *ppp.Session) {
	info := ps.Info()
	a := info.Addr4
	if !a.IsValid() {
		return
	}
	var peer string
	g.mu.Lock()
	old := g.byAddr[a]
	g.byAddr[a], g.addrOf[ps] = ps, a
	if ls := g.all[ps]; ls != nil {
		peer = ls.Info().Peer.Addr.String()
	}
	g.mu.Unlock()
	if old != nil && old != ps {
		// The pool never leases an address twice; a user's fixed address
		// can be: the newer session wins, as for IKE clients.
		g.log.Warn("an address moved to a new PPP session: ending the old one", "addr", a.String(), "user", info.User)
		go old.Close()
	}
	dst := netlink.NewIPNet(a.AsSlice())
	if err := netlink.RouteReplace(&netlink.Route{LinkIndex: g.index, Dst: dst}); err != nil {
		g.log.Warn("route to an L2TP client", "addr", a.String(), "err", err)
	}
	g.log.Info("L2TP client connected", "user", info.User, "auth", info.Auth.String(), "addr", a.String(), "peer", peer)
}

// down removes what up added.
func (g *l2tpGateway) down(ps *ppp.Session) {
	info := ps.Info()
	g.mu.Lock()
	delete(g.all, ps)
	a := g.addrOf[ps]
	delete(g.addrOf, ps)
	owner := a.IsValid() && g.byAddr[a] == ps
	if owner {
		delete(g.byAddr, a)
	}
	g.mu.Unlock()
	if owner && !g.closing.Load() {
		dst := netlink.NewIPNet(a.AsSlice())
		if err := netlink.RouteDel(&netlink.Route{LinkIndex: g.index, Dst: dst}); err != nil {
			g.log.Debug("route to an L2TP client", "addr", a.String(), "err", err)
		}
	}
	if info.User != "" || a.IsValid() {
		g.log.Info("L2TP client disconnected", "user", info.User, "addr", a.String(),
			"bytes_in", info.Stats.BytesIn, "bytes_out", info.Stats.BytesOut)
	}
}

// tunHeadroom is the space tun.Device.Write needs before a packet (its
// virtio header).
const tunHeadroom = 16

var tunBufs = sync.Pool{New: func() any { b := make([]byte, tunHeadroom+65535); return &b }}

// deliver writes a client's packet to the device: the host routes it on.
func (g *l2tpGateway) deliver(_ *ppp.Session, pkt []byte) {
	bp := tunBufs.Get().(*[]byte)
	defer tunBufs.Put(bp)
	if len(pkt) > len(*bp)-tunHeadroom {
		g.tunDrops.Add(1)
		return
	}
	n := copy((*bp)[tunHeadroom:], pkt)
	if _, err := g.dev.Write([][]byte{(*bp)[:tunHeadroom+n]}, tunHeadroom); err != nil {
		g.tunDrops.Add(1)
	}
}

// readTUN hands the packets the host routes to the device to the PPP
// session of their destination.
func (g *l2tpGateway) readTUN() {
	batch := g.dev.BatchSize()
	bufs := make([][]byte, batch)
	sizes := make([]int, batch)
	for i := range bufs {
		bufs[i] = make([]byte, tunHeadroom+65535)
	}
	for {
		n, err := g.dev.Read(bufs, sizes, tunHeadroom)
		if err != nil {
			if g.closing.Load() || errors.Is(err, os.ErrClosed) {
				return
			}
			if errors.Is(err, tun.ErrTooManySegments) {
				g.tunDrops.Add(1)
				continue
			}
			g.log.Warn("reading the L2TP device", "err", err)
			time.Sleep(100 * time.Millisecond)
			continue
		}
		for i := range n {
			pkt := bufs[i][tunHeadroom : tunHeadroom+sizes[i]]
			dst, ok := ipDestination(pkt)
			if !ok {
				g.tunDrops.Add(1)
				continue
			}
			g.mu.RLock()
			ps := g.byAddr[dst]
			g.mu.RUnlock()
			if ps == nil || ps.WriteIP(pkt) != nil {
				g.tunDrops.Add(1)
			}
		}
	}
}

// ipDestination is an IPv4 or IPv6 packet's destination address.
func ipDestination(pkt []byte) (netip.Addr, bool) {
	switch {
	case len(pkt) >= 20 && pkt[0]>>4 == 4:
		return netip.AddrFrom4([4]byte(pkt[16:20])), true
	case len(pkt) >= 40 && pkt[0]>>4 == 6:
		return netip.AddrFrom16([16]byte(pkt[24:40])), true
	}
	return netip.Addr{}, false
}

// handleLocal is the userspace data plane's handler of decrypted
// datagrams to udp/1701.
func (g *l2tpGateway) handleLocal(d esp.LocalDatagram) {
	g.srv.HandleDatagram(d.Payload, l2tp.Peer{Addr: d.Src, Local: d.Dst, Key: d.ReqID})
}

// closePeer drops the L2TP tunnels of an IPsec SA that went away.
func (g *l2tpGateway) closePeer(reqID uint32) {
	if reqID != 0 {
		g.srv.ClosePeer(reqID)
	}
}

// l2tpSessionStatus is one L2TP client in status.
type l2tpSessionStatus struct {
	User      string    `json:"user"`
	Addr      string    `json:"addr,omitempty"`
	Peer      string    `json:"peer"`
	HostName  string    `json:"host_name,omitempty"`
	Tunnel    uint16    `json:"tunnel"`
	Session   uint16    `json:"session"`
	Auth      string    `json:"auth,omitempty"`
	State     string    `json:"state"`
	Up        time.Time `json:"up,omitzero"`
	BytesIn   uint64    `json:"bytes_in"`
	BytesOut  uint64    `json:"bytes_out"`
	PacketsIn uint64    `json:"packets_in"`

	reqID    uint32     // the IPsec SA's ReqID (userspace data plane), or 0
	peerAddr netip.Addr // the peer's outer address
}

// sessions is a status snapshot of the L2TP clients, by peer.
func (g *l2tpGateway) sessions() []l2tpSessionStatus {
	if g == nil {
		return nil
	}
	g.mu.RLock()
	all := maps.Clone(g.all)
	g.mu.RUnlock()
	out := make([]l2tpSessionStatus, 0, len(all))
	for ps, ls := range all {
		pi, li := ps.Info(), ls.Info()
		st := l2tpSessionStatus{User: pi.User, Peer: li.Peer.Addr.String(), HostName: li.HostName,
			Tunnel: li.TunnelID, Session: li.LocalID, State: pi.Phase.String(), Up: pi.Up,
			BytesIn: pi.Stats.BytesIn, BytesOut: pi.Stats.BytesOut, PacketsIn: pi.Stats.PacketsIn,
			reqID: li.Peer.Key, peerAddr: li.Peer.Addr.Addr()}
		if pi.Auth != 0 {
			st.Auth = pi.Auth.String()
		}
		if pi.Addr4.IsValid() {
			st.Addr = pi.Addr4.String()
		}
		out = append(out, st)
	}
	slices.SortFunc(out, func(a, b l2tpSessionStatus) int {
		if c := strings.Compare(a.Peer, b.Peer); c != 0 {
			return c
		}
		return int(a.Session) - int(b.Session)
	})
	return out
}

// close ends every tunnel (StopCCN), then the sessions and the device.
func (g *l2tpGateway) close() {
	if g == nil || g.closing.Swap(true) {
		return
	}
	if err := g.srv.Close(); err != nil {
		g.log.Debug("closing the L2TP server", "err", err)
	}
	if g.udp != nil {
		g.udp.Close()
	}
	g.dev.Close() // and the routes with it
	g.wg.Wait()
}

// writeMetrics adds the L2TP/IPsec families to the Prometheus page.
func (g *l2tpGateway) writeMetrics(w io.Writer) {
	if g == nil {
		return
	}
	p := promWriter{w}
	st := g.srv.Stats()
	g.mu.RLock()
	up := len(g.byAddr)
	g.mu.RUnlock()
	p.family("goipsec_l2tp_tunnels", "gauge", "L2TP tunnels (control connections), half-open ones included.")
	p.sample("goipsec_l2tp_tunnels", float64(st.Tunnels))
	p.family("goipsec_l2tp_sessions", "gauge", "L2TP sessions.")
	p.sample("goipsec_l2tp_sessions", float64(st.Sessions))
	p.family("goipsec_l2tp_clients", "gauge", "L2TP/IPsec clients with an address (PPP IPCP opened).")
	p.sample("goipsec_l2tp_clients", float64(up))
	p.family("goipsec_l2tp_sessions_opened_total", "counter", "L2TP sessions established since start.")
	p.sample("goipsec_l2tp_sessions_opened_total", float64(st.SessionsOpened))
	p.family("goipsec_l2tp_datagrams_dropped_total", "counter", "L2TP datagrams dropped, by reason.")
	p.sample("goipsec_l2tp_datagrams_dropped_total", float64(st.Malformed), "reason", "malformed")
	p.sample("goipsec_l2tp_datagrams_dropped_total", float64(st.Dropped), "reason", "unexpected")
	p.family("goipsec_l2tp_retransmits_total", "counter", "L2TP control messages sent again.")
	p.sample("goipsec_l2tp_retransmits_total", float64(st.Retransmits))
	p.family("goipsec_l2tp_refused_total", "counter", "L2TP tunnels and sessions refused (limits, tunnel authentication).")
	p.sample("goipsec_l2tp_refused_total", float64(st.Refused))
	p.family("goipsec_l2tp_device_drops_total", "counter", "Packets of L2TP clients the TUN device or a PPP session did not take.")
	p.sample("goipsec_l2tp_device_drops_total", float64(g.tunDrops.Load()))
}
