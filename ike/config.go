package ike

import (
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/goipsec/ipsec"
	"github.com/goipsec/ipsec/eap"
	"github.com/goipsec/ipsec/esp"
	"github.com/goipsec/ipsec/proposal"
)

// AuthMethod is how one side of an IKE SA proves its identity.
type AuthMethod uint8

// Authentication methods.
const (
	// AuthPSK: a pre-shared key (RFC 7296 section 2.15).
	AuthPSK AuthMethod = iota + 1
	// AuthPubkey: a certificate and its private key; RSA (PKCS#1 v1.5
	// with SHA-1 for clients without RFC 7427, which Apple and Windows
	// need), ECDSA (RFC 4754) or RFC 7427 digital signatures.
	AuthPubkey
	// AuthEAP: EAP inside IKE_AUTH (RFC 7296 section 2.16). On the remote
	// side it makes us the EAP authenticator; on the local side our
	// initiator answers the gateway's EAP requests.
	AuthEAP
)

// String returns "psk", "pubkey" or "eap", the strongSwan spellings.
func (m AuthMethod) String() string {
	switch m {
	case AuthPSK:
		return "psk"
	case AuthPubkey:
		return "pubkey"
	case AuthEAP:
		return "eap"
	}
	return fmt.Sprintf("AuthMethod(%d)", uint8(m))
}

// LocalAuth is how we authenticate to the peer.
type LocalAuth struct {
	// Method is how we authenticate: AuthPSK, AuthPubkey or AuthEAP.
	Method AuthMethod
	// PSK for AuthPSK. Never logged.
	PSK ipsec.Secret
	// Certificates is our chain for AuthPubkey (and for the server side
	// of EAP, where clients still verify our certificate): DER, leaf
	// first. Key is the leaf's private key.
	Certificates [][]byte
	Key          crypto.Signer
	// EAPIdentity and EAPPassword are our credentials when a gateway asks
	// us for EAP (initiator with Method AuthEAP).
	EAPIdentity string
	EAPPassword ipsec.Secret
}

// RemoteAuth is what we demand of the peer.
type RemoteAuth struct {
	// Method is how the peer must authenticate.
	Method AuthMethod
	// PSK for AuthPSK.
	PSK ipsec.Secret
	// CAs verify the peer's certificate for AuthPubkey (and our
	// initiator's view of a gateway using EAP).
	CAs *x509.CertPool
	// Users answer EAP password methods when Method is AuthEAP.
	Users ipsec.UserStore
	// EAPMethods are the EAP methods offered, in order (default:
	// MSCHAPv2, plus EAP-TLS when EAPTLS is set). Windows proposes a NAK
	// when the first is not what it is set up for.
	EAPMethods []eap.Type
	// EAPTLS is our side of EAP-TLS (our certificate in Certificates);
	// EAPCerts verifies the clients' certificates.
	EAPTLS   *tls.Config
	EAPCerts *eap.CertVerifier
	// EAPBackend relays EAP to a remote server (RADIUS) instead.
	EAPBackend eap.Backend
	// EAPSkipIdentity starts the method at once with the IKE identity
	// as EAP identity, saving a round trip; leave it off for Windows,
	// whose IKE identity is its IP address.
	EAPSkipIdentity bool
	// AllowAnyEKU accepts a gateway certificate whatever its extended
	// key usages. By default our initiator demands serverAuth,
	// ikeIntermediate (1.3.6.1.5.5.8.2.2), id-kp-ipsecIKE or
	// anyExtendedKeyUsage of the gateway's certificate, so a client
	// certificate of the same CA (clientAuth only, or no EKU at all) cannot
	// impersonate the gateway; Windows and macOS demand the same. Set it
	// only for a gateway whose certificate you cannot reissue. A responder
	// ignores it: client certificates carry any EKU, or none.
	AllowAnyEKU bool
	// VerifyCertificate, if set, is called at IKE_AUTH once the peer's
	// certificate chain verified against CAs, the identity is found in
	// the certificate and the AUTH signature verified: with the peer's
	// identity and the verified chain (leaf first, the trust anchor
	// last). An error (a revoked certificate, an unknown user) fails the
	// authentication: a responder answers AUTHENTICATION_FAILED and
	// reports an AlertAuthFailed carrying the error. It runs on the IKE
	// SA's goroutine and must be quick and safe for concurrent use.
	VerifyCertificate func(id ipsec.Identity, chain []*x509.Certificate) error
}

