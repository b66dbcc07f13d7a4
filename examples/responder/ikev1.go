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
	"sync"
	"sync/atomic"
	"time"

	"github.com/goipsec/ipsec"
	"github.com/goipsec/ipsec/esp"
	"github.com/goipsec/ipsec/ike"
	"github.com/goipsec/ipsec/ikev1"
	"github.com/goipsec/ipsec/proposal"
)

// IKEv1Config is the ikev1: section: IKEv1 clients on the same ports,
// data plane and server identity as the IKEv2 ones. Main Mode (and, when
// allowed, Aggressive Mode) with a pre-shared key or RSA signatures, then
// Quick Mode for the IPsec SAs. "Cisco IPSec" clients (Apple's built-in
// IKEv1 client: the XAuth phase 1 methods) log in with the users of the
// IKEv2 clients and get their virtual address from the same pools, with
// the same DNS settings (Mode Config); other IKEv1 clients bring their
// own inside addresses (client_subnets). L2TP/IPsec clients: see L2TPConfig.
type IKEv1Config struct {
	// Enabled answers IKEv1 at all (default true).
	Enabled bool `yaml:"enabled"`
	// XAuth answers "Cisco IPSec" clients (default true): after the
	// group key or certificate of phase 1 the user logs in with the user
	// name and password of users: (XAuth), then gets an address of the
	// pools and the dns: settings (Mode Config).
	XAuth bool `yaml:"xauth"`
	// GroupName is the "Group Name" of Apple's "Cisco IPSec" settings:
	// such clients use Aggressive Mode with it as their KEY_ID identity
	// (only with allow_aggressive). Clients with a blank group name use
	// Main Mode and the key of their address (psks, group_secret or the
	// demo key).
	GroupName string `yaml:"group_name"`
	// GroupSecret (or the first line of GroupSecretFile) is the group's
	// "Shared Secret": the key of group_name and, without psks, of every
	// Main Mode client. Empty: the demo key (only without psks).
	GroupSecret     string `yaml:"group_secret"`
	GroupSecretFile string `yaml:"group_secret_file"`
	// PSKs are the pre-shared keys; empty: the demo key for every address.
	PSKs []V1PSKConfig `yaml:"psks"`
	// AllowAggressive answers Aggressive Mode for the psks entries with
	// an id. Its PSK hash can be attacked offline.
	AllowAggressive bool `yaml:"allow_aggressive"`
	// Certificates answers RSA (or ECDSA) signature clients with the
	// server certificate, for client certificates of the client CAs.
	Certificates bool `yaml:"certificates"`
	// Subnets are the server's side of the tunnel (Quick Mode IDcr);
	// empty: the global subnets, or everything without them.
	Subnets []string `yaml:"subnets"`
	// ClientSubnets are the inside addresses IKEv1 clients may use (their
	// Quick Mode IDci); empty: a client's own outer address only.
	ClientSubnets []string `yaml:"client_subnets"`
	// L2TPTransport is the former switch of L2TP/IPsec: true turns on
	// l2tp.enabled.
	L2TPTransport bool `yaml:"l2tp_transport"`
	// Proposals are IKEv1 proposals (strongSwan keywords); empty: the
	// library's defaults for the native clients.
	Proposals ProposalConfig `yaml:"proposals"`
	// DPDDelay is how long a client may be silent before it is probed
	// (0: no probes); DPDTimeout how long probes go unanswered before
	// the client is declared dead.
	DPDDelay   time.Duration `yaml:"dpd_delay"`
	DPDTimeout time.Duration `yaml:"dpd_timeout"`
	// Lifetime is the ISAKMP SA's, IPsecLifetime the IPsec SAs' lifetime:
	// a client proposing longer ones is told these (RESPONDER-LIFETIME).
	Lifetime      time.Duration `yaml:"lifetime"`
	IPsecLifetime time.Duration `yaml:"ipsec_lifetime"`
}

// V1PSKConfig is one IKEv1 pre-shared key. Main Mode chooses the key by
// the client's address (peer: an address, a CIDR or "*" for every
// address), since the client's identity arrives encrypted with it;
// Aggressive Mode by the identity the client sends in the clear (id,
// e.g. keyid:GroupName, only with allow_aggressive).
type V1PSKConfig struct {
	Peer    string `yaml:"peer"`
	ID      string `yaml:"id"`
	PSK     string `yaml:"psk"`
	PSKFile string `yaml:"psk_file"`
}

// v1Settings is the validated ikev1: section.
type v1Settings struct {
	enabled         bool
	xauth           bool
	groupName       string       // "": no Aggressive Mode group
	groupSecret     ipsec.Secret // nil: the demo key
	byAddr          []v1AddrKey  // Main Mode keys, most specific prefix first
	byID            []v1IDKey    // Aggressive Mode keys
	demoPSK         bool         // no psks: the demo key for every address
	allowAggressive bool
	certificates    bool
	subnets         []netip.Prefix
	clientSubnets   []netip.Prefix
	l2tp            bool
	ike, esp        proposal.List
	dpdDelay        time.Duration
	dpdTimeout      time.Duration
	lifetime        time.Duration
	ipsecLifetime   time.Duration
}

