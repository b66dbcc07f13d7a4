package ikev1

import (
	"context"
	"crypto"
	"crypto/x509"
	"fmt"
	"net/netip"
	"time"

	"github.com/goipsec/ipsec"
	"github.com/goipsec/ipsec/esp"
	"github.com/goipsec/ipsec/proposal"
)

// AuthMethod is how the two sides of a phase 1 exchange authenticate
// each other (RFC 2409 section 5). Both sides use the same method in
// IKEv1.
type AuthMethod uint8

// Authentication methods.
const (
	// AuthPSK: a pre-shared key (RFC 2409 section 5.4). In Main Mode the
	// peer's identity arrives encrypted with a key derived from the PSK,
	// so a responder finds the key by the peer's address (PeerQuery has
	// no RemoteID yet) or uses one key for everyone.
	AuthPSK AuthMethod = iota + 1
	// AuthPubkey: RSA or ECDSA signatures with X.509 certificates (RFC
	// 2409 section 5.1, RFC 4754).
	AuthPubkey
)

// String returns "psk" or "pubkey", the strongSwan spellings.
func (m AuthMethod) String() string {
	switch m {
	case AuthPSK:
		return "psk"
	case AuthPubkey:
		return "pubkey"
	}
	return fmt.Sprintf("AuthMethod(%d)", uint8(m))
}

// Mode is the phase 1 exchange an initiator starts.
type Mode uint8

// Phase 1 exchanges.
const (
	// MainMode protects the identities (RFC 2409 section 5); the default.
	MainMode Mode = iota
	// AggressiveMode needs three messages instead of six and sends the
	// identities in the clear. With a PSK its hash can be attacked
	// offline by anyone who sees the exchange: prefer Main Mode.
	AggressiveMode
)

// String returns "main" or "aggressive".
func (m Mode) String() string {
	if m == AggressiveMode {
		return "aggressive"
	}
	return "main"
}

// PeerConfig is what we do with one peer: how each side authenticates,
// which proposals we accept or offer, and the IPsec SAs to set up.
type PeerConfig struct {
	// Name identifies the configuration in logs and hooks.
	Name string
	// Mode is the phase 1 exchange our initiator uses (a responder
	// answers both; see AllowAggressive).
	Mode Mode
	// AllowAggressive lets a responder answer Aggressive Mode with this
	// configuration. Off by default: Aggressive Mode with a PSK exposes
	// the key to an offline dictionary attack.
	AllowAggressive bool
	// Auth is the method both sides use.
	Auth AuthMethod
	// PSK is the pre-shared key of AuthPSK. Never logged.
	PSK ipsec.Secret
	// LocalID is our identity (ID payload); zero selects our address.
	LocalID ipsec.Identity
	// RemoteID, when set, is the identity the peer must prove.
	RemoteID ipsec.Identity
	// Certificates is our chain for AuthPubkey: DER, leaf first. Key is
	// the leaf's private key (RSA or ECDSA).
	Certificates [][]byte
	Key          crypto.Signer
	// CAs verify the peer's certificate for AuthPubkey.
	CAs *x509.CertPool
	// Proposals are the phase 1 proposals, in preference order
	// (strongSwan keywords, e.g. "aes256-sha256-modp2048"); nil selects
	// DefaultProposals.
	Proposals proposal.List
	// Lifetime is the ISAKMP SA's lifetime our initiator proposes (zero:
	// 3 hours). A responder takes the initiator's proposal, which renews
	// the SA on its own schedule (Windows proposes 8 hours), up to 24
	// hours, and Lifetime when the peer proposes none.
	Lifetime time.Duration
	// RekeyMargin is how long before Lifetime ends our initiator starts
	// the ISAKMP SA that replaces it (IKEv1 re-authenticates: a new phase
	// 1 and new Quick Modes, then the old SA is deleted); zero selects 10 %
	// of the lifetime.
	RekeyMargin time.Duration
	// DPDDelay is how long the peer may be silent before we probe it with
	// R-U-THERE (RFC 3706); zero selects 30 s, negative disables DPD.
	DPDDelay time.Duration
	// DPDTimeout is how long we wait for an answer to our probes before
	// the peer is declared dead; zero selects 150 s.
	DPDTimeout time.Duration
	// XAuth, on a responder, authenticates the user with XAuth after
	// phase 1 and hands out a virtual address with Mode Config (Apple's
	// "Cisco IPSec" client); on our initiator it answers the gateway's
	// XAuth with XAuth.User and Password and pulls its address.
	XAuth *XAuthConfig
	// Children are the IPsec SAs: an initiator sets up the first one
	// after phase 1; a responder picks the one whose selectors hold the
	// peer's Quick Mode proposal (the first one when there is only one).
	Children []ChildConfig
}

// ChildConfig is one IPsec SA (Quick Mode) configuration.
type ChildConfig struct {
	// Name identifies the IPsec SA in logs and hooks.
	Name string
	// Proposals are the ESP proposals; nil selects DefaultESPProposals.
	// A KE transform requests PFS.
	Proposals proposal.List
	// LocalTS and RemoteTS are our and the peer's traffic selectors; nil
	// selects our own and the peer's outer address (host to host, what
	// L2TP/IPsec uses).
	LocalTS, RemoteTS []esp.Selector
	// Transport selects transport mode instead of tunnel mode.
	Transport bool
	// Lifetime is the IPsec SA's lifetime; zero selects 1 hour. A
	// responder accepts a shorter one from the peer.
	Lifetime time.Duration
	// LifeBytes, when not zero, is the IPsec SA's volume lifetime.
	LifeBytes uint64
	// RekeyMargin is how long before the lifetime ends an initiator
	// starts a new Quick Mode; zero selects 10 % of the lifetime.
	RekeyMargin time.Duration
}

