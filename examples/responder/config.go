package main

import (
	"bytes"
	"context"
	"crypto/x509"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/goipsec/ipsec"
	"github.com/goipsec/ipsec/ike"
	"github.com/goipsec/ipsec/proposal"
)

// defaultConfig is the commented default configuration: what the
// responder runs on without -config, and what `init` writes.
//
//go:embed default.yaml
var defaultConfig []byte

// Config is the YAML configuration file. Field names are the YAML keys.
type Config struct {
	Server     ServerConfig   `yaml:"server"`
	Users      []UserConfig   `yaml:"users"`
	ClientCAs  []string       `yaml:"client_cas"`
	PSKPeers   []PSKPeer      `yaml:"psk_peers"`
	Pools      []string       `yaml:"pools"`
	DNS        []string       `yaml:"dns"`
	DNSDomains []string       `yaml:"dns_domains"`
	Subnets    []string       `yaml:"subnets"`
	Proposals  ProposalConfig `yaml:"proposals"`
	Forward    ForwardConfig  `yaml:"forward"`
	DataPlane  string         `yaml:"dataplane"`
	TUN        TUNConfig      `yaml:"tun"`
	Metrics    string         `yaml:"metrics"`
	// MetricsPprof also serves Go's runtime profiles (/debug/pprof/) on
	// the metrics address.
	MetricsPprof bool      `yaml:"metrics_pprof"`
	Log          LogConfig `yaml:"log"`
	// User is the unprivileged user to run as once set up ("": stay root).
	User string `yaml:"user"`

	// ClientCerts: revocation and user checks of certificate clients
	// (revocation.go).
	ClientCerts ClientCertConfig `yaml:"client_certs"`
	Limits      LimitsConfig     `yaml:"limits"`
	// Groups are per-group policies for EAP users (see GroupConfig).
	Groups map[string]GroupConfig `yaml:"groups"`
	// IKEv2 holds settings of the IKEv2 clients (see IKEv2Config).
	IKEv2 IKEv2Config `yaml:"ikev2"`
	// IKEv1 is the IKEv1 responder on the same ports (see IKEv1Config).
	IKEv1 IKEv1Config `yaml:"ikev1"`
	// L2TP serves L2TP/IPsec clients (see L2TPConfig).
	L2TP L2TPConfig `yaml:"l2tp"`
	// Radius is the company's RADIUS servers (see RadiusConfig).
	Radius RadiusConfig `yaml:"radius"`
}

// LimitsConfig caps what one account holds (ike.IdentityLimits): 0 is
// the library's default, a negative value unlimited.
type LimitsConfig struct {
	SAsPerUser    int `yaml:"sas_per_user"`
	LeasesPerUser int `yaml:"leases_per_user"`
}

// ServerConfig is the server's identity, sockets and certificate.
type ServerConfig struct {
	Name        string   `yaml:"name"`
	Listen      []string `yaml:"listen"`
	Certificate string   `yaml:"certificate"`
	Key         string   `yaml:"key"`
	// PKCS12 is the certificate chain and key in one PKCS#12 file,
	// instead of Certificate and Key.
	PKCS12         string `yaml:"pkcs12"`
	PKCS12Password string `yaml:"pkcs12_password"`
}

// PSKPeer is a peer that authenticates with a pre-shared key: a
// site-to-site gateway or a Linux client. The key is in PSK or in the
// file PSKFile (one line), never both.
type PSKPeer struct {
	ID      string `yaml:"id"`
	PSK     string `yaml:"psk"`
	PSKFile string `yaml:"psk_file"`
	// NoVirtualIP accepts this peer without a virtual IP (a server with
	// its own address, not a road warrior): its traffic selector is then
	// its own outer address only. Peers that request no virtual IP are
	// refused with FAILED_CP_REQUIRED otherwise.
	NoVirtualIP bool `yaml:"no_virtual_ip"`
}

// UserConfig is one EAP account.
type UserConfig struct {
	Name     string `yaml:"name"`
	Password string `yaml:"password"`
	// Groups name entries of Config.Groups; the first one that exists
	// sets the user's pools and subnets.
	Groups []string `yaml:"groups"`
}

// ProposalConfig holds strongSwan proposal strings.
type ProposalConfig struct {
	IKE string `yaml:"ike"`
	ESP string `yaml:"esp"`
}