type v1AddrKey struct {
	peer netip.Prefix // 0.0.0.0/0 and ::/0 for "*"
	any  bool
	psk  ipsec.Secret
}

type v1IDKey struct {
	id  ipsec.Identity
	psk ipsec.Secret
}

// demoV1PSKFile holds the demo IKEv1 pre-shared key in the state
// directory (mode 0600).
const demoV1PSKFile = "demo-ikev1-psk"

// Bounds of the IKEv1 durations: below a minute the SAs would do nothing
// but rekey; RFC 2409 sets no upper limit, a day is what clients accept.
const (
	minV1Lifetime = time.Minute
	maxV1Lifetime = 24 * time.Hour
)

// check validates the ikev1: section; pools and localAddrs are what
// client_subnets must not overlap.
func (c *IKEv1Config) check(pools []netip.Prefix, localAddrs []netip.Prefix) (*v1Settings, error) {
	s := &v1Settings{enabled: c.Enabled, xauth: c.XAuth, allowAggressive: c.AllowAggressive, certificates: c.Certificates, l2tp: c.L2TPTransport}
	if !c.Enabled {
		return s, nil
	}
	if err := s.checkGroup(c); err != nil {
		return nil, err
	}
	seenPeer, seenID := map[netip.Prefix]bool{}, map[string]bool{}
	for i, p := range c.PSKs {
		field := fmt.Sprintf("ikev1.psks[%d]", i)
		peer, id := strings.TrimSpace(p.Peer), strings.TrimSpace(p.ID)
		if (peer == "") == (id == "") {
			return nil, fieldErr(field, "either peer (an address, a CIDR or \"*\": Main Mode) or id (Aggressive Mode), exactly one")
		}
		psk := p.PSK
		switch {
		case p.PSK != "" && p.PSKFile != "":
			return nil, fieldErr(field+".psk_file", "either psk or psk_file, not both")
		case p.PSKFile != "":
			b, err := readFileLimited(p.PSKFile, maxSecretFile)
			if err != nil {
				return nil, &fieldError{Field: field + ".psk_file", Err: err}
			}
			psk = strings.TrimRight(string(b), "\r\n")
		}
		// The key itself never appears in an error.
		if len(psk) < minPSKLength {
			return nil, fieldErr(field+".psk", "the key is empty or shorter than %d characters", minPSKLength)
		}
		if id != "" {
			if !c.AllowAggressive {
				return nil, fieldErr(field+".id", "an identity selects an Aggressive Mode key: set ikev1.allow_aggressive (its PSK hash can be attacked offline), or use peer for Main Mode")
			}
			ident, err := parseV1Identity(id)
			if err != nil {
				return nil, fieldErr(field+".id", "%q: %v", id, err)
			}
			if seenID[ident.String()] {
				return nil, fieldErr(field+".id", "%q appears twice", id)
			}
			seenID[ident.String()] = true
			s.byID = append(s.byID, v1IDKey{id: ident, psk: ipsec.Secret(psk)})
			continue
		}
		var pfxs []netip.Prefix
		anyAddr := peer == "*"
		switch {
		case anyAddr:
			pfxs = []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0")}
		case strings.Contains(peer, "/"):
			pfx, err := netip.ParsePrefix(peer)
			if err != nil {
				return nil, fieldErr(field+".peer", "%q is not an address, a CIDR or \"*\"", peer)
			}
			pfxs = []netip.Prefix{pfx.Masked()}
		default:
			a, err := netip.ParseAddr(peer)
			if err != nil {
				return nil, fieldErr(field+".peer", "%q is not an address, a CIDR or \"*\"", peer)
			}
			pfxs = []netip.Prefix{netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())}
		}
		for _, pfx := range pfxs {
			if seenPeer[pfx] {
				return nil, fieldErr(field+".peer", "%q appears twice", peer)
			}
			seenPeer[pfx] = true
			s.byAddr = append(s.byAddr, v1AddrKey{peer: pfx, any: anyAddr, psk: ipsec.Secret(psk)})
		}
	}
	if len(c.PSKs) == 0 && s.groupSecret != nil {
		// The group secret is the key of blank-group (Main Mode) clients.
		for _, pfx := range []string{"0.0.0.0/0", "::/0"} {
			s.byAddr = append(s.byAddr, v1AddrKey{peer: netip.MustParsePrefix(pfx), any: true, psk: s.groupSecret})
		}
	}
	// The most specific prefix decides, as in a routing table.
	sortByBits(s.byAddr)
	s.demoPSK = len(c.PSKs) == 0 && s.groupSecret == nil
	for i, p := range c.Subnets {
		pfx, err := netip.ParsePrefix(p)
		if err != nil {
			return nil, fieldErr(fmt.Sprintf("ikev1.subnets[%d]", i), "bad CIDR %q", p)
		}
		s.subnets = append(s.subnets, pfx.Masked())
	}
	for i, p := range c.ClientSubnets {
		field := fmt.Sprintf("ikev1.client_subnets[%d]", i)
		pfx, err := netip.ParsePrefix(p)
		if err != nil {
			return nil, fieldErr(field, "bad CIDR %q", p)
		}
		pfx = pfx.Masked()
		if pfx.Bits() == 0 {
			return nil, fieldErr(field, "%s would route every destination into the tunnel: name the clients' inside networks", pfx)
		}
		// Routed into the tunnel at start: overlapping the pools would
		// give one client another's traffic, overlapping the host's own
		// networks would cut the server off.
		for _, pl := range pools {
			if pl.Overlaps(pfx) {
				return nil, fieldErr(field, "%s overlaps the pool %s (IKEv2 clients' addresses)", pfx, pl)
			}
		}
		for _, la := range localAddrs {
			if la.Masked().Overlaps(pfx) && !la.Addr().IsLoopback() {
				return nil, fieldErr(field, "%s overlaps the host's network %s", pfx, la.Masked())
			}
		}
		s.clientSubnets = append(s.clientSubnets, pfx)
	}
	var err error
	if c.Proposals.IKE != "" {
		if s.ike, err = proposal.Parse(c.Proposals.IKE, proposal.ProtoIKE); err != nil {
			return nil, fieldErr("ikev1.proposals.ike", "%v", err)
		}
		for _, p := range s.ike {
			if _, err := proposal.ToIKEv1Phase1(p, proposal.V1AuthPSK); err != nil {
				return nil, fieldErr("ikev1.proposals.ike", "%v", err)
			}
		}
	}
	if c.Proposals.ESP != "" {
		if s.esp, err = proposal.Parse(c.Proposals.ESP, proposal.ProtoESP); err != nil {
			return nil, fieldErr("ikev1.proposals.esp", "%v", err)
		}
		for _, p := range s.esp {
			if _, err := proposal.ToIKEv1ESP(p); err != nil {
				return nil, fieldErr("ikev1.proposals.esp", "%v", err)
			}
		}
	}
	switch {
	case c.DPDDelay < 0:
		return nil, fieldErr("ikev1.dpd_delay", "%s is negative (0 turns the probes off)", c.DPDDelay)
	case c.DPDDelay == 0:
		s.dpdDelay = -1 // the library's "off"
	default:
		s.dpdDelay = c.DPDDelay
		if c.DPDTimeout < c.DPDDelay {
			return nil, fieldErr("ikev1.dpd_timeout", "%s is shorter than ikev1.dpd_delay %s", c.DPDTimeout, c.DPDDelay)
		}
		s.dpdTimeout = c.DPDTimeout
	}
	for _, d := range []struct {
		field string
		v     time.Duration
		dst   *time.Duration
	}{{"ikev1.lifetime", c.Lifetime, &s.lifetime}, {"ikev1.ipsec_lifetime", c.IPsecLifetime, &s.ipsecLifetime}} {
		if d.v < minV1Lifetime || d.v > maxV1Lifetime {
			return nil, fieldErr(d.field, "%s is outside %s..%s", d.v, minV1Lifetime, maxV1Lifetime)
		}
		*d.dst = d.v
	}
	return s, nil
}

