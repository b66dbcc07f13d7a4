package main

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/goipsec/ipsec"
	"github.com/goipsec/ipsec/esp"
	"github.com/goipsec/ipsec/ike"
	"github.com/goipsec/ipsec/ikev1"
	"github.com/goipsec/ipsec/proposal"
	"github.com/goipsec/ipsec/radius"
	"github.com/goipsec/ipsec/xfrm"
)

// timeNow is the clock for certificates; tests keep the real one.
var timeNow = time.Now

// serverIdentity picks the name clients connect to and the addresses the
// certificate must cover: the listen addresses, or else every global
// address of the host.
func serverIdentity(s *settings) (string, []netip.Addr) {
	addrs := slices.Clone(s.listen)
	if len(addrs) == 0 {
		for _, p := range hostAddrs() {
			a := p.Addr()
			if a.IsLoopback() || a.IsLinkLocalUnicast() || a.IsUnspecified() || a.IsMulticast() {
				continue
			}
			addrs = append(addrs, a)
		}
		// IPv4 first: it is what people type.
		slices.SortStableFunc(addrs, func(a, b netip.Addr) int {
			if a.Is4() != b.Is4() {
				if a.Is4() {
					return -1
				}
				return 1
			}
			return 0
		})
	}
	addrs = slices.DeleteFunc(addrs, func(a netip.Addr) bool { return a.IsUnspecified() })
	name := s.name
	if name == "" {
		if h, err := os.Hostname(); err == nil && strings.Contains(h, ".") && validDNSName(h) {
			name = h
		} else if len(addrs) > 0 {
			name = addrs[0].String()
		} else {
			name = "localhost"
		}
	}
	return name, addrs
}

// serve runs the responder until ctx ends.
// newLogger is the responder's log on stderr at the configured level.
func newLogger(s *settings, stderr io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: s.level}))
}

