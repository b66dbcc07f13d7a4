package main

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/goipsec/ipsec"
	"github.com/goipsec/ipsec/ike"
	"github.com/goipsec/ipsec/ikev1"
	"github.com/goipsec/ipsec/proposal"
)

// maxIfNameLen is IFNAMSIZ minus the terminating NUL (linux/if.h).
const maxIfNameLen = 15

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// options are the parsed command line, before anything is read from disk.
type options struct {
	server, auth, ikeVersion     string
	group, groupSecretFile       string
	psk, pskFile                 string
	certFile, keyFile, caFile    string
	user, passwordFile           string
	id, remoteID                 string
	tun, split, resolv           string
	logLevel                     string
	pprof                        string
	killSwitch, allowLAN, pq     bool
	dpd, dialTimeout, maxBackoff time.Duration
	rtTimeout                    time.Duration
	rtTries                      int
}

// settings are the validated options with their files read.
type settings struct {
	server  string // host[:port] as given, for name lookups on each attempt
	host    string
	port    uint16
	peer    *ike.PeerConfig   // -ike v2
	v1      *ikev1.PeerConfig // -ike v1: a Cisco IPSec gateway
	tun     string
	split   []netip.Prefix // nil: full tunnel
	resolv  string
	kill    bool // -kill-switch
	lan     bool // -allow-lan
	level   slog.Level
	dialTO  time.Duration
	backoff time.Duration
	rtTO    time.Duration
	rtTries int
	pprof   string // -pprof: loopback address for /debug/pprof/
}

func (o *options) register(fs *flag.FlagSet) {
	fs.StringVar(&o.server, "server", "", "gateway `host[:port]` (port 500 by default)")
	fs.StringVar(&o.ikeVersion, "ike", "v2", "IKE `version`: v2, or v1 for a Cisco IPSec gateway (XAuth and Mode Config)")
	fs.StringVar(&o.auth, "auth", "", "authentication: `psk`, cert or eap (with -ike v1: psk for the group secret, or cert; the user then authenticates with XAuth)")
	fs.StringVar(&o.group, "group", "", "-ike v1: the group `name` (Aggressive Mode; without it Main Mode with a blank group)")
	fs.StringVar(&o.groupSecretFile, "group-secret-file", "", "-ike v1: `file` holding the group secret (pre-shared key)")
	fs.StringVar(&o.psk, "psk", "", "pre-shared `key` (visible in ps; prefer -psk-file)")
	fs.StringVar(&o.pskFile, "psk-file", "", "`file` holding the pre-shared key")
	fs.StringVar(&o.certFile, "cert", "", "our certificate (PEM `file`, chain allowed) for -auth cert")
	fs.StringVar(&o.keyFile, "key", "", "our private key (PEM `file`: PKCS#8, PKCS#1 or SEC 1) for -auth cert")
	fs.StringVar(&o.caFile, "ca", "", "CA certificates (PEM `file`) that the gateway's certificate must chain to (default: the system roots)")
	fs.StringVar(&o.user, "user", "", "EAP-MSCHAPv2 user `name` for -auth eap, XAuth user for -ike v1")
	fs.StringVar(&o.passwordFile, "password-file", "", "`file` holding the EAP or XAuth password")
	fs.StringVar(&o.id, "id", "", "our IKE `identity` (strongSwan syntax; default: the certificate's e-mail/DNS SAN or DN for cert, the user name for eap, our IP address for psk)")
	fs.StringVar(&o.remoteID, "remote-id", "", "the gateway's required `identity` (default: the -server host name; for an address, the gateway's certificate must contain that address)")
	fs.StringVar(&o.tun, "tun", "goipsec-rw0", "TUN device `name`")
	fs.StringVar(&o.split, "split", "", "split tunnel: comma-separated `CIDRs` routed through the tunnel (default: what the gateway's traffic selectors cover, usually everything)")
	fs.StringVar(&o.resolv, "resolv", "", "write the gateway's DNS servers to this resolv.conf `file` (restored on exit)")
	fs.BoolVar(&o.killSwitch, "kill-switch", false, "drop traffic that would leave outside the tunnel while roadwarrior runs, also between reconnections (nftables)")
	fs.BoolVar(&o.allowLAN, "allow-lan", false, "with -kill-switch: let traffic to private, link-local and multicast addresses out beside the tunnel")
	fs.StringVar(&o.logLevel, "log-level", "info", "log `level`: debug, info, warn, error")
	fs.StringVar(&o.pprof, "pprof", "", "serve Go's runtime profiles (/debug/pprof/) on this loopback `address` (IP:PORT), for performance work")
	fs.DurationVar(&o.dpd, "dpd", 30*time.Second, "dead peer detection `interval` (0: off)")
	fs.BoolVar(&o.pq, "pq", false, "offer post-quantum hybrid key exchanges first (X25519 and ML-KEM-768 or -1024, RFC 9370), then the classic proposals")
	fs.DurationVar(&o.dialTimeout, "dial-timeout", 30*time.Second, "`limit` for one connection attempt")
	fs.DurationVar(&o.rtTimeout, "retransmit-timeout", ike.DefaultRetransmitTimeout, "first IKE retransmission `timeout` (growing by 1.8 per try)")
	fs.IntVar(&o.rtTries, "retransmit-tries", ike.DefaultRetransmitTries, "IKE retransmissions before the gateway counts as gone (0-20)")
	fs.DurationVar(&o.maxBackoff, "max-backoff", 60*time.Second, "longest `wait` between reconnection attempts (starting at 1 s, doubling)")
}