// checkGroup validates group_name and group_secret(_file).
func (s *v1Settings) checkGroup(c *IKEv1Config) error {
	secret := c.GroupSecret
	switch {
	case c.GroupSecret != "" && c.GroupSecretFile != "":
		return fieldErr("ikev1.group_secret_file", "either group_secret or group_secret_file, not both")
	case c.GroupSecretFile != "":
		b, err := readFileLimited(c.GroupSecretFile, maxSecretFile)
		if err != nil {
			return &fieldError{Field: "ikev1.group_secret_file", Err: err}
		}
		secret = strings.TrimRight(string(b), "\r\n")
		if secret == "" {
			return fieldErr("ikev1.group_secret_file", "the file holds no key")
		}
	}
	// The key itself never appears in an error.
	if secret != "" && len(secret) < minPSKLength {
		return fieldErr("ikev1.group_secret", "the key is shorter than %d characters", minPSKLength)
	}
	if secret != "" && len(c.PSKs) > 0 && c.GroupName == "" {
		return fieldErr("ikev1.group_secret", "without group_name it would be the key of every address, which psks already set: drop one")
	}
	if secret != "" {
		s.groupSecret = ipsec.Secret(secret)
	}
	name := strings.TrimSpace(c.GroupName)
	if name == "" {
		return nil
	}
	if !c.AllowAggressive {
		return fieldErr("ikev1.group_name", "a group name makes Apple's client use Aggressive Mode: set ikev1.allow_aggressive (its PSK hash can be attacked offline), or leave the group name blank for Main Mode")
	}
	if secret == "" && len(c.PSKs) > 0 {
		return fieldErr("ikev1.group_secret", "group_name needs a group_secret (the demo key only serves a configuration without psks)")
	}
	for i, p := range c.PSKs {
		if strings.TrimSpace(p.ID) == "keyid:"+name {
			return fieldErr(fmt.Sprintf("ikev1.psks[%d].id", i), "keyid:%s is ikev1.group_name already", name)
		}
	}
	s.groupName = name
	return nil
}