// ForwardConfig is what happens to clients' traffic beyond the server.
type ForwardConfig struct {
	Masquerade string `yaml:"masquerade"`
	// IsolateClients drops traffic from one client to another.
	IsolateClients bool `yaml:"isolate_clients"`
}

// TUNConfig is the data plane's TUN device.
type TUNConfig struct {
	Name string `yaml:"name"`
	MTU  int    `yaml:"mtu"`
}

// LogConfig is the log level and the optional key log.
type LogConfig struct {
	Level  string `yaml:"level"`
	KeyLog string `yaml:"key_log"`
}

// settings is a validated Config in the types the library takes.
// IKEv2Config is the ikev2 section.
type IKEv2Config struct {
	// DPDDelay: probe a client silent this long (0: never; nil: 30 s).
	DPDDelay *time.Duration `yaml:"dpd_delay"`
}

type settings struct {
	// dpd2 is the IKEv2 clients' DPD delay (0: off).
	dpd2       time.Duration
	name       string
	listen     []netip.Addr
	certFile   string
	keyFile    string
	pkcs12File string
	pkcs12Pass string
	clientCAs  []*x509.Certificate
	pskPeers   []pskPeer
	users      []UserConfig
	pool4      netip.Prefix
	pool6      netip.Prefix
	dns        []netip.Addr
	dnsDomains []string
	subnets    []netip.Prefix
	ike, esp   proposal.List
	tunName    string
	tunMTU     int
	level      slog.Level
	keyLog     string
	masquerade string
	kernel     bool   // dataplane: kernel
	isolate    bool   // forward.isolate_clients
	user       string // user
	runAs      *runAs // user, resolved at start
	metrics    string // host:port of the Prometheus endpoint, or ""
	// metricsPprof: /debug/pprof/ on the metrics endpoint too.
	metricsPprof bool

	clientCerts ClientCertConfig
	limits      ike.IdentityLimits
	groups      map[string]groupPolicy
	v1          *v1Settings // ikev1:
	l2tp        l2tpSettings
	radius      *radiusSettings // radius:, nil when unused
}

// pskPeer is a validated PSKPeer.
type pskPeer struct {
	id          ipsec.Identity
	psk         ipsec.Secret
	noVirtualIP bool
}

// minPSKLength keeps pre-shared keys out of reach of an offline
// dictionary attack on a captured IKE_AUTH exchange.
const minPSKLength = 16

// parseConfig decodes YAML strictly: unknown keys are errors, and so is
// more than one document.
func parseConfig(data []byte) (*Config, error) {
	var c Config
	return &c, decodeInto(&c, data)
}

// decodeInto decodes data over c: keys present replace c's values, keys
// absent keep them.
func decodeInto(c *Config, data []byte) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		return oneLine(err)
	}
	var extra any
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return errors.New("more than one YAML document")
	}
	return nil
}

// oneLine folds yaml's multi-line type errors into one line and drops
// the Go type names, which mean nothing to an operator.
func oneLine(err error) error {
	s := strings.Join(strings.Fields(strings.ReplaceAll(err.Error(), "yaml: unmarshal errors:", "")), " ")
	return errors.New(goTypeName.ReplaceAllString(s, ""))
}

var goTypeName = regexp.MustCompile(` in type main\.\w+`)

// loadConfig reads path over the embedded default, so a key left out of
// the file keeps its default value; with an empty path it is the default.
func loadConfig(path string) (*Config, error) {
	c, err := parseConfig(defaultConfig)
	if err != nil || path == "" {
		return c, err
	}
	data, err := readFileLimited(path, maxConfigFile)
	if err != nil {
		return nil, err
	}
	if err := decodeInto(c, data); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	// Certificate paths are relative to the file that names them, so a
	// configuration directory can be moved as a whole.
	paths := []*string{&c.Server.Certificate, &c.Server.Key, &c.Server.PKCS12}
	for i := range c.ClientCAs {
		paths = append(paths, &c.ClientCAs[i])
	}
	paths = append(paths, &c.ClientCerts.CRL, &c.ClientCerts.RevokedSerials)
	for i := range c.PSKPeers {
		paths = append(paths, &c.PSKPeers[i].PSKFile)
	}
	for i := range c.IKEv1.PSKs {
		paths = append(paths, &c.IKEv1.PSKs[i].PSKFile)
	}
	paths = append(paths, &c.IKEv1.GroupSecretFile, &c.L2TP.TunnelSecretFile)
	for i := range c.Radius.Servers {
		paths = append(paths, &c.Radius.Servers[i].SecretFile)
	}
	for i := range c.Radius.DAE.Clients {
		paths = append(paths, &c.Radius.DAE.Clients[i].SecretFile)
	}
	for _, p := range paths {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(filepath.Dir(path), *p)
		}
	}
	return c, nil
}

