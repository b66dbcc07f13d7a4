package xauth

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/goipsec/ipsec"
)

// Golden Attributes payload bodies, written out by hand from the sources
// (racoon: apple-oss-distributions/ipsec ipsec-tools/racoon/isakmp_xauth.c,
// isakmp_cfg.c; strongSwan: libcharon/sa/ikev1/tasks/xauth.c,
// mode_config.c, plugins/xauth_generic, plugins/unity), not produced by
// this package's encoder.
func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const (
	// racoon's Mode Config REQUEST after XAuth (isakmp_cfg_getconfig):
	// eleven empty attributes, Identifier random (0x1234 here).
	racoonCfgRequest = `01 00 1234
		0001 0000 0002 0000 0003 0000 0004 0000 0005 0000 0007 0000
		7000 0000 7002 0000 7003 0000 7004 0000 7006 0000`
	// racoon's XAuth REPLY to a REQUEST with XAUTH_TYPE (isakmp_xauth_req):
	// the type echoed as a basic attribute, then name and password.
	racoonXAuthReply = `02 00 5678
		c088 0000
		4089 0005 616c696365
		408a 0007 73656372657431`
	// racoon's ACK of SET(STATUS): XAUTH_STATUS basic, value 0.
	racoonXAuthAck = `04 00 9abc c08f 0000`

	// strongSwan's XAuth REQUEST (xauth_generic initiate): no XAUTH_TYPE.
	swanXAuthRequest = `01 00 0000 4089 0000 408a 0000`
	// strongSwan's SET(STATUS OK) (xauth.c build_i_status).
	swanXAuthSetOK = `03 00 0000 c08f 0001`
	// strongSwan's Mode Config REPLY to racoon's REQUEST with a pool
	// address 10.10.0.5, dns = 192.0.2.53 and a child with local_ts
	// 10.10.0.0/16 (the unity plugin): address, DNS, split include.
	swanCfgReply = `02 00 1234
		0001 0004 0a0a0005
		0003 0004 c0000235
		7004 000e 0a0a0000 ffff0000 000000000000`
)

func mustParse(t *testing.T, s string) *Message {
	t.Helper()
	m, err := Parse(unhex(t, s))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return m
}

func encode(t *testing.T, m *Message) []byte {
	t.Helper()
	b, err := Append(nil, m)
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	return b
}

func TestGoldenRoundTrip(t *testing.T) {
	for name, s := range map[string]string{
		"racoonCfgRequest": racoonCfgRequest, "racoonXAuthReply": racoonXAuthReply,
		"racoonXAuthAck": racoonXAuthAck, "swanXAuthRequest": swanXAuthRequest,
		"swanXAuthSetOK": swanXAuthSetOK, "swanCfgReply": swanCfgReply,
	} {
		b := unhex(t, s)
		m := mustParse(t, s)
		if got := encode(t, m); !bytes.Equal(got, b) {
			t.Errorf("%s: re-encoded\n%x, want\n%x", name, got, b)
		}
		// A prefix either fails or is itself a complete attribute list
		// that re-encodes to exactly its bytes.
		for i := range len(b) {
			p, err := Parse(b[:i])
			if err != nil {
				if !errors.Is(err, ErrMalformed) {
					t.Errorf("%s[:%d]: error %v does not match ErrMalformed", name, i, err)
				}
				continue
			}
			if got := encode(t, p); !bytes.Equal(got, b[:i]) {
				t.Errorf("%s[:%d] parsed but re-encodes to %x", name, i, got)
			}
		}
	}
}

func TestGoldenRacoonRequestFields(t *testing.T) {
	m := mustParse(t, racoonCfgRequest)
	if m.Type != CfgRequest || m.Identifier != 0x1234 || len(m.Attrs) != 11 {
		t.Fatalf("got %v", m)
	}
	r, err := ParseRequest(m)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(r.Types, AppleRequest) || r.IP4.IsValid() {
		t.Errorf("request %+v", r)
	}
	// Our initiator asks exactly like racoon.
	if got := encode(t, NewRequest(0x1234, AppleRequest...)); !bytes.Equal(got, unhex(t, racoonCfgRequest)) {
		t.Errorf("NewRequest(AppleRequest) = %x", got)
	}
}

// TestReplyToRacoon pins the exact REPLY our gateway sends to racoon's
// REQUEST: the lengths racoon checks (4-octet addresses, 14-octet split
// entries) and nothing it did not ask for.
func TestReplyToRacoon(t *testing.T) {
	lease := &Lease{
		IP4: netip.MustParseAddr("10.10.0.5"), Netmask4: netip.MustParseAddr("255.255.255.0"),
		DNS:    []netip.Addr{netip.MustParseAddr("192.0.2.53"), netip.MustParseAddr("2001:db8::53")},
		Expiry: time.Hour, AppVersion: "goipsec", Banner: "hi", DefaultDomain: "example.com",
		SplitInclude: []netip.Prefix{netip.MustParsePrefix("10.10.0.0/16")},
		PFS:          true, // not asked by racoon: not sent
	}
	reply, err := Reply(mustParse(t, racoonCfgRequest), lease)
	if err != nil {
		t.Fatal(err)
	}
	want := unhex(t, `02 00 1234
		0001 0004 0a0a0005
		0002 0004 ffffff00
		0003 0004 c0000235
		0005 0004 00000e10
		0007 0007 676f69707365 63
		7000 0002 6869
		7002 000b 6578616d706c652e636f6d
		7004 000e 0a0a0000 ffff0000 000000000000`)
	if got := encode(t, reply); !bytes.Equal(got, want) {
		t.Errorf("reply\n%x, want\n%x", got, want)
	}
	// And the client side reads it back.
	l, err := ParseLease(reply)
	if err != nil {
		t.Fatal(err)
	}
	if l.IP4 != lease.IP4 || l.Netmask4 != lease.Netmask4 || !slices.Equal(l.DNS, lease.DNS[:1]) ||
		l.Expiry != time.Hour || l.Banner != "hi" || l.DefaultDomain != "example.com" ||
		!slices.Equal(l.SplitInclude, lease.SplitInclude) || l.AppVersion != "goipsec" {
		t.Errorf("lease %+v", l)
	}
}