// parseV1Identity reads an identity as strongSwan's configuration does,
// with its "keyid:" prefix for a textual KEY_ID (the group name Apple's
// "Cisco IPSec" and Android send in Aggressive Mode).
func parseV1Identity(s string) (ipsec.Identity, error) {
	if rest, ok := strings.CutPrefix(s, "keyid:"); ok {
		if rest == "" {
			return ipsec.Identity{}, errors.New("empty KEY_ID")
		}
		return ipsec.KeyID([]byte(rest)), nil
	}
	return ipsec.ParseIdentity(s)
}

// sortByBits orders keys by prefix length, longest first (insertion
// sort: a handful of entries).
func sortByBits(ks []v1AddrKey) {
	for i := 1; i < len(ks); i++ {
		for j := i; j > 0 && ks[j].peer.Bits() > ks[j-1].peer.Bits(); j-- {
			ks[j], ks[j-1] = ks[j-1], ks[j]
		}
	}
}

// ensureDemoV1PSK loads the demo IKEv1 key from the state directory or
// creates it (mode 0600). created reports whether this start made it.
func ensureDemoV1PSK(dir string) (psk string, created bool, err error) {
	path := filepath.Join(dir, demoV1PSKFile)
	data, err := readFileLimited(path, maxSecretFile)
	if err == nil {
		psk = strings.TrimRight(string(data), "\r\n")
		if len(psk) < minPSKLength {
			return "", false, fmt.Errorf("%s: not a demo key (shorter than %d characters); delete it to create a new one", path, minPSKLength)
		}
		return psk, false, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", false, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", false, err
	}
	// 24 characters of the password alphabet: about 138 bits, beyond an
	// offline attack on a captured exchange.
	psk = randomPassword(24)
	if err := writeFileAtomic(path, []byte(psk+"\n"), 0o600); err != nil {
		return "", false, err
	}
	return psk, true, nil
}

// v1Server is what serve needs to start the IKEv1 responder.
type v1Server struct {
	s       *v1Settings
	localID ipsec.Identity
	sc      *serverCert
	cas     []*x509.Certificate // client CAs (certificate clients), none: no certificate clients
	global  []netip.Prefix      // the global subnets
	demoPSK string              // when s.demoPSK or a group without a secret

	// "Cisco IPSec" clients: the IKEv2 clients' users, pools (the same
	// objects: one address space) and DNS settings.
	users      ipsec.UserStore
	pools      []ipsec.AddressPool
	dns        []netip.Addr
	dnsDomains []string
}

// hasPool4 reports whether Mode Config has an IPv4 pool to lease from
// (Apple's client asks for an IPv4 address only).
func (v *v1Server) hasPool4() bool {
	return slices.ContainsFunc(v.pools, func(p ipsec.AddressPool) bool { return p.Prefix().Addr().Is4() })
}

// groupKey is the key of the Aggressive Mode group.
func (v *v1Server) groupKey() ipsec.Secret {
	if v.s.groupSecret != nil {
		return v.s.groupSecret
	}
	return ipsec.Secret(v.demoPSK)
}

// needsDemoPSK reports whether the demo key serves some client.
func (s *v1Settings) needsDemoPSK() bool {
	return s.demoPSK || (s.groupName != "" && s.groupSecret == nil)
}

// xauthConfig is what "Cisco IPSec" clients get after phase 1: XAuth
// against the users, then a lease of the shared pools, the DNS servers
// and domains, and the server's networks as split-include when they are
// narrower than everything.
func (v *v1Server) xauthConfig() *ikev1.XAuthConfig {
	x := &ikev1.XAuthConfig{Users: v.users, Pools: v.pools}
	for _, a := range v.dns {
		if a.Is4() {
			x.DNS = append(x.DNS, a)
		}
	}
	subnets := v.s.subnets
	if len(subnets) == 0 {
		subnets = v.global
	}
	for _, p := range subnets {
		if p.Addr().Is4() && p.Bits() > 0 {
			x.SplitInclude = append(x.SplitInclude, p)
		}
	}
	if len(v.dnsDomains) > 0 {
		x.DefaultDomain = v.dnsDomains[0]
		if len(x.SplitInclude) > 0 {
			// A split tunnel: only these names go to our DNS servers.
			x.SplitDNS = v.dnsDomains
		}
	}
	return x
}