// SendCertPolicy says when we send our certificate.
type SendCertPolicy uint8

// Certificate sending policies.
const (
	// SendCertAlways is the default: Apple clients send no CERTREQ yet
	// need the gateway's certificate.
	SendCertAlways SendCertPolicy = iota
	// SendCertIfAsked sends it only after a CERTREQ, like strongSwan's
	// "ifasked".
	SendCertIfAsked
	// SendCertNever relies on the peer having our certificate.
	SendCertNever
)

// UniquePolicy says what happens when a peer identity that already has an
// IKE SA authenticates again (strongSwan's "unique" setting). Whatever the
// policy, a peer sending INITIAL_CONTACT replaces its older SAs (RFC 7296
// section 2.4: it says it has lost them).
type UniquePolicy uint8

// Uniqueness policies.
const (
	// UniqueNo allows several IKE SAs per identity (a user on two
	// devices).
	UniqueNo UniquePolicy = iota
	// UniqueReplace deletes the older IKE SAs of the identity.
	UniqueReplace
	// UniqueKeep refuses the new IKE SA while an older one exists.
	UniqueKeep
)

// ChildConfig describes the CHILD SAs negotiated under a peer
// configuration.
type ChildConfig struct {
	// Name names the CHILD SA in logs and in ipsec.ChildSAInfo.
	Name string
	// LocalTS and RemoteTS are the traffic selectors we accept; the
	// peer's proposal is narrowed to them (RFC 7296 section 2.9). The zero
	// value means everything (0.0.0.0/0 and ::/0) on the local side and,
	// for a remote-access client, its virtual address on the remote side.
	LocalTS, RemoteTS []esp.Selector
	// Proposals are the ESP proposals, with optional KE for PFS; nil
	// selects proposal.CompatibleESP.
	Proposals proposal.List
	// Mode is tunnel unless the peer asks for USE_TRANSPORT_MODE and this
	// is set to transport (L2TP/IPsec and host-to-host setups).
	Mode esp.Mode
	// RekeyTime starts a CHILD rekey (0 = leave it to the peer, which is
	// what Windows behind a NAT requires); LifeTime is the hard limit.
	RekeyTime, LifeTime time.Duration
	// RekeyBytes and RekeyPackets trigger a rekey by traffic volume.
	RekeyBytes, RekeyPackets uint64
	// IfID is the XFRM interface ID for this CHILD SA's states and
	// policies on the kernel data plane (package xfrm; it must lie in its
	// WithIfIDRange); 0 selects the data plane's default (xfrm.WithIfID).
	// Giving each site-to-site peer its own ID lets peers with overlapping
	// traffic selectors coexist, like strongSwan's if_id_in/if_id_out; the
	// embedder routes each peer's traffic into the matching xfrm
	// interface. The userspace data plane ignores it.
	IfID uint32
}

