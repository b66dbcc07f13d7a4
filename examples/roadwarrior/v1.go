package main

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/goipsec/ipsec"
	"github.com/goipsec/ipsec/ike"
	"github.com/goipsec/ipsec/ikev1"
	"github.com/goipsec/ipsec/proposal"
)

// tunnelSA is what the client needs of a connected SA: an IKEv2 *ike.SA
// or an IKEv1 (Cisco IPSec) one, v1SA.
type tunnelSA interface {
	Info() ipsec.IKESAInfo
	Done() <-chan struct{}
	Err() error
	// DNS is what the gateway pushed: servers and search domains.
	DNS() (servers []netip.Addr, domains []string)
	// Subnets are the networks the gateway pushed for a split tunnel
	// (IKEv2's INTERNAL_IP4/6_SUBNET).
	Subnets() []netip.Prefix
	// Close deletes the SA, telling the gateway.
	Close(ctx context.Context) error
}

var (
	_ tunnelSA = (*ike.SA)(nil)
	_ tunnelSA = v1SA{}
)

// v1SA is an ISAKMP SA to a Cisco IPSec gateway. Its virtual address is
// in Info().VirtualIPs, and the gateway's split-include networks are the
// IPsec SA's remote selectors (Info().Children[].RemoteTS), which
// routesFor turns into routes.
type v1SA struct{ sa *ikev1.SA }

func (s v1SA) Info() ipsec.IKESAInfo { return s.sa.Info() }
func (s v1SA) Done() <-chan struct{} { return s.sa.Done() }
func (s v1SA) Err() error            { return s.sa.Err() }

// dnsSA is the accessor an IKEv1 SA needs for the DNS servers and
// domains of the gateway's Mode Config reply, as ike.SA has it.
type dnsSA interface {
	DNS() (servers []netip.Addr, domains []string)
}

// DNS is what the gateway's Mode Config reply held, once package ikev1
// hands it out (dnsSA); until then it is empty and roadwarrior leaves the
// host's DNS alone.
func (s v1SA) DNS() ([]netip.Addr, []string) {
	if d, ok := any(s.sa).(dnsSA); ok {
		return d.DNS()
	}
	return nil, nil
}

// Subnets is empty: the split-include networks are the selectors.
func (s v1SA) Subnets() []netip.Prefix { return nil }