// xauthChildren is the IPsec SA of a "Cisco IPSec" client: its virtual
// address (the engine checks it against the lease) to the server's
// networks; Apple's client asks for 0.0.0.0/0 without split-include.
func (v *v1Server) xauthChildren() []ikev1.ChildConfig {
	return []ikev1.ChildConfig{{Name: "cisco", Proposals: v.s.esp, Lifetime: v.s.ipsecLifetime, LocalTS: v.localTS()}}
}

// localTS is the server's side of IKEv1 tunnels.
func (v *v1Server) localTS() []esp.Selector {
	subnets := v.s.subnets
	if len(subnets) == 0 {
		subnets = v.global
	}
	if len(subnets) == 0 {
		return []esp.Selector{esp.AnySelector(true), esp.AnySelector(false)}
	}
	out := make([]esp.Selector, len(subnets))
	for i, p := range subnets {
		out[i] = esp.PrefixSelector(p)
	}
	return out
}

// l2tpSelector is udp/1701 (port 0: any port) on any address of a
// family.
func l2tpSelector(v4 bool, port uint16) esp.Selector {
	s := esp.AnySelector(v4)
	s.Proto = 17
	s.StartPort, s.EndPort = port, port
	if port == 0 {
		s.EndPort = 65535
	}
	return s
}

// childConfigs are the IPsec SA configurations every IKEv1 client gets:
// the L2TP transport SA first when enabled (its udp/1701 selectors are
// the narrower ones), then the tunnel. remote is the client's outer
// address, its only inside address without client_subnets.
func (v *v1Server) childConfigs(remote netip.Addr) []ikev1.ChildConfig {
	var out []ikev1.ChildConfig
	if v.s.l2tp {
		// The server answers from 1701 to the client's port: Apple and
		// Android use an ephemeral one (CLIENTS.md 8.1).
		out = append(out, ikev1.ChildConfig{Name: "l2tp", Proposals: v.s.esp, Transport: true, Lifetime: v.s.ipsecLifetime,
			LocalTS:  []esp.Selector{l2tpSelector(true, 1701), l2tpSelector(false, 1701)},
			RemoteTS: []esp.Selector{l2tpSelector(true, 0), l2tpSelector(false, 0)}})
	}
	tunnel := ikev1.ChildConfig{Name: "v1", Proposals: v.s.esp, Lifetime: v.s.ipsecLifetime, LocalTS: v.localTS()}
	if len(v.s.clientSubnets) > 0 {
		for _, p := range v.s.clientSubnets {
			tunnel.RemoteTS = append(tunnel.RemoteTS, esp.PrefixSelector(p))
		}
	} else {
		// Not the library's default, which behind a NAT takes any single
		// address the client names: that could be another client's.
		tunnel.RemoteTS = []esp.Selector{esp.PrefixSelector(netip.PrefixFrom(remote.Unmap(), remote.Unmap().BitLen()))}
	}
	return append(out, tunnel)
}

// lookup is the IKEv1 responder's PeerLookup.
func (v *v1Server) lookup(_ context.Context, q ikev1.PeerQuery) (*ikev1.PeerConfig, error) {
	cfg, err := v.lookupAuth(q)
	if err != nil {
		return nil, err
	}
	if q.XAuth {
		// A "Cisco IPSec" client: XAuth, then Mode Config.
		if !v.s.xauth {
			return nil, errors.New("clients with XAuth (Cisco IPSec) are off (ikev1.xauth)")
		}
		if !v.hasPool4() {
			return nil, errors.New("clients with XAuth (Cisco IPSec) need an IPv4 pool for their address")
		}
		cfg.Name += " xauth"
		cfg.XAuth, cfg.Children = v.xauthConfig(), v.xauthChildren()
		cfg.XAuth.Hybrid = q.Hybrid
	}
	return cfg, nil
}