// Size limits of the files the configuration names: a path to a
// device (/dev/zero) or a huge file by mistake must fail, not hang the
// start or exhaust memory.
const (
	maxConfigFile     = 1 << 20
	maxCredentialFile = 1 << 20 // certificates, keys, PKCS#12
	maxSecretFile     = 4 << 10 // a PSK
)

// readFileLimited reads path if it holds at most limit bytes.
func readFileLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, limit)
	}
	return data, nil
}

// fieldError names the configuration key that is wrong.
type fieldError struct {
	Field string
	Err   error
}

func (e *fieldError) Error() string { return e.Field + ": " + e.Err.Error() }
func (e *fieldError) Unwrap() error { return e.Err }

func fieldErr(field, format string, args ...any) error {
	return &fieldError{Field: field, Err: fmt.Errorf(format, args...)}
}

// validate checks everything that can be checked without starting
// anything, and converts the configuration. localAddrs are the host's
// interface addresses, which no pool may contain.
func (c *Config) validate(localAddrs []netip.Prefix) (*settings, error) {
	s := &settings{name: strings.TrimSpace(c.Server.Name), certFile: c.Server.Certificate, keyFile: c.Server.Key,
		tunName: c.TUN.Name, tunMTU: c.TUN.MTU, keyLog: c.Log.KeyLog, dnsDomains: c.DNSDomains, masquerade: c.Forward.Masquerade,
		limits: ike.IdentityLimits{IKESAs: c.Limits.SAsPerUser, Leases: c.Limits.LeasesPerUser}}
	if s.name != "" {
		if _, err := netip.ParseAddr(s.name); err != nil && !validDNSName(s.name) {
			return nil, fieldErr("server.name", "%q is neither an IP address nor a DNS name", s.name)
		}
	}
	for i, a := range c.Server.Listen {
		ip, err := netip.ParseAddr(a)
		if err != nil {
			return nil, fieldErr(fmt.Sprintf("server.listen[%d]", i), "%q is not an IP address", a)
		}
		s.listen = append(s.listen, ip)
	}
	if (s.certFile == "") != (s.keyFile == "") {
		return nil, fieldErr("server.key", "server.certificate and server.key go together")
	}
	s.pkcs12File, s.pkcs12Pass = c.Server.PKCS12, c.Server.PKCS12Password
	if s.pkcs12File != "" && s.certFile != "" {
		return nil, fieldErr("server.pkcs12", "either server.pkcs12 or server.certificate and server.key, not both")
	}
	if s.pkcs12File == "" && s.pkcs12Pass != "" {
		return nil, fieldErr("server.pkcs12_password", "set without server.pkcs12")
	}
	for _, f := range []struct{ field, path string }{{"server.certificate", s.certFile}, {"server.key", s.keyFile}, {"server.pkcs12", s.pkcs12File}} {
		if f.path == "" {
			continue
		}
		if _, err := os.Stat(f.path); err != nil {
			return nil, fieldErr(f.field, "%v", err)
		}
	}
	seen := map[string]bool{}
	for i, u := range c.Users {
		field := fmt.Sprintf("users[%d]", i)
		switch {
		case u.Name == "":
			return nil, fieldErr(field+".name", "empty user name")
		case seen[u.Name]:
			return nil, fieldErr(field+".name", "user %q appears twice", u.Name)
		case len(u.Password) < 8:
			// MSCHAPv2 hashes are cheap to brute-force: short passwords
			// fall in minutes.
			return nil, fieldErr(field+".password", "password of %q is shorter than 8 characters", u.Name)
		}
		seen[u.Name] = true
		s.users = append(s.users, u)
	}
	for i, f := range c.ClientCAs {
		field := fmt.Sprintf("client_cas[%d]", i)
		chain, err := loadChain(f)
		if err != nil {
			return nil, &fieldError{Field: field, Err: err}
		}
		for _, ca := range chain {
			if !ca.IsCA {
				return nil, fieldErr(field, "%s: %q is not a CA certificate", f, ca.Subject.CommonName)
			}
		}
		s.clientCAs = append(s.clientCAs, chain...)
	}
	if err := c.ClientCerts.check(len(s.users) > 0); err != nil {
		return nil, err
	}
	s.clientCerts = c.ClientCerts
	seenPeer := map[string]bool{}
	for i, p := range c.PSKPeers {
		field := fmt.Sprintf("psk_peers[%d]", i)
		if strings.TrimSpace(p.ID) == "" {
			return nil, fieldErr(field+".id", "empty identity: the peer's IKE identity (IDi), e.g. an address, a DNS name or user@domain")
		}
		id, err := ipsec.ParseIdentity(strings.TrimSpace(p.ID))
		if err != nil {
			return nil, fieldErr(field+".id", "%q: %v", p.ID, err)
		}
		if seenPeer[id.String()] {
			return nil, fieldErr(field+".id", "%q appears twice", p.ID)
		}
		seenPeer[id.String()] = true
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
			return nil, fieldErr(field+".psk", "the key of %q is empty or shorter than %d characters", p.ID, minPSKLength)
		}
		s.pskPeers = append(s.pskPeers, pskPeer{id: id, psk: ipsec.Secret(psk), noVirtualIP: p.NoVirtualIP})
	}
	if len(c.Pools) == 0 {
		return nil, fieldErr("pools", "at least one pool is needed: clients get their address from it")
	}
	for i, p := range c.Pools {
		field := fmt.Sprintf("pools[%d]", i)
		pfx, err := netip.ParsePrefix(p)
		if err != nil {
			return nil, fieldErr(field, "bad CIDR %q", p)
		}
		if pfx != pfx.Masked() {
			return nil, fieldErr(field, "%s has host bits set (did you mean %s?)", pfx, pfx.Masked())
		}
		if hostBits := pfx.Addr().BitLen() - pfx.Bits(); hostBits < 2 {
			return nil, fieldErr(field, "%s is too small: the server takes the first address", pfx)
		}
		dst := &s.pool4
		if pfx.Addr().Is6() {
			dst = &s.pool6
		}
		if dst.IsValid() {
			return nil, fieldErr(field, "a second %s pool (%s after %s)", family(pfx), pfx, *dst)
		}
		for _, la := range localAddrs {
			if pfx.Overlaps(la) && !la.Addr().IsLoopback() {
				return nil, fieldErr(field, "%s overlaps the host's address %s: clients would shadow the uplink", pfx, la)
			}
		}
		*dst = pfx
	}
	for i, d := range c.DNS {
		ip, err := netip.ParseAddr(d)
		if err != nil {
			return nil, fieldErr(fmt.Sprintf("dns[%d]", i), "%q is not an IP address", d)
		}
		s.dns = append(s.dns, ip)
	}
	for i, d := range c.DNSDomains {
		if !validDNSName(d) {
			return nil, fieldErr(fmt.Sprintf("dns_domains[%d]", i), "%q is not a DNS name", d)
		}
	}
	var err error
	for i, p := range c.Subnets {
		pfx, err := netip.ParsePrefix(p)
		if err != nil {
			return nil, fieldErr(fmt.Sprintf("subnets[%d]", i), "bad CIDR %q", p)
		}
		s.subnets = append(s.subnets, pfx.Masked())
	}
	if s.groups, err = c.checkGroups(s); err != nil {
		return nil, err
	}
	var pools []netip.Prefix
	for _, p := range []netip.Prefix{s.pool4, s.pool6} {
		if p.IsValid() {
			pools = append(pools, p)
		}
	}
	if s.v1, err = c.IKEv1.check(pools, localAddrs); err != nil {
		return nil, err
	}
	if c.Proposals.IKE == "" {
		// Post-quantum hybrid first: only clients offering an ML-KEM
		// additional key exchange (strongSwan 6, the roadwarrior with -pq)
		// can match it.
		s.ike = append(proposal.HybridIKE(), proposal.CompatibleIKE()...)
	} else if s.ike, err = proposal.Parse(c.Proposals.IKE, proposal.ProtoIKE); err != nil {
		return nil, fieldErr("proposals.ike", "%v", err)
	}
	if c.Proposals.ESP == "" {
		s.esp = proposal.CompatibleESP()
	} else if s.esp, err = proposal.Parse(c.Proposals.ESP, proposal.ProtoESP); err != nil {
		return nil, fieldErr("proposals.esp", "%v", err)
	}
	if s.masquerade != "" && (len(s.masquerade) > 15 || strings.ContainsAny(s.masquerade, "/ \t\"")) {
		return nil, fieldErr("forward.masquerade", "%q is not a valid interface name", s.masquerade)
	}
	s.isolate, s.user = c.Forward.IsolateClients, strings.TrimSpace(c.User)
	if s.tunName == "" {
		s.tunName = "goipsec0"
	}
	if len(s.tunName) > 15 || strings.ContainsAny(s.tunName, "/ \t\"") {
		return nil, fieldErr("tun.name", "%q is not a valid interface name", s.tunName)
	}
	if s.tunMTU == 0 {
		s.tunMTU = 1400
	}
	if s.tunMTU < 1280 || s.tunMTU > 9000 {
		// 1280: the IPv6 minimum (RFC 8200 section 5).
		return nil, fieldErr("tun.mtu", "%d is outside 1280..9000", s.tunMTU)
	}
	switch orDefault(c.DataPlane, "userspace") {
	case "userspace":
	case "kernel":
		s.kernel = true
	default:
		return nil, fieldErr("dataplane", "%q is not userspace or kernel", c.DataPlane)
	}
	l2c := c.L2TP
	// ikev1.l2tp_transport predates the L2TP server: it turns it on.
	l2c.Enabled = l2c.Enabled || c.IKEv1.L2TPTransport
	if s.l2tp, err = l2c.check(s.v1, s.tunName, s.pool4.IsValid()); err != nil {
		return nil, err
	}
	if s.l2tp.enabled {
		s.v1.l2tp = true
	}
	if s.radius, err = c.Radius.check(); err != nil {
		return nil, err
	}
	if c.Metrics != "" {
		host, port, err := net.SplitHostPort(c.Metrics)
		if err != nil {
			return nil, fieldErr("metrics", "%q is not HOST:PORT (e.g. 127.0.0.1:9100): %v", c.Metrics, err)
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return nil, fieldErr("metrics", "%q: port %q is not 1..65535", c.Metrics, port)
		}
		if _, err := netip.ParseAddr(host); host != "" && err != nil && !validDNSName(host) {
			return nil, fieldErr("metrics", "%q: %q is not an address", c.Metrics, host)
		}
		s.metrics = c.Metrics
		s.metricsPprof = c.MetricsPprof
	}
	s.dpd2 = 30 * time.Second
	if d := c.IKEv2.DPDDelay; d != nil {
		if *d < 0 {
			return nil, fieldErr("ikev2.dpd_delay", "%s is negative (0 turns the probes off)", *d)
		}
		s.dpd2 = *d
	}
	if c.MetricsPprof && c.Metrics == "" {
		return nil, fieldErr("metrics_pprof", "needs metrics: the profiles are served on the metrics address")
	}
	if err := s.level.UnmarshalText([]byte(orDefault(c.Log.Level, "info"))); err != nil {
		return nil, fieldErr("log.level", "%q is not debug, info, warn or error", c.Log.Level)
	}
	return s, nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func family(p netip.Prefix) string {
	if p.Addr().Is4() {
		return "IPv4"
	}
	return "IPv6"
}