// Close sends the Delete (IKEv1 does not acknowledge it) and waits for
// the SA to end, at most until ctx is done.
func (s v1SA) Close(ctx context.Context) error {
	done := make(chan struct{})
	go func() { defer close(done); _ = s.sa.Close() }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// v1Retransmissions are the waits of -retransmit-timeout growing by
// ike.DefaultRetransmitBase for -retransmit-tries retransmissions, as the
// IKEv2 initiator does.
func v1Retransmissions(first time.Duration, tries int) []time.Duration {
	waits := make([]time.Duration, 0, tries+1)
	d := first
	for range tries + 1 {
		waits = append(waits, d)
		d = time.Duration(float64(d) * ike.DefaultRetransmitBase)
	}
	return waits
}

// validateV1 builds the IKEv1 (Cisco IPSec) configuration of -ike v1:
// phase 1 with the group secret (Aggressive Mode with -group as KeyID,
// Main Mode without) or our certificate, then XAuth with -user and
// -password-file and Mode Config for the virtual address.
func (o *options) validateV1(s *settings) error {
	if o.auth != "psk" && (o.group != "" || o.groupSecretFile != "") {
		return fmt.Errorf("-group and -group-secret-file apply to -ike v1 -auth psk only")
	}
	if o.psk != "" || o.pskFile != "" {
		return errors.New("-psk and -psk-file do not apply to -ike v1: give the group secret in -group-secret-file")
	}
	if o.user == "" || o.passwordFile == "" {
		return errors.New("-ike v1 needs -user and -password-file (XAuth)")
	}
	pw, err := readSecret(o.passwordFile)
	if err != nil {
		return fmt.Errorf("-password-file: %v", err)
	}
	dpd := o.dpd
	if dpd == 0 {
		dpd = -1 // ikev1: negative disables, zero selects 30 s
	}
	peer := &ikev1.PeerConfig{
		Name:     "roadwarrior",
		DPDDelay: dpd,
		XAuth:    &ikev1.XAuthConfig{User: o.user, Password: pw},
	}
	if o.id != "" {
		if peer.LocalID, err = ipsec.ParseIdentity(o.id); err != nil {
			return fmt.Errorf("-id: %v", err)
		}
	}
	switch {
	case o.remoteID != "":
		if peer.RemoteID, err = ipsec.ParseIdentity(o.remoteID); err != nil {
			return fmt.Errorf("-remote-id: %v", err)
		}
	case !isAddr(s.host):
		peer.RemoteID = ipsec.FQDN(s.host)
	}
	switch o.auth {
	case "psk":
		if o.caFile != "" || o.certFile != "" || o.keyFile != "" {
			return errors.New("-cert, -key and -ca do not apply to -ike v1 -auth psk")
		}
		if o.groupSecretFile == "" {
			return errors.New("-ike v1 -auth psk needs -group-secret-file")
		}
		if peer.PSK, err = readSecret(o.groupSecretFile); err != nil {
			return fmt.Errorf("-group-secret-file: %v", err)
		}
		peer.Auth = ikev1.AuthPSK
		if o.group != "" {
			// The group name is our identity (KEY_ID), which the gateway
			// needs before it can pick the group secret: only Aggressive
			// Mode sends it in the clear.
			if o.id != "" {
				return errors.New("-id and -group: the group name is our identity, give only one")
			}
			peer.Mode = ikev1.AggressiveMode
			peer.LocalID = ipsec.KeyID([]byte(o.group))
			peer.Proposals = oneGroup(ikev1.DefaultProposals())
		} else {
			peer.Mode = ikev1.MainMode
		}
	case "cert":
		if o.certFile == "" || o.keyFile == "" {
			return errors.New("-ike v1 -auth cert needs -cert and -key")
		}
		certs, err := readCerts(o.certFile)
		if err != nil {
			return fmt.Errorf("-cert: %v", err)
		}
		key, err := readKey(o.keyFile)
		if err != nil {
			return fmt.Errorf("-key: %v", err)
		}
		if peer.CAs, err = caPool(o.caFile); err != nil {
			return fmt.Errorf("-ca: %v", err)
		}
		peer.Auth, peer.Mode, peer.Certificates, peer.Key = ikev1.AuthPubkey, ikev1.MainMode, certs, key
		if peer.LocalID.IsZero() {
			if peer.LocalID, err = certIdentity(certs[0]); err != nil {
				return fmt.Errorf("-cert: %v", err)
			}
		}
	case "":
		return errors.New("-auth is required (psk or cert with -ike v1)")
	default:
		return fmt.Errorf("-auth %q: want psk or cert with -ike v1 (the user authenticates with XAuth)", o.auth)
	}
	s.v1 = peer
	return nil
}

// oneGroup keeps the proposals of l that offer its first Diffie-Hellman
// group, with that group alone: Aggressive Mode sends its KE payload with
// the proposals, so a gateway choosing a proposal of another group could
// not use it (strongSwan then aborts with "invalid DH public value size").
func oneGroup(l proposal.List) proposal.List {
	if len(l) == 0 || len(l[0].KE) == 0 {
		return l
	}
	g := l[0].KE[0]
	var out proposal.List
	for _, p := range l.Clone() {
		if slices.Contains(p.KE, g) {
			p.KE = []proposal.KEID{g}
			p.Number = uint8(len(out) + 1)
			out = append(out, p)
		}
	}
	return out
}

// dialV1 connects to a Cisco IPSec gateway.
func (c *client) dialV1(ctx context.Context, addr netip.AddrPort) (tunnelSA, error) {
	sa, err := c.in1.Dial(ctx, addr, c.s.v1)
	if err != nil {
		if errors.Is(err, ikev1.ErrAuthFailed) {
			return nil, &authError{err}
		}
		return nil, err
	}
	return v1SA{sa}, nil
}

// authError is a failed authentication (the gateway refused our XAuth
// password, group secret or certificate, or the gateway is not who
// -remote-id says): trying again with the same settings cannot help and
// may lock the account, so roadwarrior stops.
type authError struct{ err error }

func (e *authError) Error() string {
	return "authentication failed, not retrying (check -user, -password-file, the group secret or certificate, and -remote-id): " + e.err.Error()
}

func (e *authError) Unwrap() error { return e.err }