// lookupAuth chooses phase 1's authentication: the server certificate
// and the client CAs, or the pre-shared key of the client's address
// (Main Mode) or identity (Aggressive Mode).
func (v *v1Server) lookupAuth(q ikev1.PeerQuery) (*ikev1.PeerConfig, error) {
	remote := q.Remote.Addr().Unmap()
	cfg := &ikev1.PeerConfig{
		Proposals: v.s.ike, Lifetime: v.s.lifetime, DPDDelay: v.s.dpdDelay, DPDTimeout: v.s.dpdTimeout,
		Children: v.childConfigs(remote),
	}
	switch q.Method {
	case ikev1.AuthPubkey:
		if q.Hybrid {
			// Hybrid authentication: our certificate only; the user
			// proves itself with XAuth (lookup adds it).
			cfg.Name, cfg.Auth = "v1-hybrid", ikev1.AuthPubkey
			cfg.LocalID, cfg.Certificates, cfg.Key = v.localID, v.sc.chain, v.sc.key
			return cfg, nil
		}
		if !v.s.certificates || len(v.cas) == 0 {
			return nil, errors.New("no certificate clients configured (ikev1.certificates, client_cas)")
		}
		pool := x509.NewCertPool()
		for _, c := range v.cas {
			pool.AddCert(c)
		}
		cfg.Name, cfg.Auth = "v1-cert", ikev1.AuthPubkey
		cfg.LocalID, cfg.Certificates, cfg.Key, cfg.CAs = v.localID, v.sc.chain, v.sc.key, pool
		return cfg, nil
	case ikev1.AuthPSK:
	default:
		return nil, fmt.Errorf("authentication method %s is not offered", q.Method)
	}
	cfg.Auth = ikev1.AuthPSK
	if q.Aggressive {
		if !v.s.allowAggressive {
			return nil, errors.New("aggressive mode is off (ikev1.allow_aggressive)")
		}
		if v.s.groupName != "" && q.RemoteID.Equal(ipsec.KeyID([]byte(v.s.groupName))) {
			cfg.Name, cfg.PSK, cfg.RemoteID, cfg.AllowAggressive = "v1-group "+v.s.groupName, v.groupKey(), q.RemoteID, true
			return cfg, nil
		}
		for _, k := range v.s.byID {
			if k.id.Equal(q.RemoteID) {
				cfg.Name, cfg.PSK, cfg.RemoteID, cfg.AllowAggressive = "v1-psk "+k.id.String(), k.psk, k.id, true
				return cfg, nil
			}
		}
		return nil, fmt.Errorf("no Aggressive Mode key for identity %s", q.RemoteID)
	}
	if v.s.demoPSK {
		cfg.Name, cfg.PSK = "v1-psk demo", ipsec.Secret(v.demoPSK)
		return cfg, nil
	}
	for _, k := range v.s.byAddr {
		if k.peer.Contains(remote) {
			cfg.Name, cfg.PSK = "v1-psk "+k.peer.String(), k.psk
			if k.any {
				cfg.Name = "v1-psk *"
			}
			return cfg, nil
		}
	}
	return nil, fmt.Errorf("no Main Mode key for address %s", remote)
}

// startIKEv1 starts the IKEv1 responder on the transport and data plane
// of the IKEv2 one; m (may be nil) counts its failed authentications
// (a wrong group key, certificate or XAuth password).
//
// l2tpHook (may be nil) is the L2TP server, told when the last IPsec SA of
// an L2TP client (its ReqID) went away, so its tunnels go at once.
func startIKEv1(v *v1Server, tr *ike.Transport, dp esp.DataPlane, keyLog io.Writer, log *slog.Logger, m *metrics, l2tpHook *atomic.Pointer[l2tpGateway]) (*ikev1.Responder, error) {
	if v.s.allowAggressive {
		log.Warn("IKEv1 Aggressive Mode is allowed: its pre-shared key hash travels in the clear and can be attacked offline; prefer Main Mode (a blank group name for Cisco IPSec clients)", "group", v.s.groupName)
	}
	if v.s.xauth && !v.hasPool4() {
		log.Warn("Cisco IPSec (XAuth) clients are refused: no IPv4 pool for their address (pools)")
	}
	lg := log.With("ike", "v1")
	claims := &v1Claims{}
	// Set once NewResponder returns; a hook cannot run before a peer
	// completes Quick Mode, but the race detector need not believe that.
	var resp atomic.Pointer[ikev1.Responder]
	opts := []ikev1.Option{
		ikev1.WithPeers(v.lookup), ikev1.WithDataPlane(dp), ikev1.WithLogger(lg),
		ikev1.WithHooks(ikev1.Hooks{
			IKEUp: func(i ipsec.IKESAInfo) {
				lg.Info("client connected", "id", i.RemoteID.String(), "addr", i.Remote.String(), "proposal", i.Proposal)
			},
			IKEDown: func(i ipsec.IKESAInfo, err error) {
				lg.Info("client disconnected", "id", i.RemoteID.String(), "addr", i.Remote.String(), "err", err)
			},
			ChildUp: func(i ipsec.IKESAInfo, ch ipsec.ChildSAInfo) {
				if o, clash := claims.up(i, ch); clash {
					lg.Warn("a client named the inside address of another client: ending it", "id", i.RemoteID.String(), "addr", i.Remote.String(),
						"remote_ts", strings.Join(ch.RemoteTS, ","), "holder", o.id, "holder_session", sessionRef(1, o.session))
					// Hooks must not block; Terminate waits for the SA.
					if r := resp.Load(); r != nil {
						go r.Terminate(i.SessionID)
					}
				}
			},
			// Refused before anything is installed; ChildUp's check
			// stays for IPsec SAs that raced each other.
			AuthorizeChild: func(i ipsec.IKESAInfo, ch ipsec.ChildSAInfo) error {
				if o, clash := claims.check(i, ch); clash {
					lg.Warn("a client asked for the inside address of another client: refused", "id", i.RemoteID.String(), "addr", i.Remote.String(),
						"remote_ts", strings.Join(ch.RemoteTS, ","), "holder", o.id, "holder_session", sessionRef(1, o.session))
					return fmt.Errorf("inside address held by session %s", sessionRef(1, o.session))
				}
				return nil
			},
			ChildDown: claims.down,
			// The last IPsec SA of a client's ReqID went (rekeys and its
			// re-authentication keep the ReqID): its L2TP tunnels go too.
			ReqIDDown: func(reqID uint32) {
				if l2tpHook == nil {
					return
				}
				if g := l2tpHook.Load(); g != nil {
					g.closePeer(reqID)
				}
			},
			Alert: func(a ikev1.Alert) {
				switch a.Kind {
				case ikev1.AlertNoProposal:
					lg.Warn("proposals refused", "addr", a.Info.Remote.String(), "detail", a.Explanation)
				case ikev1.AlertAuthFailed:
					if m != nil {
						m.alert(ike.Alert{Kind: ike.AlertAuthFailed})
					}
					lg.Warn("authentication failed", "id", a.Info.RemoteID.String(), "user", a.Info.EAPIdentity, "addr", a.Info.Remote.String(), "err", a.Err)
				case ikev1.AlertWeakMode:
					lg.Warn("a client used Aggressive Mode with a pre-shared key (weaker than Main Mode)", "id", a.Info.RemoteID.String(), "addr", a.Info.Remote.String())
				default:
					lg.Warn(a.Kind.String(), "id", a.Info.RemoteID.String(), "addr", a.Info.Remote.String(), "err", a.Err)
				}
			},
		}),
	}
	if keyLog != nil {
		opts = append(opts, ikev1.WithKeyLogWriter(keyLog))
	}
	r, err := ikev1.NewResponder(tr, opts...)
	if err != nil {
		return nil, err
	}
	resp.Store(r)
	return r, nil
}