// validate checks the options and reads the files they name. Errors name
// the flag and never contain secrets.
func (o *options) validate() (*settings, error) {
	s := &settings{tun: o.tun, resolv: o.resolv, dialTO: o.dialTimeout, backoff: o.maxBackoff, server: o.server,
		rtTO: o.rtTimeout, rtTries: o.rtTries, kill: o.killSwitch, lan: o.allowLAN}
	if o.server == "" {
		return nil, errors.New("-server is required")
	}
	host, port, err := splitServer(o.server)
	if err != nil {
		return nil, fmt.Errorf("-server %q: %v", o.server, err)
	}
	s.host, s.port = host, port
	if o.tun == "" || len(o.tun) > maxIfNameLen || strings.ContainsAny(o.tun, "/ \t\n:\"'\\") {
		return nil, fmt.Errorf("-tun %q: not a valid interface name (1-%d characters, no '/', ':', quotes or spaces)", o.tun, maxIfNameLen)
	}
	if o.pprof != "" {
		if err := checkPprofAddr(o.pprof); err != nil {
			return nil, fmt.Errorf("-pprof %q: %v", o.pprof, err)
		}
		s.pprof = o.pprof
	}
	if o.allowLAN && !o.killSwitch {
		return nil, errors.New("-allow-lan only applies with -kill-switch")
	}
	if o.split != "" {
		for f := range strings.SplitSeq(o.split, ",") {
			p, err := netip.ParsePrefix(strings.TrimSpace(f))
			if err != nil {
				return nil, fmt.Errorf("-split: %q is not a CIDR prefix", strings.TrimSpace(f))
			}
			s.split = append(s.split, p.Masked())
		}
	}
	if err := s.level.UnmarshalText([]byte(o.logLevel)); err != nil {
		return nil, fmt.Errorf("-log-level %q: want debug, info, warn or error", o.logLevel)
	}
	if o.dpd < 0 {
		return nil, fmt.Errorf("-dpd %v: must not be negative", o.dpd)
	}
	if o.dialTimeout <= 0 {
		return nil, fmt.Errorf("-dial-timeout %v: must be positive", o.dialTimeout)
	}
	if o.rtTimeout <= 0 {
		return nil, fmt.Errorf("-retransmit-timeout %v: must be positive", o.rtTimeout)
	}
	if o.rtTries < 0 || o.rtTries > 20 {
		return nil, fmt.Errorf("-retransmit-tries %d: want 0 to 20", o.rtTries)
	}
	if o.maxBackoff < time.Second {
		return nil, fmt.Errorf("-max-backoff %v: must be at least 1s", o.maxBackoff)
	}
	switch o.ikeVersion {
	case "v1":
		if err := o.validateV1(s); err != nil {
			return nil, err
		}
		return s, nil
	case "v2", "":
		if o.group != "" || o.groupSecretFile != "" {
			return nil, errors.New("-group and -group-secret-file apply to -ike v1 only")
		}
	default:
		return nil, fmt.Errorf("-ike %q: want v2 or v1", o.ikeVersion)
	}
	peer := &ike.PeerConfig{
		Name:       "roadwarrior",
		VirtualIPs: []netip.Addr{netip.IPv4Unspecified(), netip.IPv6Unspecified()},
		DPDDelay:   o.dpd,
	}
	if o.pq {
		peer.Proposals = append(proposal.HybridIKE(), proposal.CompatibleIKE()...)
	}
	if o.id != "" {
		if peer.LocalID, err = ipsec.ParseIdentity(o.id); err != nil {
			return nil, fmt.Errorf("-id: %v", err)
		}
	}
	switch {
	case o.remoteID != "":
		if peer.RemoteID, err = ipsec.ParseIdentity(o.remoteID); err != nil {
			return nil, fmt.Errorf("-remote-id: %v", err)
		}
	case !isAddr(host):
		peer.RemoteID = ipsec.FQDN(host)
	}
	unused := func(names ...string) error {
		set := map[string]string{"-psk": o.psk, "-psk-file": o.pskFile, "-cert": o.certFile, "-key": o.keyFile,
			"-user": o.user, "-password-file": o.passwordFile, "-ca": o.caFile}
		for _, n := range names {
			if set[n] != "" {
				return fmt.Errorf("%s does not apply to -auth %s", n, o.auth)
			}
		}
		return nil
	}
	switch o.auth {
	case "psk":
		if err := unused("-cert", "-key", "-user", "-password-file", "-ca"); err != nil {
			return nil, err
		}
		var psk ipsec.Secret
		switch {
		case o.psk != "" && o.pskFile != "":
			return nil, errors.New("-psk and -psk-file: give only one")
		case o.psk != "":
			psk = ipsec.Secret(o.psk)
		case o.pskFile != "":
			if psk, err = readSecret(o.pskFile); err != nil {
				return nil, fmt.Errorf("-psk-file: %v", err)
			}
		default:
			return nil, errors.New("-auth psk needs -psk or -psk-file")
		}
		peer.Local = ike.LocalAuth{Method: ike.AuthPSK, PSK: psk}
		peer.Remote = ike.RemoteAuth{Method: ike.AuthPSK, PSK: psk}
	case "cert":
		if err := unused("-psk", "-psk-file", "-user", "-password-file"); err != nil {
			return nil, err
		}
		if o.certFile == "" || o.keyFile == "" {
			return nil, errors.New("-auth cert needs -cert and -key")
		}
		certs, err := readCerts(o.certFile)
		if err != nil {
			return nil, fmt.Errorf("-cert: %v", err)
		}
		key, err := readKey(o.keyFile)
		if err != nil {
			return nil, fmt.Errorf("-key: %v", err)
		}
		peer.Local = ike.LocalAuth{Method: ike.AuthPubkey, Certificates: certs, Key: key}
		if peer.LocalID.IsZero() {
			if peer.LocalID, err = certIdentity(certs[0]); err != nil {
				return nil, fmt.Errorf("-cert: %v", err)
			}
		}
	case "eap":
		if err := unused("-psk", "-psk-file", "-cert", "-key"); err != nil {
			return nil, err
		}
		if o.user == "" || o.passwordFile == "" {
			return nil, errors.New("-auth eap needs -user and -password-file")
		}
		pw, err := readSecret(o.passwordFile)
		if err != nil {
			return nil, fmt.Errorf("-password-file: %v", err)
		}
		peer.Local = ike.LocalAuth{Method: ike.AuthEAP, EAPIdentity: o.user, EAPPassword: pw}
		if peer.LocalID.IsZero() {
			if peer.LocalID, err = ipsec.ParseIdentity(o.user); err != nil {
				return nil, fmt.Errorf("-user: %v", err)
			}
		}
	case "":
		return nil, errors.New("-auth is required (psk, cert or eap)")
	default:
		return nil, fmt.Errorf("-auth %q: want psk, cert or eap", o.auth)
	}
	if o.auth != "psk" {
		pool, err := caPool(o.caFile)
		if err != nil {
			return nil, fmt.Errorf("-ca: %v", err)
		}
		peer.Remote = ike.RemoteAuth{Method: ike.AuthPubkey, CAs: pool}
	}
	s.peer = peer
	return s, nil
}