// PeerConfig is everything we need to set up IKE SAs with one class of
// peers. It is copied when an SA is created: later changes by the caller
// affect only new SAs.
type PeerConfig struct {
	// Name names the configuration in logs, hooks and errors.
	Name string
	// LocalID is our identity (IDr as responder, IDi as initiator). The
	// zero Identity sends our IP address.
	LocalID ipsec.Identity
	// RemoteID, if set, must equal the peer's authenticated identity; an
	// initiator sends it as IDr. When an initiator authenticates the
	// gateway by certificate and RemoteID is zero, the gateway's
	// certificate must name the address Dial was given (an iPAddress
	// subjectAltName, or a dNSName spelling the address) and the gateway
	// may send any IDr its certificate contains, as strongSwan's clients
	// do when no server identity is configured (identity_loose): so no
	// other certificate of the same CA passes for the gateway. Set
	// RemoteID (e.g. ipsec.FQDN of the name you resolved) to expect
	// another identity.
	RemoteID ipsec.Identity
	// Local is how we authenticate to the peer.
	Local LocalAuth
	// Remote is what we demand of the peer.
	Remote RemoteAuth
	// Proposals are an initiator's IKE proposals, offered in IKE_SA_INIT
	// and in every rekey of the IKE SA and the only ones accepted when the
	// gateway rekeys it; nil selects proposal.CompatibleIKE. A responder
	// negotiates IKE_SA_INIT before it knows which PeerConfig applies, so
	// its IKE proposals are set once with WithProposals; it refuses a
	// PeerConfig that sets Proposals (the peer gets AUTHENTICATION_FAILED
	// and an Alert explains). ESP proposals are per CHILD SA in both
	// roles: ChildConfig.Proposals.
	Proposals proposal.List
	// PreferPeerProposals selects by the peer's order instead of ours: for
	// ESP in both roles, and for IKE rekeys the gateway starts with our
	// initiator (a responder's IKE order is WithPreferPeerProposals).
	PreferPeerProposals bool
	// Children describe the CHILD SAs: the first is negotiated in IKE_AUTH.
	Children []ChildConfig
	// Pools hand out virtual addresses (IPv4 and IPv6 pools may both be
	// given); DNS and DNSDomains (split DNS, RFC 8598) go into the CP
	// reply; Subnets are pushed as INTERNAL_IP4/6_SUBNET and narrow the
	// local traffic selectors of split-tunnel clients. A nil pool or one
	// whose Prefix is not valid makes the configuration invalid.
	Pools []ipsec.AddressPool
	// AllowNoVirtualIP accepts remote-access peers that request no
	// virtual address although Pools are configured. By default such a
	// peer gets FAILED_CP_REQUIRED and no CHILD SA. A peer without a
	// virtual address may only use the configured ChildConfig.RemoteTS
	// or, when none is set, its own outer address, never the pools.
	AllowNoVirtualIP bool
	// DNS are the DNS servers pushed to remote-access peers.
	DNS []netip.Addr
	// DNSDomains are the split-DNS domains (RFC 8598) pushed with DNS.
	DNSDomains []string
	// Subnets are the networks pushed as INTERNAL_IP4/6_SUBNET (see Pools).
	Subnets []netip.Prefix
	// SendCert says when we send our certificate.
	SendCert SendCertPolicy
	// VirtualIPs are the addresses an initiator requests in its CP
	// payload: 0.0.0.0 or :: for "any address of this family" (what
	// road-warrior clients send), or a specific one.
	VirtualIPs []netip.Addr
	// DisableFragmentation turns off IKEv2 fragmentation (RFC 7383),
	// which is on by default because Windows and certificate chains need
	// it. FragmentMTU is the IP MTU fragments are sized for (default 1280).
	DisableFragmentation bool
	FragmentMTU          int
	// Unique is the per-identity policy (default UniqueNo).
	Unique UniquePolicy
	// Limits overrides the responder's per-identity limits
	// (WithIdentityLimits) for peers of this configuration; zero fields
	// keep the engine's, negative ones mean unlimited.
	Limits IdentityLimits
	// DisableMOBIKE turns off RFC 4555 support.
	DisableMOBIKE bool
	// RekeyTime schedules IKE SA rekeying (0: never, or when the peer
	// does). ReauthTime is the authentication lifetime (0: unlimited): an
	// initiator reauthenticates make-before-break when it passes; a
	// responder never starts a reauthentication itself (that breaks macOS
	// and clients behind NAT) but announces it with AUTH_LIFETIME (RFC
	// 4478, which strongSwan clients follow) and deletes the IKE SA of a
	// client that has not reauthenticated a tenth of it (at least a
	// minute) later. Our initiator also follows a gateway's AUTH_LIFETIME.
	// DPDDelay is the liveness check interval when nothing has been
	// received (0: off).
	RekeyTime, ReauthTime, DPDDelay time.Duration

	// gatewayID is the identity an initiator expects in the gateway's
	// certificate when RemoteID is zero: the dialed address, set by Dial
	// and kept across redirects in IKE_SA_INIT (which nobody
	// authenticated).
	gatewayID ipsec.Identity
}