// serve runs the responder until ctx ends. kdp is the kernel data plane
// opened (and probed) by the caller, nil for the userspace one; serve
// owns it.
func serve(ctx context.Context, s *settings, kdp *xfrm.DataPlane, stateDir string, stdout, stderr io.Writer) (err error) {
	log := newLogger(s, stderr)
	defer func() {
		// Until the data plane wrapper takes it over, a failed start
		// must release the kernel data plane.
		if err != nil && kdp != nil {
			kdp.Close()
		}
	}()
	name, addrs := serverIdentity(s)

	// Credentials first: everything that can fail on files fails before
	// a socket or device exists.
	var sc *serverCert
	if s.certFile != "" || s.pkcs12File != "" {
		sc, err = s.loadServerCert()
	} else {
		sc, _, err = ensurePKI(stateDir, name, addrs, timeNow())
	}
	if err != nil {
		return err
	}
	for _, f := range lintCert(sc.leaf, name, addrs, timeNow()) {
		log.Warn("server certificate", "rejected_by", f.Clients, "problem", f.Problem)
	}
	users := s.users
	var demo UserConfig
	demoCreated := false
	if len(users) == 0 && !(s.radius != nil && s.radius.eap) {
		demo, demoCreated, err = ensureDemoUser(stateDir)
		if err != nil {
			return err
		}
		users = []UserConfig{demo}
	}
	var v1 *v1Server
	v1PSKCreated := false
	if s.v1 != nil && s.v1.enabled {
		v1 = &v1Server{s: s.v1, global: s.subnets}
		if s.v1.needsDemoPSK() {
			if v1.demoPSK, v1PSKCreated, err = ensureDemoV1PSK(stateDir); err != nil {
				return err
			}
		}
	}
	store := ipsec.NewUsers()
	for _, u := range users {
		store.Set(ipsec.User{Name: u.Name, Password: ipsec.Secret(u.Password), Groups: u.Groups})
	}
	// radius: the sockets open now, before the privileges go.
	rad, err := startRadius(s.radius, log)
	if err != nil {
		return err
	}
	defer rad.close()
	xauthUsers, pppUsers := ipsec.UserStore(store), ipsec.UserStore(store)
	if rad != nil && s.radius.xauth {
		xauthUsers = radiusVerifier{UserStore: store, c: rad.auth}
	}
	if rad != nil && s.radius.ppp {
		pppUsers = radiusVerifier{UserStore: store, c: rad.auth}
	}
	var keyLog io.Writer
	if s.keyLog != "" {
		f, err := os.OpenFile(s.keyLog, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			return &fieldError{Field: "log.key_log", Err: err}
		}
		defer f.Close()
		keyLog = f
		log.Warn("writing IKE and ESP keys to the key log: anyone who reads it can decrypt the traffic", "file", s.keyLog)
	}

	var pools []ipsec.AddressPool
	var inside []netip.Prefix
	for _, p := range []netip.Prefix{s.pool4, s.pool6} {
		if !p.IsValid() {
			continue
		}
		pool, err := ipsec.NewPool(p)
		if err != nil {
			return err
		}
		gw := p.Addr().Next()
		pool.Reserve(gw) // the server's own inside address
		pools = append(pools, pool)
		inside = append(inside, netip.PrefixFrom(gw, p.Bits()))
	}
	var gws []netip.Addr
	for _, p := range inside {
		gws = append(gws, p.Addr())
	}
	authorize, err := groupAuthorizer(s.groups, pools, gws)
	if err != nil {
		return err
	}
	for _, p := range s.ike {
		if slices.Contains(p.KE, proposal.KEMODP1024) {
			log.Warn("IKE proposals accept MODP-1024 (DH group 2), which Windows offers by default; set proposals.ike to refuse it once the Windows clients use Set-VpnConnectionIPsecConfiguration")
			break
		}
	}

	localID := ipsec.FQDN(name)
	if ip, err := netip.ParseAddr(name); err == nil {
		localID = ipsec.AddrID(ip)
	}
	base := ike.PeerConfig{
		LocalID:  localID,
		Local:    ike.LocalAuth{Method: ike.AuthPubkey, Certificates: sc.chain, Key: sc.key},
		Children: []ike.ChildConfig{{Name: "rw", Proposals: s.esp}},
		Pools:    pools, DNS: s.dns, DNSDomains: s.dnsDomains, Subnets: s.subnets,
		// Apple and Windows clients keep their SA up for hours; a dead
		// phone must not hold its address until the next reboot.
		DPDDelay: s.dpd2,
	}
	peers, clientCAs := peerConfigs(base, s, sc, store)
	if rad != nil && s.radius.eap {
		for _, p := range peers {
			if p.Remote.Method == ike.AuthEAP {
				// radius.eap: the EAP conversation goes to the servers
				// (the Identity round stays here).
				p.Remote.EAPBackend = &radius.EAPBackend{Client: rad.auth, OnAccept: rad.sessions.onAccept}
			}
		}
	}
	stopCertPolicy, err := applyCertPolicy(s, peers, clientCAs, log)
	if err != nil {
		return err
	}
	defer stopCertPolicy()
	certClients := len(clientCAs) > 0
	if certClients {
		log.Info("certificate clients accepted", "cas", len(clientCAs))
	}

	var topts []ike.TransportOption
	if len(s.listen) > 0 {
		topts = append(topts, ike.WithListenAddrs(s.listen...))
	}
	tr, err := ike.ListenUDP(ctx, topts...)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	defer tr.Close()
	var dp *dataPlane
	// The L2TP server, once started; the data plane hands it datagrams.
	var l2tpHook atomic.Pointer[l2tpGateway]
	if kdp != nil {
		dp, err = startKernelDataPlane(kdp, tr, s.tunName, inside)
		kdp = nil // closed by startKernelDataPlane on error, owned by dp otherwise
	} else {
		var local func(esp.LocalDatagram)
		if s.l2tp.enabled {
			local = func(d esp.LocalDatagram) {
				if g := l2tpHook.Load(); g != nil {
					g.handleLocal(d)
				}
			}
		}
		dp, err = newUserspaceDataPlane(tr, s.tunName, s.tunMTU, inside, local, log)
	}
	if err != nil {
		return err
	}
	defer func() {
		if err := dp.close(); err != nil {
			log.Warn("closing the data plane", "err", err)
		}
	}()
	tunName := dp.device
	if v1 != nil {
		// IKEv1 clients' own inside networks: into the tunnel, like the
		// pools (the routes go with the device).
		if err := addRoutes(tunName, s.v1.clientSubnets); err != nil {
			return err
		}
	}
	m := newMetrics()

	opts := []ike.Option{
		ike.WithPeers(ike.StaticPeers(peers...)), ike.WithDataPlane(dp.DataPlane), ike.WithLogger(log),
		// proposals.ike: a responder's IKE proposals are negotiated in
		// IKE_SA_INIT, before any peer configuration is chosen, so they
		// are the engine's; proposals.esp is in each peer's ChildConfig.
		ike.WithProposals(s.ike),
		ike.WithHooks(&ike.Hooks{
			Authorize: authorize, // groups: per-group pools and subnets
			IKEUp: func(i ipsec.IKESAInfo) {
				log.Info("client connected", "id", i.RemoteID.String(), "eap", i.EAPIdentity, "addr", i.Remote.String(), "vips", fmt.Sprint(i.VirtualIPs))
			},
			IKEDown: func(i ipsec.IKESAInfo, err error) {
				log.Info("client disconnected", "id", i.RemoteID.String(), "eap", i.EAPIdentity, "err", err)
			},
			Rekeyed: m.rekeyed,
			Alert: func(a ike.Alert) {
				m.alert(a)
				switch a.Kind {
				case ike.AlertAuthFailed:
					log.Warn("authentication failed", "id", a.Info.RemoteID.String(), "eap", a.Info.EAPIdentity, "addr", a.Info.Remote.String(), "err", a.Err)
				case ike.AlertProposalMismatch:
					// The explanation names what each side offered and
					// which transform had no match (e.g. MODP_1024).
					log.Warn("proposals refused", "addr", a.Info.Remote.String(), "detail", a.Detail)
				}
			},
		}),
	}
	opts = append(opts, ike.WithIdentityLimits(s.limits))
	if rad != nil && (rad.acct != nil || s.radius.eap) {
		// Accounting, and without it the sessions' start and stop for
		// Session-Timeout.
		opts = append(opts, ike.WithAccounting(&radiusAccounting{acct: rad.acct, sessions: rad.sessions}, s.radius.interim))
	}
	if keyLog != nil {
		opts = append(opts, ike.WithKeyLogWriter(keyLog))
	}
	if certClients {
		// A CERTREQ naming the client CAs in the IKE_SA_INIT response:
		// Windows picks its machine certificate by these hashes (error
		// 13806 without a match), and strongSwan clients on their default
		// send_cert = ifasked send their certificate only when asked. It
		// names exactly the CAs the certificate configuration trusts, so
		// no client is invited to send a certificate that is refused.
		opts = append(opts, ike.WithCertificateRequests(clientCAs...))
	}
	resp, err := ike.NewResponder(tr, opts...)
	if err != nil {
		return err
	}
	if rad != nil {
		rad.sessions.terminate = resp.Terminate // Session-Timeout
		if err := rad.serveDAE(s.radius, resp); err != nil {
			return err
		}
	}
	var v1resp *ikev1.Responder
	if v1 != nil {
		v1.localID, v1.sc, v1.cas = localID, sc, clientCAs
		// One user store and one address space for both engines.
		v1.users, v1.pools, v1.dns, v1.dnsDomains = xauthUsers, pools, s.dns, s.dnsDomains
		if v1resp, err = startIKEv1(v1, tr, dp.DataPlane, keyLog, log, m, &l2tpHook); err != nil {
			return err
		}
		// Before the data plane goes (deferred earlier, so run later):
		// the clients are told with a Delete.
		defer v1resp.Close()
	}
	var l2tpGW *l2tpGateway
	if s.l2tp.enabled {
		var pool4 ipsec.AddressPool
		var local4 netip.Addr
		for i, p := range inside {
			if p.Addr().Is4() {
				pool4, local4 = pools[i], p.Addr()
			}
		}
		l2tpGW, err = startL2TP(l2tpParams{s: s.l2tp, users: pppUsers, pool: pool4, local: local4, dns: s.dns, hostName: name}, dp, &l2tpHook, log)
		if err != nil {
			return err
		}
		// Before the IKEv1 SAs go (deferred later, so run earlier): the
		// StopCCN still reaches the clients through them.
		defer l2tpGW.close()
	}
	// Client profiles (without passwords) for every user, so the how-to
	// can point to them; export -include-password makes one with it.
	profiles := ""
	for _, u := range users {
		android, err := androidProfile(sc, name, u.Name, nil)
		for ext, data := range map[string][]byte{
			".mobileconfig": newAppleProfile(sc, name, u.Name).mobileconfig(),
			".ps1":          windowsScript(sc, name, u.Name, nil, false),
			".sswan":        android,
		} {
			var p string
			if err == nil {
				p, err = writeProfile(stateDir, u.Name, ext, data)
			}
			if err != nil {
				log.Warn("could not write a client profile", "user", u.Name, "err", err)
				continue
			}
			profiles = filepath.Dir(p)
		}
	}
	var poolPfx []netip.Prefix
	for _, p := range []netip.Prefix{s.pool4, s.pool6} {
		if p.IsValid() {
			poolPfx = append(poolPfx, p)
		}
	}
	if needsTable(s.masquerade, dp.kernel, s.isolate) {
		rules := forwardRules{uplink: s.masquerade, device: tunName, pools: poolPfx, isolate: s.isolate}
		if l2tpGW != nil {
			rules.pppDevice = l2tpGW.name
			// On the kernel data plane the L2TP socket is a normal one:
			// only datagrams the kernel decrypted may reach it.
			rules.l2tpOnlyIPsec = dp.kernel
		}
		if dp.kernel {
			rules.device = "" // no device carries the clients' traffic: match the pools
		}
		// The kernel forwards decrypted client traffic only with
		// forwarding on, even to the server's own inside addresses'
		// neighbours; the userspace plane's TUN needs it for the same
		// reason but the operator decides there (masquerade).
		undo, err := setUpForwarding(rules, s.masquerade != "" || dp.kernel)
		if err != nil {
			return err
		}
		defer func() {
			if err := undo(); err != nil {
				log.Warn("removing the forwarding set-up", "err", err)
			}
		}()
		if s.masquerade != "" {
			log.Info("forwarding clients to the Internet", "uplink", s.masquerade, "nft_table", nftTable, "isolate_clients", s.isolate)
		}
	}
	snapshot := func() []ipsec.IKESAInfo {
		sas := resp.SAs()
		if v1resp != nil {
			sas = append(sas, v1resp.SAs()...)
		}
		return withCounters(sas, dp.DataPlane)
	}
	stopStatus, err := serveControl(stateDir, snapshot, engines{resp, v1resp}, l2tpGW.sessions, log)
	if err != nil {
		return fmt.Errorf("status socket: %w", err)
	}
	defer stopStatus()
	if s.metrics != "" {
		stopMetrics, addr, err := serveMetrics(s.metrics, func(w io.Writer) {
			m.write(w, snapshot(), resp.Stats(), pools)
			if u, ok := dp.DataPlane.(*esp.Userspace); ok {
				writeDropMetrics(w, u.Stats(), tr.Stats())
			}
			l2tpGW.writeMetrics(w)
		}, s.metricsPprof, log)
		if err != nil {
			return &fieldError{Field: "metrics", Err: err}
		}
		defer stopMetrics()
		log.Info("Prometheus metrics", "url", "http://"+addr+"/metrics")
	}
	if !dp.kernel && s.masquerade == "" && len(s.subnets) == 0 && !forwarding(s.pool4.IsValid(), s.pool6.IsValid()) {
		log.Warn("IP forwarding is off: clients reach the server's inside addresses but not the Internet; enable net.ipv4.ip_forward / net.ipv6.conf.all.forwarding and masquerade the pools on the uplink")
	}
	certHint := ""
	switch {
	case certClients && len(s.clientCAs) == 0:
		certHint = fmt.Sprintf("responder export apple|windows|android|linux --auth cert --user NAME -state %s (issues NAME a certificate from the demo CA, as PKCS#12)", stateDir)
	case certClients:
		certHint = fmt.Sprintf("accepted when issued by the %d CA certificate(s) of client_cas", len(s.clientCAs))
	}
	// Everything that needs root exists now: keep only what serving and
	// the clean-up at stop need.
	kept, err := dropPrivileges(servingCaps, s.runAs)
	if err != nil {
		return fmt.Errorf("dropping privileges: %w", err)
	}
	log.Info("privileges dropped", "capabilities", kept.String(), "uid", os.Getuid())
	printHowTo(stdout, name, addrs, tr.LocalAddrs(), users, demo, demoCreated, profiles, stateDir, sc, inside, certHint, v1HowTo(v1, v1PSKCreated, stateDir, certClients))
	log.Info("responder started", "dataplane", map[bool]string{false: "userspace", true: "kernel"}[dp.kernel], "device", tunName, "pools", fmt.Sprint(inside), "ike", s.ike.String())
	// Serve until the signal, then drain: every client is told with a
	// Delete and its answer awaited (at most shutdownGrace), so clients
	// see the server going, not a dead peer.
	served := make(chan error, 1)
	go func() { served <- resp.Serve(context.Background()) }()
	select {
	case err = <-served:
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
		if serr := resp.Shutdown(sctx); serr != nil {
			log.Warn("not every client answered the Delete in time", "grace", shutdownGrace.String(), "err", serr)
		}
		// L2TP clients get a StopCCN through their IPsec SAs first.
		l2tpGW.close()
		if v1resp != nil {
			v1resp.Close() // IKEv1 clients are told with a Delete
		}
		cancel()
		err = <-served
	}
	log.Info("responder stopped: SAs deleted, removing the data plane and its device", "device", tunName)
	if errors.Is(err, ike.ErrClosed) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return nil
	}
	return err
}

