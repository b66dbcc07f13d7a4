package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.zx2c4.com/wireguard/tun"

	"github.com/goipsec/ipsec"
	"github.com/goipsec/ipsec/esp"
	"github.com/goipsec/ipsec/ike"
	"github.com/goipsec/ipsec/proposal"
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
func serve(ctx context.Context, s *settings, stateDir string, stdout, stderr io.Writer) error {
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: s.level}))
	name, addrs := serverIdentity(s)

	// Credentials first: everything that can fail on files fails before
	// a socket or device exists.
	var sc *serverCert
	var err error
	if s.certFile != "" {
		sc, err = loadServerCert(s.certFile, s.keyFile)
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
	if len(users) == 0 {
		demo, demoCreated, err = ensureDemoUser(stateDir)
		if err != nil {
			return err
		}
		users = []UserConfig{demo}
	}
	store := ipsec.NewUsers()
	for _, u := range users {
		store.Set(ipsec.User{Name: u.Name, Password: ipsec.Secret(u.Password)})
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
	cfg := &ike.PeerConfig{
		Name:      "eap",
		LocalID:   localID,
		Local:     ike.LocalAuth{Method: ike.AuthPubkey, Certificates: sc.chain, Key: sc.key},
		Remote:    ike.RemoteAuth{Method: ike.AuthEAP, Users: store},
		Proposals: s.ike,
		Children:  []ike.ChildConfig{{Name: "rw", Proposals: s.esp}},
		Pools:     pools, DNS: s.dns, DNSDomains: s.dnsDomains, Subnets: s.subnets,
		// Apple and Windows clients keep their SA up for hours; a dead
		// phone must not hold its address until the next reboot.
		DPDDelay: 30 * time.Second,
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
	dev, err := tun.CreateTUN(s.tunName, s.tunMTU)
	if err != nil {
		return fmt.Errorf("TUN %s: %w", s.tunName, err)
	}
	tunName, err := dev.Name()
	if err == nil {
		err = configureTUN(tunName, inside)
	}
	if err != nil {
		dev.Close()
		return err
	}
	var dpOpts []esp.Option
	for _, c := range tr.NATTConns() {
		dpOpts = append(dpOpts, esp.WithUDPSendConn(c))
	}
	dp, err := esp.NewUserspace(dev, dpOpts...)
	if err != nil {
		dev.Close()
		return fmt.Errorf("data plane: %w", err)
	}
	// Closing the data plane closes the TUN device, which takes its
	// addresses and routes with it.
	defer dp.Close()
	tr.SetESPHandler(func(pkt []byte, _, remote netip.AddrPort) { dp.HandleUDP(pkt, remote) })

	opts := []ike.Option{
		ike.WithPeers(ike.StaticPeers(cfg)), ike.WithDataPlane(dp), ike.WithLogger(log),
		ike.WithHooks(&ike.Hooks{
			IKEUp: func(i ipsec.IKESAInfo) {
				log.Info("client connected", "id", i.RemoteID.String(), "eap", i.EAPIdentity, "addr", i.Remote.String(), "vips", fmt.Sprint(i.VirtualIPs))
			},
			IKEDown: func(i ipsec.IKESAInfo, err error) {
				log.Info("client disconnected", "id", i.RemoteID.String(), "eap", i.EAPIdentity, "err", err)
			},
		}),
	}
	if keyLog != nil {
		opts = append(opts, ike.WithKeyLogWriter(keyLog))
	}
	resp, err := ike.NewResponder(tr, opts...)
	if err != nil {
		return err
	}
	// Client profiles (without passwords) for every user, so the how-to
	// can point to them; export -include-password makes one with it.
	profiles := ""
	for _, u := range users {
		android, err := androidProfile(sc, name, u.Name)
		for ext, data := range map[string][]byte{
			".mobileconfig": newAppleProfile(sc, name, u.Name).mobileconfig(),
			".ps1":          windowsScript(sc, name, u.Name),
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
	if s.masquerade != "" {
		var pfx []netip.Prefix
		for _, p := range []netip.Prefix{s.pool4, s.pool6} {
			if p.IsValid() {
				pfx = append(pfx, p)
			}
		}
		undo, err := setUpForwarding(s.masquerade, tunName, pfx)
		if err != nil {
			return err
		}
		defer func() {
			if err := undo(); err != nil {
				log.Warn("removing the forwarding set-up", "err", err)
			}
		}()
		log.Info("forwarding clients to the Internet", "uplink", s.masquerade, "nft_table", nftTable)
	}
	stopStatus, err := serveStatus(stateDir, func() []ipsec.IKESAInfo { return withCounters(resp.SAs(), dp) }, log)
	if err != nil {
		return fmt.Errorf("status socket: %w", err)
	}
	defer stopStatus()
	if s.masquerade == "" && len(s.subnets) == 0 && !forwarding(s.pool4.IsValid(), s.pool6.IsValid()) {
		log.Warn("IP forwarding is off: clients reach the server's inside addresses but not the Internet; enable net.ipv4.ip_forward / net.ipv6.conf.all.forwarding and masquerade the pools on the uplink")
	}
	printHowTo(stdout, name, addrs, tr.LocalAddrs(), users, demo, demoCreated, profiles, stateDir, sc, inside)
	log.Info("responder started", "tun", tunName, "pools", fmt.Sprint(inside), "ike", s.ike.String())
	err = resp.Serve(ctx)
	log.Info("responder stopped: SAs deleted, removing the TUN device")
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return nil
	}
	return err
}

// printHowTo prints, once per start, what a user needs to connect. The
// demo password appears only on the start that created it; later starts
// point to the file.
func printHowTo(w io.Writer, name string, addrs []netip.Addr, listening []netip.AddrPort, users []UserConfig, demo UserConfig, demoCreated bool, profiles, stateDir string, sc *serverCert, inside []netip.Prefix) {
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
	ins := make([]string, len(inside))
	for i, p := range inside {
		ins[i] = p.Addr().String()
	}
	fmt.Fprintf(&b, "  inside address:  %s (ping it through the tunnel)\n", strings.Join(ins, ", "))
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