func isAddr(host string) bool {
	_, err := netip.ParseAddr(host)
	return err == nil
}

// splitServer parses host, host:port, [v6] and [v6]:port.
func splitServer(s string) (string, uint16, error) {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.String(), ike.PortIKE, nil
	}
	host, ps, err := net.SplitHostPort(s)
	if err != nil {
		if strings.Contains(err.Error(), "missing port") {
			return strings.Trim(s, "[]"), ike.PortIKE, nil
		}
		return "", 0, errors.New("want HOST or HOST:PORT")
	}
	port, err := strconv.ParseUint(ps, 10, 16)
	if err != nil || port == 0 {
		return "", 0, fmt.Errorf("bad port %q", ps)
	}
	if host == "" {
		return "", 0, errors.New("empty host")
	}
	return host, uint16(port), nil
}

// readSecret reads a key or password file; one trailing newline is not
// part of the secret. The error never contains the file's content.
func readSecret(name string) (ipsec.Secret, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	b = []byte(strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r"))
	if len(b) == 0 {
		return nil, fmt.Errorf("%s is empty", name)
	}
	return ipsec.Secret(b), nil
}

func readCerts(name string) ([][]byte, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	var certs [][]byte
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		if _, err := x509.ParseCertificate(blk.Bytes); err != nil {
			return nil, fmt.Errorf("%s: %v", name, err)
		}
		certs = append(certs, blk.Bytes)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("%s: no PEM CERTIFICATE", name)
	}
	return certs, nil
}