// v1HowTo is the IKEv1 part of the how-to-connect block: only what
// works. The demo key appears only on the start that created it.
func v1HowTo(v *v1Server, created bool, stateDir string, certClients bool) string {
	if v == nil {
		return ""
	}
	var b strings.Builder
	auth := "pre-shared key"
	if v.s.certificates && certClients {
		auth += " or certificate"
	}
	mode := "Main Mode"
	if v.s.allowAggressive {
		mode = "Main Mode (Aggressive Mode by identity)"
	}
	then := "then tunnel mode"
	if v.s.l2tp {
		then += ", or transport mode for L2TP/IPsec"
	}
	fmt.Fprintf(&b, "  IKEv1:           %s, %s, %s\n", mode, auth, then)
	if v.s.l2tp {
		fmt.Fprintf(&b, "  L2TP/IPsec:      account and password of a user (MS-CHAPv2), pre-shared key below (or the certificate); address from the pools; profiles: export apple|windows --type l2tp\n")
	}
	if v.s.xauth {
		group := "blank (Main Mode)"
		if v.s.groupName != "" {
			group = v.s.groupName + " (Aggressive Mode), or blank (Main Mode)"
		}
		secret := "the IKEv1 PSK"
		if v.s.groupSecret != nil {
			secret = "ikev1.group_secret"
		}
		cert := ""
		if v.s.certificates && certClients {
			cert = ", or Use Certificate"
		}
		fmt.Fprintf(&b, "  Cisco IPSec:     account and password of a user (as for IKEv2), group name %s, secret %s%s; address from the pools; profile: export apple --type ikev1\n", group, secret, cert)
	}
	switch {
	case v.s.demoPSK && created:
		fmt.Fprintf(&b, "  IKEv1 PSK:       %s (every client address)\n", v.demoPSK)
	case v.s.demoPSK:
		fmt.Fprintf(&b, "  IKEv1 PSK:       in %s (every client address)\n", filepath.Join(stateDir, demoV1PSKFile))
	case v.s.groupName != "" && v.s.groupSecret == nil && created:
		fmt.Fprintf(&b, "  IKEv1 PSK:       %s (group %s)\n", v.demoPSK, v.s.groupName)
	case v.s.groupName != "" && v.s.groupSecret == nil:
		fmt.Fprintf(&b, "  IKEv1 PSK:       in %s (group %s)\n", filepath.Join(stateDir, demoV1PSKFile), v.s.groupName)
	default:
		fmt.Fprintf(&b, "  IKEv1 PSK:       as configured (ikev1.psks, ikev1.group_secret)\n")
	}
	clients := "each client's own address"
	if len(v.s.clientSubnets) > 0 {
		clients = strings.Join(prefixStrings(v.s.clientSubnets), ", ")
	}
	var local []string
	for _, sel := range v.localTS() {
		local = append(local, selectorString(sel))
	}
	fmt.Fprintf(&b, "  IKEv1 tunnel:    client side %s, server side %s\n", clients, strings.Join(local, ", "))
	return b.String()
}

