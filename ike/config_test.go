package ike

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/goipsec/ipsec"
	"github.com/goipsec/ipsec/ike/wire"
	"github.com/goipsec/ipsec/internal/testpki"
	"github.com/goipsec/ipsec/proposal"
)

func TestPeerConfigValidate(t *testing.T) {
	pki, err := testpki.New(testpki.ECDSAP256, "client@example.com", "vpn.example.com")
	if err != nil {
		t.Fatal(err)
	}
	other, _ := testpki.New(testpki.RSA2048, "x@example.com", "x")
	esp, _ := proposal.Parse("aes256gcm16", proposal.ProtoESP)
	good := func() *PeerConfig {
		return &PeerConfig{
			Name:   "rw",
			Local:  LocalAuth{Method: AuthPubkey, Certificates: [][]byte{pki.Server.DER}, Key: pki.Server.Key},
			Remote: RemoteAuth{Method: AuthEAP, Users: ipsec.NewUsers()},
		}
	}
	if err := good().validate(); err != nil {
		t.Fatalf("good config: %v", err)
	}
	cases := []struct {
		field string
		mod   func(*PeerConfig)
	}{
		{"Local.Method", func(c *PeerConfig) { c.Local.Method = 0 }},
		{"Local.PSK", func(c *PeerConfig) { c.Local = LocalAuth{Method: AuthPSK} }},
		{"Local.Certificates", func(c *PeerConfig) { c.Local.Certificates = nil }},
		{"Local.Certificates", func(c *PeerConfig) { c.Local.Certificates = [][]byte{{1}} }},
		{"Local.Key", func(c *PeerConfig) { c.Local.Key = other.Server.Key }},
		{"Remote.Users", func(c *PeerConfig) { c.Remote.Users = nil }},
		{"Remote.CAs", func(c *PeerConfig) { c.Remote = RemoteAuth{Method: AuthPubkey} }},
		{"Local.Method", func(c *PeerConfig) {
			c.Local = LocalAuth{Method: AuthPSK, PSK: ipsec.Secret("k")}
		}},
		{"Proposals", func(c *PeerConfig) { c.Proposals = esp }},
		{"Children[0].Proposals", func(c *PeerConfig) {
			ike, _ := proposal.Parse("aes256-sha256-modp2048", proposal.ProtoIKE)
			c.Children = []ChildConfig{{Proposals: ike}}
		}},
		{"FragmentMTU", func(c *PeerConfig) { c.FragmentMTU = 100 }},
	}
	for _, tc := range cases {
		c := good()
		tc.mod(c)
		err := c.validate()
		if err == nil || !strings.Contains(err.Error(), tc.field+":") {
			t.Errorf("%s: error %v does not name the field", tc.field, err)
		}
	}
	// The PSK must never appear in an error.
	c := good()
	c.Local = LocalAuth{Method: AuthPSK, PSK: ipsec.Secret("supersecret")}
	if err := c.validate(); err == nil || strings.Contains(err.Error(), "supersecret") {
		t.Errorf("PSK leaked or no error: %v", err)
	}
}

func TestStaticPeers(t *testing.T) {
	gw := ipsec.FQDN("vpn.example.com")
	a := &PeerConfig{Name: "a", LocalID: gw, RemoteID: ipsec.Email("alice@example.com"), Local: LocalAuth{PSK: ipsec.Secret("1")}}
	b := &PeerConfig{Name: "b", LocalID: gw}
	lookup := StaticPeers(a, b)
	a.Name = "mutated" // later changes must not reach the lookup
	ctx := context.Background()
	for _, c := range []struct {
		local, remote ipsec.Identity
		want          string
	}{
		{gw, ipsec.Email("alice@example.com"), "a"},
		{gw, ipsec.Email("bob@example.com"), "b"},
		{ipsec.Identity{}, ipsec.Email("bob@example.com"), "b"}, // Windows sends no IDr
	} {
		got, err := lookup(ctx, PeerQuery{LocalID: c.local, RemoteID: c.remote})
		if err != nil || got.Name != c.want {
			t.Errorf("lookup(%v, %v) = %v, %v; want %s", c.local, c.remote, got, err, c.want)
		}
	}
	if _, err := lookup(ctx, PeerQuery{LocalID: ipsec.FQDN("other.example.com")}); !errors.Is(err, ErrNoPeerConfig) {
		t.Errorf("unknown IDr: %v", err)
	}
	got, _ := lookup(ctx, PeerQuery{LocalID: gw, RemoteID: ipsec.Email("alice@example.com")})
	got.Local.PSK[0] = 'X'
	again, _ := lookup(ctx, PeerQuery{LocalID: gw, RemoteID: ipsec.Email("alice@example.com")})
	if string(again.Local.PSK) != "1" {
		t.Error("lookup results alias each other")
	}
}

// One gateway identity, EAP and certificate clients: the way the peer
// authenticates picks the configuration.
func TestStaticPeersByMethod(t *testing.T) {
	gw := ipsec.FQDN("vpn.example.com")
	eapCfg := &PeerConfig{Name: "eap", LocalID: gw, Remote: RemoteAuth{Method: AuthEAP}}
	certCfg := &PeerConfig{Name: "cert", LocalID: gw, Remote: RemoteAuth{Method: AuthPubkey}}
	lookup := StaticPeers(eapCfg, certCfg)
	ctx := context.Background()
	for _, c := range []struct {
		method AuthMethod
		want   string
	}{
		{AuthEAP, "eap"},
		{AuthPubkey, "cert"},
		{0, "eap"}, // unknown method (initiator lookup): first match
	} {
		got, err := lookup(ctx, PeerQuery{LocalID: gw, RemoteID: ipsec.FQDN("client.example.com"), RemoteMethod: c.method})
		if err != nil || got.Name != c.want {
			t.Errorf("method %v: got %v, %v; want %s", c.method, got, err, c.want)
		}
	}
	if _, err := lookup(ctx, PeerQuery{LocalID: gw, RemoteMethod: AuthPSK}); !errors.Is(err, ErrNoPeerConfig) {
		t.Errorf("PSK peer without a PSK configuration: %v", err)
	}
}

// Windows announces "no other IKE SA" with a Vendor ID instead of the
// INITIAL_CONTACT notify; the responder must see it in IKE_SA_INIT.
func TestWindowsInitialContactVendorID(t *testing.T) {
	ip := collectInit([]wire.Payload{
		&wire.VendorID{Data: []byte{0x1e, 0x2b, 0x51, 0x69, 0x05, 0x99, 0x1c, 0x7d, 0x7c, 0x96, 0xfc, 0xbf, 0xb5, 0x87, 0xe4, 0x61, 0, 0, 0, 9}},
		&wire.VendorID{Data: append([]byte(nil), msInitialContactVID...)},
	})
	if !ip.msInitialContact {
		t.Error("Vid-Initial-Contact not recognized")
	}
	if ip := collectInit([]wire.Payload{&wire.VendorID{Data: msInitialContactVID[:15]}}); ip.msInitialContact {
		t.Error("a truncated Vendor ID taken for Vid-Initial-Contact")
	}
}