func readKey(name string) (crypto.Signer, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			return nil, fmt.Errorf("%s: no PEM private key", name)
		}
		var k any
		switch blk.Type {
		case "PRIVATE KEY":
			k, err = x509.ParsePKCS8PrivateKey(blk.Bytes)
		case "RSA PRIVATE KEY":
			k, err = x509.ParsePKCS1PrivateKey(blk.Bytes)
		case "EC PRIVATE KEY":
			k, err = x509.ParseECPrivateKey(blk.Bytes)
		default:
			continue
		}
		if err != nil {
			// The parser's message, not the key: no secret material.
			return nil, fmt.Errorf("%s: %s: %v", name, blk.Type, err)
		}
		s, ok := k.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("%s: key type %T cannot sign", name, k)
		}
		return s, nil
	}
}

// certIdentity is the identity a gateway accepts for our certificate
// without -id, as strongSwan's default: the first e-mail or DNS
// subjectAltName, else the subject DN.
func certIdentity(der []byte) (ipsec.Identity, error) {
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return ipsec.Identity{}, err
	}
	switch {
	case len(c.EmailAddresses) > 0:
		return ipsec.Email(c.EmailAddresses[0]), nil
	case len(c.DNSNames) > 0:
		return ipsec.FQDN(c.DNSNames[0]), nil
	}
	return ipsec.DN(c.Subject)
}

func caPool(name string) (*x509.CertPool, error) {
	if name == "" {
		return x509.SystemCertPool()
	}
	certs, err := readCerts(name)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	for _, der := range certs {
		c, _ := x509.ParseCertificate(der) // readCerts parsed it already
		pool.AddCert(c)
	}
	return pool, nil
}

// run is the whole program: args without the program name. It returns
// the exit status: 0 after a signal, 1 for a failure, 2 for bad usage.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("roadwarrior", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	o.register(fs)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: roadwarrior -server HOST[:PORT] [-ike v1] -auth psk|cert|eap [flags]  (as root)")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "roadwarrior: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	s, err := o.validate()
	if err != nil {
		fmt.Fprintf(stderr, "roadwarrior: %v\n", err)
		return 2
	}
	if o.psk != "" {
		fmt.Fprintln(stderr, "roadwarrior: warning: -psk puts the key on the command line, where other users see it; use -psk-file")
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: s.level}))
	if s.pprof != "" {
		addr, err := servePprof(ctx, s.pprof, logger)
		if err != nil {
			logger.Error("roadwarrior failed", "err", fmt.Errorf("-pprof: %w", err))
			return 1
		}
		logger.Info("serving /debug/pprof/", "addr", addr)
	}
	c := &client{s: s, out: stdout, log: logger}
	if err := c.run(ctx); err != nil {
		logger.Error("roadwarrior failed", "err", err)
		return 1
	}
	return 0
}