func prefixStrings(ps []netip.Prefix) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return out
}

// selectorString writes an address selector as a prefix where it is one.
func selectorString(s esp.Selector) string {
	for bits := 0; bits <= s.Start.BitLen(); bits++ {
		p := netip.PrefixFrom(s.Start, bits)
		if p.Masked().Addr() == s.Start && esp.PrefixSelector(p).End == s.End {
			return p.String()
		}
	}
	return s.Start.String() + "-" + s.End.String()
}

// engines is what the control socket terminates: IKEv2 sessions by the
// library's SessionID, IKEv1 sessions (v1 may be nil) by theirs, which
// status shows as v1-N since the two engines count apart.
type engines struct {
	v2 *ike.Responder
	v1 *ikev1.Responder
}

// Terminate ends an IKEv2 session.
func (e engines) Terminate(ctx context.Context, id uint64) error { return e.v2.Terminate(ctx, id) }

// TerminateV1 ends an IKEv1 session.
func (e engines) TerminateV1(id uint64) error {
	if e.v1 == nil {
		return errV1SessionNotFound
	}
	if err := e.v1.Terminate(id); err != nil {
		return errV1SessionNotFound
	}
	return nil
}

// errV1SessionNotFound: no IKEv1 session of that number.
var errV1SessionNotFound = errors.New("no such IKEv1 session")

// TerminateUser ends every session of a user: IKEv2 sessions of the EAP
// name or identity, IKEv1 sessions of the identity.
func (e engines) TerminateUser(ctx context.Context, name string) int {
	n := e.v2.TerminateUser(ctx, name)
	if e.v1 == nil {
		return n
	}
	for _, sa := range e.v1.SAs() {
		if sa.RemoteID.String() == name && e.v1.Terminate(sa.SessionID) == nil {
			n++
		}
	}
	return n
}

// v1Claims keeps one IKEv1 client per inside network. IKEv1 without
// Mode Config lets each client name its own inside address, and the
// data plane gives identical or overlapping selectors to the newest SA:
// a second client naming the address of a first one (a copied
// configuration) would take its traffic. The engine installs the IPsec SA
// before ChildUp reports it, so the newcomer is ended right away, with a
// warning; the same identity (a client's re-authentication, a rekey) may
// take its address over.
type v1Claims struct {
	mu     sync.Mutex
	claims []v1Claim
}

type v1Claim struct {
	ts      netip.Prefix
	session uint64
	id      string
	spi     uint32 // the inbound SPI of the IPsec SA that made the claim
}

// check returns the claim a tunnel IPsec SA's inside networks conflict
// with, if any, without recording anything.
func (c *v1Claims) check(ike ipsec.IKESAInfo, ch ipsec.ChildSAInfo) (v1Claim, bool) {
	if ch.Transport {
		return v1Claim{}, false
	}
	id := ike.RemoteID.String()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range insideNets(ch) {
		for _, o := range c.claims {
			if o.ts.Overlaps(p) && o.session != ike.SessionID && o.id != id {
				return o, true
			}
		}
	}
	return v1Claim{}, false
}

// insideNets parses the peer's selectors (strongSwan's notation: a
// prefix, perhaps with [proto/port]).
func insideNets(ch ipsec.ChildSAInfo) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range ch.RemoteTS {
		if p, err := netip.ParsePrefix(strings.SplitN(s, "[", 2)[0]); err == nil {
			out = append(out, p.Masked())
		}
	}
	return out
}

// up records the tunnel IPsec SA's inside networks; it returns the claim
// it conflicts with, if any (then nothing is recorded).
func (c *v1Claims) up(ike ipsec.IKESAInfo, ch ipsec.ChildSAInfo) (v1Claim, bool) {
	if ch.Transport {
		return v1Claim{}, false
	}
	id := ike.RemoteID.String()
	var mine []netip.Prefix
	for _, s := range ch.RemoteTS {
		// strongSwan's notation: a prefix, perhaps with [proto/port].
		p, err := netip.ParsePrefix(strings.SplitN(s, "[", 2)[0])
		if err == nil {
			mine = append(mine, p.Masked())
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range mine {
		for _, o := range c.claims {
			if o.ts.Overlaps(p) && o.session != ike.SessionID && o.id != id {
				return o, true
			}
		}
	}
	for _, p := range mine {
		c.claims = slices.DeleteFunc(c.claims, func(o v1Claim) bool { return o.ts == p })
		c.claims = append(c.claims, v1Claim{ts: p, session: ike.SessionID, id: id, spi: ch.SPIIn})
	}
	return v1Claim{}, false
}

// down forgets the claims of an IPsec SA that ended (not those a newer
// SA of the client took over).
func (c *v1Claims) down(ike ipsec.IKESAInfo, ch ipsec.ChildSAInfo) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.claims = slices.DeleteFunc(c.claims, func(o v1Claim) bool { return o.session == ike.SessionID && o.spi == ch.SPIIn })
}