// PeerQuery is what an engine knows when it looks up a PeerConfig.
type PeerQuery struct {
	// Local and Remote are our address and the peer's, with ports.
	Local, Remote netip.AddrPort
	// RemoteID is the peer's identity; zero in Main Mode, where the
	// lookup happens before the identity arrives (encrypted with a key
	// the PSK is part of).
	RemoteID ipsec.Identity
	// Aggressive reports an Aggressive Mode request.
	Aggressive bool
	// Method is the authentication method the peer proposes.
	Method AuthMethod
	// XAuth reports that the peer proposes an XAuth method (a "Cisco
	// IPSec" client): choose a configuration with XAuth set.
	XAuth bool
	// Hybrid reports that the peer proposes hybrid authentication
	// (HybridInitRSA: no client certificate): choose a configuration with
	// XAuth.Hybrid set and our certificate.
	Hybrid bool
}

// PeerLookup finds the configuration for a peer; nil and no error
// refuses it.
type PeerLookup func(ctx context.Context, q PeerQuery) (*PeerConfig, error)

// DefaultProposals are the phase 1 proposals a configuration without its
// own uses: those of the native clients (CLIENTS.md: Apple MODP-2048
// first, then MODP-1536 and MODP-1024; Windows ECP-384 and MODP-2048;
// Android MODP-1024) without the broken ones (DES, MD5).
func DefaultProposals() proposal.List {
	l, err := proposal.Parse("aes256-sha256-modp2048, aes256-sha256-ecp384, aes256-sha1-modp2048, aes128-sha256-modp2048, "+
		"aes256-sha384-ecp384, aes256-sha1-ecp384, aes128-sha1-modp2048, aes256-sha256-modp1536, aes256-sha1-modp1536, "+
		"aes256-sha1-modp1024, aes128-sha1-modp1024, 3des-sha1-modp2048, 3des-sha1-modp1024", proposal.ProtoIKE)
	if err != nil {
		panic(err) // a constant list
	}
	return l
}

// DefaultESPProposals are the ESP proposals a ChildConfig without its own
// uses (no PFS: most native clients do not offer it in Quick Mode).
func DefaultESPProposals() proposal.List {
	l, err := proposal.Parse("aes256gcm16, aes128gcm16, aes256-sha256, aes256-sha1, aes128-sha256, aes128-sha1, 3des-sha1", proposal.ProtoESP)
	if err != nil {
		panic(err)
	}
	return l
}

func (c *PeerConfig) proposals() proposal.List {
	if len(c.Proposals) > 0 {
		return c.Proposals
	}
	return DefaultProposals()
}

func (c *PeerConfig) lifetime() time.Duration {
	if c.Lifetime > 0 {
		return c.Lifetime
	}
	return 3 * time.Hour
}

func (c *PeerConfig) dpdDelay() time.Duration {
	if c.DPDDelay == 0 {
		return 30 * time.Second
	}
	return c.DPDDelay
}

func (c *PeerConfig) dpdTimeout() time.Duration {
	if c.DPDTimeout <= 0 {
		return 150 * time.Second
	}
	return c.DPDTimeout
}

func (c *ChildConfig) proposals() proposal.List {
	if len(c.Proposals) > 0 {
		return c.Proposals
	}
	return DefaultESPProposals()
}

func (c *ChildConfig) lifetime() time.Duration {
	if c.Lifetime > 0 {
		return c.Lifetime
	}
	return time.Hour
}

func (c *ChildConfig) rekeyMargin() time.Duration {
	if c.RekeyMargin > 0 && c.RekeyMargin < c.lifetime() {
		return c.RekeyMargin
	}
	return c.lifetime() / 10
}

// validate checks a configuration returned by a lookup or given to Dial.
func (c *PeerConfig) validate() error {
	switch c.Auth {
	case AuthPSK:
		if len(c.PSK) == 0 {
			return fmt.Errorf("ikev1: peer config %q: AuthPSK without a PSK", c.Name)
		}
	case AuthPubkey:
		hybridClient := c.hybrid() && c.XAuth.User != ""
		hybridGateway := c.hybrid() && c.XAuth.User == ""
		if !hybridClient && (len(c.Certificates) == 0 || c.Key == nil) {
			return fmt.Errorf("ikev1: peer config %q: AuthPubkey needs Certificates and Key", c.Name)
		}
		if c.CAs == nil && !hybridGateway {
			return fmt.Errorf("ikev1: peer config %q: AuthPubkey needs CAs", c.Name)
		}
	default:
		return fmt.Errorf("ikev1: peer config %q: no authentication method", c.Name)
	}
	if x := c.XAuth; x != nil && x.User == "" {
		if x.Users == nil && x.Backend == nil {
			return fmt.Errorf("ikev1: peer config %q: XAuth needs Users or a Backend", c.Name)
		}
		if len(x.Pools) == 0 {
			return fmt.Errorf("ikev1: peer config %q: XAuth needs an address pool for Mode Config", c.Name)
		}
	}
	for _, p := range c.Proposals {
		if _, err := proposal.ToIKEv1Phase1(p, proposal.V1AuthPSK); err != nil {
			return fmt.Errorf("ikev1: peer config %q: %w", c.Name, err)
		}
	}
	for _, cc := range c.Children {
		for _, p := range cc.Proposals {
			if _, err := proposal.ToIKEv1ESP(p); err != nil {
				return fmt.Errorf("ikev1: peer config %q: child %q: %w", c.Name, cc.Name, err)
			}
		}
	}
	return nil
}