// PeerQuery is what the engine knows when it asks for a PeerConfig: the
// addresses and, from IKE_AUTH on, the identities the peer sent.
type PeerQuery struct {
	// Local and Remote are our address and the peer's, with ports.
	Local, Remote netip.AddrPort
	// RemoteID is the peer's IDi (responder) or IDr (initiator).
	RemoteID ipsec.Identity
	// LocalID is the identity the peer expects of us (its IDr), zero when
	// the peer sent none (Windows).
	LocalID ipsec.Identity
	// RemoteMethod is how the peer is about to authenticate, as far as
	// its first IKE_AUTH request tells: AuthEAP when it sent no AUTH
	// payload (RFC 7296 section 2.16), AuthPSK or AuthPubkey from the
	// AUTH method otherwise. Zero for an initiator's lookup, made before
	// the responder's AUTH is known. It lets one gateway serve EAP and
	// certificate clients with the same identities (strongSwan selects
	// its connections the same way).
	RemoteMethod AuthMethod
	// RemoteCertificate is the peer's end-entity certificate if it sent
	// one (not yet verified: the engine verifies it against the selected
	// configuration's CAs afterwards).
	RemoteCertificate *x509.Certificate
}

// PeerLookup selects the configuration for a peer. It is called once per
// IKE_AUTH and must be safe for concurrent use. Returning ErrNoPeerConfig
// (or any error) makes the engine answer AUTHENTICATION_FAILED.
type PeerLookup func(ctx context.Context, q PeerQuery) (*PeerConfig, error)

// ErrNoPeerConfig is what a PeerLookup returns when no configuration fits.
var ErrNoPeerConfig = errors.New("ike: no matching peer configuration")

// StaticPeers returns a PeerLookup that picks the first configuration
// whose LocalID matches the identity the peer asked for (or any, when the
// peer named none, as Windows does), whose RemoteID, if set, equals the
// peer's, and whose Remote.Method fits the way the peer authenticates
// (PeerQuery.RemoteMethod): an EAP client gets an AuthEAP configuration,
// a certificate client an AuthPubkey one, a PSK peer an AuthPSK one.
func StaticPeers(cfgs ...*PeerConfig) PeerLookup {
	own := make([]*PeerConfig, len(cfgs))
	for i, c := range cfgs {
		own[i] = c.clone()
	}
	return func(_ context.Context, q PeerQuery) (*PeerConfig, error) {
		for _, c := range own {
			if !q.LocalID.IsZero() && !c.LocalID.IsZero() && !c.LocalID.Equal(q.LocalID) {
				continue
			}
			if !c.RemoteID.IsZero() && !c.RemoteID.Equal(q.RemoteID) {
				continue
			}
			if q.RemoteMethod != 0 && c.Remote.Method != 0 && c.Remote.Method != q.RemoteMethod {
				continue
			}
			return c.clone(), nil
		}
		return nil, ErrNoPeerConfig
	}
}

// clone deep-copies the parts of a PeerConfig a caller could mutate.
func (c *PeerConfig) clone() *PeerConfig {
	n := *c
	n.Local.PSK = append(ipsec.Secret(nil), c.Local.PSK...)
	n.Local.EAPPassword = append(ipsec.Secret(nil), c.Local.EAPPassword...)
	n.Remote.PSK = append(ipsec.Secret(nil), c.Remote.PSK...)
	n.Local.Certificates = append([][]byte(nil), c.Local.Certificates...)
	n.Proposals = append(proposal.List(nil), c.Proposals...)
	n.Children = make([]ChildConfig, len(c.Children))
	for i, ch := range c.Children {
		ch.LocalTS = append([]esp.Selector(nil), ch.LocalTS...)
		ch.RemoteTS = append([]esp.Selector(nil), ch.RemoteTS...)
		ch.Proposals = append(proposal.List(nil), ch.Proposals...)
		n.Children[i] = ch
	}
	n.Pools = append([]ipsec.AddressPool(nil), c.Pools...)
	n.DNS = append([]netip.Addr(nil), c.DNS...)
	n.DNSDomains = append([]string(nil), c.DNSDomains...)
	n.Subnets = append([]netip.Prefix(nil), c.Subnets...)
	n.VirtualIPs = append([]netip.Addr(nil), c.VirtualIPs...)
	return &n
}