// validDNSName accepts host names as certificates carry them (RFC 1123
// labels, no trailing dot).
func validDNSName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, l := range strings.Split(s, ".") {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, r := range l {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}

// hostAddrs lists the prefixes of every interface address of the host.
func hostAddrs() []netip.Prefix {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil
	}
	var out []netip.Prefix
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			ip, _ := netip.AddrFromSlice(n.IP)
			ones, _ := n.Mask.Size()
			out = append(out, netip.PrefixFrom(ip.Unmap(), ones))
		}
	}
	return out
}

// GroupConfig is the policy of the EAP users naming the group: their own
// address ranges and pushed subnets (Hooks.Authorize picks them once EAP
// tells who the user is). A group pool lies inside one of pools, so the
// routes and forwarding rules of the pools cover it, and holds at most
// maxGroupPoolAddrs addresses, which the main pool never leases.
// Subnets (empty: the global subnets) replace the global subnets.
type GroupConfig struct {
	Pools   []string `yaml:"pools"`
	Subnets []string `yaml:"subnets"`
}

type groupPolicy struct {
	pools, subnets []netip.Prefix
}

const maxGroupPoolAddrs = 4096

// checkGroups validates groups: and the users' group names.
func (c *Config) checkGroups(s *settings) (map[string]groupPolicy, error) {
	out := map[string]groupPolicy{}
	var taken []netip.Prefix
	names := slices.Sorted(maps.Keys(c.Groups))
	for _, name := range names {
		g, field := c.Groups[name], "groups."+name
		var pol groupPolicy
		for i, p := range g.Pools {
			f := fmt.Sprintf("%s.pools[%d]", field, i)
			pfx, err := netip.ParsePrefix(p)
			if err != nil || pfx != pfx.Masked() {
				return nil, fieldErr(f, "bad CIDR %q (no host bits)", p)
			}
			mp := s.pool4
			if pfx.Addr().Is6() {
				mp = s.pool6
			}
			if !mp.IsValid() || pfx.Bits() < mp.Bits() || !mp.Contains(pfx.Addr()) {
				return nil, fieldErr(f, "%s is not inside pools: group pools are carved out of them", pfx)
			}
			if pfx.Addr().BitLen()-pfx.Bits() > 12 {
				return nil, fieldErr(f, "%s holds more than %d addresses", pfx, maxGroupPoolAddrs)
			}
			for _, t := range taken {
				if t.Overlaps(pfx) {
					return nil, fieldErr(f, "%s overlaps another group's pool %s", pfx, t)
				}
			}
			taken = append(taken, pfx)
			pol.pools = append(pol.pools, pfx)
		}
		for i, p := range g.Subnets {
			pfx, err := netip.ParsePrefix(p)
			if err != nil {
				return nil, fieldErr(fmt.Sprintf("%s.subnets[%d]", field, i), "bad CIDR %q", p)
			}
			pol.subnets = append(pol.subnets, pfx.Masked())
		}
		out[name] = pol
	}
	for i, u := range s.users {
		for j, g := range u.Groups {
			if _, ok := out[g]; !ok {
				return nil, fieldErr(fmt.Sprintf("users[%d].groups[%d]", i, j), "group %q is not defined under groups", g)
			}
		}
	}
	return out, nil
}