// shutdownGrace bounds how long a stopping server waits for its clients
// to answer the Deletes (a systemd stop allows 90 s by default).
const shutdownGrace = 5 * time.Second

// peerConfigs returns the configurations the responder serves, all
// with the same local identity and certificate: one per PSK peer
// (selected by the peer's identity), EAP for user name and password
// clients, and, when a CA for client certificates is known, certificate
// clients. ike.StaticPeers tells EAP, PSK and certificate clients apart
// by how their IKE_AUTH authenticates (PeerQuery.RemoteMethod). cas are
// the CAs certificate clients are accepted from, none when there are no
// certificate clients.
func peerConfigs(base ike.PeerConfig, s *settings, sc *serverCert, users ipsec.UserStore) (peers []*ike.PeerConfig, cas []*x509.Certificate) {
	for _, p := range s.pskPeers {
		c := base
		c.Name = "psk " + p.id.String()
		c.RemoteID = p.id
		c.Local = ike.LocalAuth{Method: ike.AuthPSK, PSK: p.psk}
		c.Remote = ike.RemoteAuth{Method: ike.AuthPSK, PSK: p.psk}
		c.AllowNoVirtualIP = p.noVirtualIP
		peers = append(peers, &c)
	}
	eapCfg := base
	eapCfg.Name = "eap"
	eapCfg.Remote = ike.RemoteAuth{Method: ike.AuthEAP, Users: users}
	peers = append(peers, &eapCfg)
	cas = s.clientCAs
	if len(cas) == 0 && sc.caFile != "" && sc.root != nil {
		// The demo PKI: its CA issues the client certificates that
		// `export --auth cert` hands out.
		cas = []*x509.Certificate{sc.root}
	}
	if len(cas) > 0 {
		pool := x509.NewCertPool()
		for _, c := range cas {
			pool.AddCert(c)
		}
		certCfg := base
		certCfg.Name = "cert"
		certCfg.Remote = ike.RemoteAuth{Method: ike.AuthPubkey, CAs: pool}
		peers = append(peers, &certCfg)
	}
	return peers, cas
}