// retarget makes the expected gateway identity that of gw when a gateway
// we authenticated sends us there (RFC 5685 section 6: a REDIRECT in
// IKE_AUTH or in an INFORMATIONAL exchange is protected by that IKE SA).
// A RemoteID the embedder set stays.
func (c *PeerConfig) retarget(gw netip.Addr) {
	if !c.gatewayID.IsZero() {
		c.gatewayID = ipsec.AddrID(gw)
	}
}

// validate reports the first inconsistency, naming the field.
func (c *PeerConfig) validate() error {
	fail := func(field, format string, args ...any) error {
		return fmt.Errorf("ike: PeerConfig %q: %s: %s", c.Name, field, fmt.Sprintf(format, args...))
	}
	switch c.Local.Method {
	case AuthPSK:
		if len(c.Local.PSK) == 0 {
			return fail("Local.PSK", "empty pre-shared key")
		}
	case AuthPubkey:
		if len(c.Local.Certificates) == 0 || c.Local.Key == nil {
			return fail("Local.Certificates", "certificate authentication needs a certificate and its key")
		}
		leaf, err := x509.ParseCertificate(c.Local.Certificates[0])
		if err != nil {
			return fail("Local.Certificates", "%v", err)
		}
		if keyKind(leaf.PublicKey) == "" || keyKind(c.Local.Key.Public()) != keyKind(leaf.PublicKey) {
			return fail("Local.Key", "key type %T does not match the certificate", c.Local.Key.Public())
		}
	case AuthEAP:
		if c.Local.EAPIdentity == "" {
			return fail("Local.EAPIdentity", "EAP needs an identity")
		}
	default:
		return fail("Local.Method", "unset or unknown authentication method %v", c.Local.Method)
	}
	switch c.Remote.Method {
	case AuthPSK:
		if len(c.Remote.PSK) == 0 {
			return fail("Remote.PSK", "empty pre-shared key")
		}
	case AuthPubkey:
		if c.Remote.CAs == nil {
			return fail("Remote.CAs", "certificate authentication of the peer needs trusted CAs")
		}
	case AuthEAP:
		if c.Remote.Users == nil && c.Remote.EAPBackend == nil && c.Remote.EAPCerts == nil {
			return fail("Remote.Users", "EAP authentication of the peer needs a user store, a certificate verifier or a backend")
		}
		if c.Local.Method != AuthPubkey {
			return fail("Local.Method", "as EAP server we must authenticate with a certificate (clients reject anything else)")
		}
	default:
		return fail("Remote.Method", "unset or unknown authentication method %v", c.Remote.Method)
	}
	for _, p := range c.Proposals {
		if p.Protocol != proposal.ProtoIKE {
			return fail("Proposals", "%s is not an IKE proposal", p)
		}
	}
	for i, ch := range c.Children {
		for _, p := range ch.Proposals {
			if p.Protocol != proposal.ProtoESP {
				return fail(fmt.Sprintf("Children[%d].Proposals", i), "%s is not an ESP proposal", p)
			}
		}
		if ch.LifeTime != 0 && ch.RekeyTime >= ch.LifeTime {
			return fail(fmt.Sprintf("Children[%d].RekeyTime", i), "rekey time %v not below lifetime %v", ch.RekeyTime, ch.LifeTime)
		}
	}
	for i, pool := range c.Pools {
		if pool == nil {
			return fail(fmt.Sprintf("Pools[%d]", i), "nil address pool")
		}
		if p := pool.Prefix(); !p.IsValid() {
			return fail(fmt.Sprintf("Pools[%d]", i), "Prefix() of %T returns no valid prefix (%v)", pool, p)
		}
	}
	if c.FragmentMTU != 0 && (c.FragmentMTU < 576 || c.FragmentMTU > 65535) {
		return fail("FragmentMTU", "%d outside 576..65535", c.FragmentMTU)
	}
	return nil
}