// groupAuthorizer makes the pools of the groups (taking their addresses
// out of the main pools) and returns the Authorize hook that gives an
// EAP user its first group's pools (the main pool for a family the group
// has none of) and subnets; nil without groups.
func groupAuthorizer(groups map[string]groupPolicy, main []ipsec.AddressPool, gw []netip.Addr) (func(context.Context, ike.AuthRequest) (*ike.AuthDecision, error), error) {
	if len(groups) == 0 {
		return nil, nil
	}
	decisions := map[string]*ike.AuthDecision{}
	for name, g := range groups {
		d := &ike.AuthDecision{}
		for _, pfx := range g.pools {
			pool, err := ipsec.NewPool(pfx)
			if err != nil {
				return nil, fieldErr("groups."+name+".pools", "%v", err)
			}
			for _, a := range gw {
				pool.Reserve(a)
			}
			for a := pfx.Addr(); a.IsValid() && pfx.Contains(a); a = a.Next() {
				for _, m := range main {
					if mp, ok := m.(*ipsec.Pool); ok {
						mp.Reserve(a)
					}
				}
			}
			d.Pools = append(d.Pools, pool)
		}
		for _, m := range main {
			mp, ok := m.(*ipsec.Pool)
			if len(d.Pools) > 0 && ok && !slices.ContainsFunc(g.pools, func(p netip.Prefix) bool { return p.Addr().Is4() == mp.Prefix().Addr().Is4() }) {
				d.Pools = append(d.Pools, m)
			}
		}
		if len(g.subnets) > 0 {
			d.Subnets = g.subnets
		}
		decisions[name] = d
	}
	return func(_ context.Context, req ike.AuthRequest) (*ike.AuthDecision, error) {
		for _, g := range req.Groups {
			if d, ok := decisions[g]; ok {
				return d, nil
			}
		}
		return nil, nil
	}, nil
}