// printHowTo prints, once per start, what a user needs to connect. The
// demo password appears only on the start that created it; later starts
// point to the file.
func printHowTo(w io.Writer, name string, addrs []netip.Addr, listening []netip.AddrPort, users []UserConfig, demo UserConfig, demoCreated bool, profiles, stateDir string, sc *serverCert, inside []netip.Prefix, certHint, v1 string) {
	var b strings.Builder
	fmt.Fprintf(&b, "goipsec responder is running. Connect an IKEv2 client (type IKEv2, EAP user name and password):\n")
	fmt.Fprintf(&b, "  server address:  %s\n", name)
	if len(addrs) > 0 {
		fmt.Fprintf(&b, "  also reachable:  %s\n", strings.Join(addrStrings(addrs), ", "))
	}
	fmt.Fprintf(&b, "  remote ID:       %s\n", name)
	switch {
	case demo.Name != "" && demoCreated:
		fmt.Fprintf(&b, "  user:            %s\n  password:        %s\n", demo.Name, demo.Password)
	case demo.Name != "":
		fmt.Fprintf(&b, "  user:            %s\n  password:        in %s/%s\n", demo.Name, stateDir, demoUserFile)
	default:
		names := make([]string, len(users))
		for i, u := range users {
			names[i] = u.Name
		}
		fmt.Fprintf(&b, "  users:           %s (passwords as configured)\n", strings.Join(names, ", "))
	}
	if sc.caFile != "" {
		fmt.Fprintf(&b, "  CA certificate:  %s (install it on the client and trust it)\n", sc.caFile)
	} else {
		fmt.Fprintf(&b, "  certificate:     %s, issued by %s\n", sc.leaf.Subject.CommonName, sc.leaf.Issuer.CommonName)
	}
	if profiles != "" {
		fmt.Fprintf(&b, "  client profiles: %s/USER.mobileconfig (iPhone, iPad, Mac), USER.ps1 (Windows), USER.sswan (Android strongSwan app); the CA is included\n", profiles)
	}
	if certHint != "" {
		fmt.Fprintf(&b, "  certificates:    %s\n", certHint)
	}
	ins := make([]string, len(inside))
	for i, p := range inside {
		ins[i] = p.Addr().String()
	}
	fmt.Fprintf(&b, "  inside address:  %s (ping it through the tunnel)\n", strings.Join(ins, ", "))
	b.WriteString(v1)
	if len(listening) > 0 {
		l := make([]string, len(listening))
		for i, a := range listening {
			l[i] = a.String()
		}
		fmt.Fprintf(&b, "  listening on:    %s\n", strings.Join(l, ", "))
	}
	io.WriteString(w, b.String())
}