func TestGoldenStrongSwanReply(t *testing.T) {
	l, err := ParseLease(mustParse(t, swanCfgReply))
	if err != nil {
		t.Fatal(err)
	}
	if l.IP4 != netip.MustParseAddr("10.10.0.5") || !slices.Equal(l.DNS, []netip.Addr{netip.MustParseAddr("192.0.2.53")}) ||
		!slices.Equal(l.SplitInclude, []netip.Prefix{netip.MustParsePrefix("10.10.0.0/16")}) {
		t.Errorf("lease %+v", l)
	}
}

// TestServerWithRacoonBytes runs our gateway against racoon's literal
// messages.
func TestServerWithRacoonBytes(t *testing.T) {
	s, err := NewServer(ServerConfig{
		Users: ipsec.NewUsers(ipsec.User{Name: "alice", Password: ipsec.Secret("secret1")}),
		Rand:  bytes.NewReader([]byte{0x56, 0x78, 0x9a, 0xbc}),
	})
	if err != nil {
		t.Fatal(err)
	}
	req, err := s.Start()
	if err != nil {
		t.Fatal(err)
	}
	// Our REQUEST: XAUTH_TYPE generic (basic), empty name and password.
	if got, want := encode(t, req), unhex(t, `01 00 5678 c088 0000 4089 0000 408a 0000`); !bytes.Equal(got, want) {
		t.Errorf("REQUEST %x, want %x", got, want)
	}
	set, res, err := s.Process(context.Background(), mustParse(t, racoonXAuthReply))
	if err != nil || res.Status != StatusContinue || res.Name != "alice" {
		t.Fatalf("reply: %v %v", res, err)
	}
	if got, want := encode(t, set), unhex(t, `03 00 9abc c08f 0001`); !bytes.Equal(got, want) {
		t.Errorf("SET %x, want %x", got, want)
	}
	out, res, err := s.Process(context.Background(), mustParse(t, racoonXAuthAck))
	if err != nil || out != nil || res.Status != StatusSuccess || res.User == nil || res.User.Name != "alice" {
		t.Fatalf("ack: %v %v %v", out, res, err)
	}
}

// TestClientWithStrongSwanBytes runs our initiator against strongSwan's
// literal gateway messages.
func TestClientWithStrongSwanBytes(t *testing.T) {
	c, err := NewClient(ClientConfig{Name: "alice", Password: ipsec.Secret("secret1")})
	if err != nil {
		t.Fatal(err)
	}
	out, _, err := c.Process(mustParse(t, swanXAuthRequest))
	if err != nil {
		t.Fatal(err)
	}
	want := unhex(t, `02 00 0000 4089 0005 616c696365 408a 0007 73656372657431`)
	if got := encode(t, out); !bytes.Equal(got, want) {
		t.Errorf("REPLY %x, want %x", got, want)
	}
	ack, res, err := c.Process(mustParse(t, swanXAuthSetOK))
	if err != nil || res.Status != StatusSuccess {
		t.Fatalf("SET: %v %v", res, err)
	}
	if got, want := encode(t, ack), unhex(t, `04 00 0000 c08f 0000`); !bytes.Equal(got, want) {
		t.Errorf("ACK %x, want %x", got, want)
	}
	// Racoon's answer to a REQUEST that carries XAUTH_TYPE is what ours is.
	c2, _ := NewClient(ClientConfig{Name: "alice", Password: ipsec.Secret("secret1")})
	out, _, err = c2.Process(mustParse(t, `01 00 5678 c088 0000 4089 0000 408a 0000`))
	if err != nil {
		t.Fatal(err)
	}
	if got := encode(t, out); !bytes.Equal(got, unhex(t, racoonXAuthReply)) {
		t.Errorf("REPLY %x, want racoon's %s", got, racoonXAuthReply)
	}
}

// With OmitType our REQUEST is strongSwan's, byte for byte.
func TestOmitTypeIsStrongSwanRequest(t *testing.T) {
	s, err := NewServer(ServerConfig{Users: testUsers(), OmitType: true, Rand: bytes.NewReader(make([]byte, 4))})
	if err != nil {
		t.Fatal(err)
	}
	req, err := s.Start()
	if err != nil {
		t.Fatal(err)
	}
	if got := encode(t, req); !bytes.Equal(got, unhex(t, swanXAuthRequest)) {
		t.Errorf("REQUEST %x, want %s", got, swanXAuthRequest)
	}
}

// racoon fills APPLICATION_VERSION when the VPN controller gives it one.
func TestRacoonRequestWithVersion(t *testing.T) {
	m := mustParse(t, racoonCfgRequest)
	m.Attrs[5].Value = []byte("Apple iOS\x00")
	r, err := ParseRequest(wire(t, m))
	if err != nil {
		t.Fatal(err)
	}
	if r.AppVersion != "Apple iOS?" || !r.Wants(UnitySplitInclude) || r.Wants(UnityPFS) {
		t.Errorf("request %+v", r)
	}
}