// forwarding reports whether the kernel forwards the families in use. A
// full-tunnel client sends everything, DNS included, to us; without
// forwarding it has no Internet while connected.
func forwarding(v4, v6 bool) bool {
	on := func(path string) bool {
		b, err := os.ReadFile(path)
		return err == nil && strings.TrimSpace(string(b)) == "1"
	}
	return (!v4 || on("/proc/sys/net/ipv4/ip_forward")) && (!v6 || on("/proc/sys/net/ipv6/conf/all/forwarding"))
}

// withCounters fills in the CHILD SAs' traffic counters from the data
// plane where the engine's snapshot has none.
func withCounters(sas []ipsec.IKESAInfo, dp esp.DataPlane) []ipsec.IKESAInfo {
	for i := range sas {
		for j := range sas[i].Children {
			c := &sas[i].Children[j]
			if c.BytesIn != 0 || c.BytesOut != 0 || c.PacketsIn != 0 || c.PacketsOut != 0 {
				continue
			}
			if st, err := dp.SAStats(esp.SAID{SPI: c.SPIIn, Dir: esp.DirIn}); err == nil {
				c.BytesIn, c.PacketsIn, c.LastIn = st.Bytes, st.Packets, st.LastUse
			}
			if st, err := dp.SAStats(esp.SAID{SPI: c.SPIOut, Dir: esp.DirOut, Dst: sas[i].Remote.Addr()}); err == nil {
				c.BytesOut, c.PacketsOut, c.LastOut = st.Bytes, st.Packets, st.LastUse
			}
		}
	}
	return sas
}
