package ipsec

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
)

func TestParseIdentity(t *testing.T) {
	cases := []struct {
		in        string
		typ       IDType
		data      []byte // nil: not checked
		roundtrip string
	}{
		{"192.0.2.1", IDIPv4Addr, []byte{192, 0, 2, 1}, "192.0.2.1"},
		{"2001:db8::1", IDIPv6Addr, nil, "2001:db8::1"},
		{"vpn.example.com", IDFQDN, []byte("vpn.example.com"), "vpn.example.com"},
		{"@192.0.2.1", IDFQDN, []byte("192.0.2.1"), "192.0.2.1"},
		{"alice@example.com", IDRFC822Addr, []byte("alice@example.com"), "alice@example.com"},
		{"@#0a0B", IDKeyID, []byte{0x0a, 0x0b}, "@#0a0b"},
		{"C=US, O=Example, CN=vpn.example.com", IDDERASN1DN, nil, "CN=vpn.example.com,O=Example,C=US"},
	}
	for _, c := range cases {
		id, err := ParseIdentity(c.in)
		if err != nil {
			t.Errorf("ParseIdentity(%q): %v", c.in, err)
			continue
		}
		if id.Type != c.typ {
			t.Errorf("ParseIdentity(%q).Type = %v, want %v", c.in, id.Type, c.typ)
		}
		if c.data != nil && !bytes.Equal(id.Data, c.data) {
			t.Errorf("ParseIdentity(%q).Data = %x, want %x", c.in, id.Data, c.data)
		}
		if got := id.String(); got != c.roundtrip {
			t.Errorf("ParseIdentity(%q).String() = %q, want %q", c.in, got, c.roundtrip)
		}
	}
}

func TestParseIdentityDNOrder(t *testing.T) {
	// The DER must keep the written order (C first), as strongSwan's
	// identification_create_from_string does, so IDs match certificates.
	id, err := ParseIdentity("C=US, O=Example, CN=vpn")
	if err != nil {
		t.Fatal(err)
	}
	c := bytes.Index(id.Data, []byte("US"))
	cn := bytes.Index(id.Data, []byte("vpn"))
	if c < 0 || cn < 0 || c > cn {
		t.Errorf("DER %x does not hold C before CN", id.Data)
	}
}

func TestParseIdentityErrors(t *testing.T) {
	for _, in := range []string{"", "@", "@#zz", "@#", "CN=", "XX=1, CN=a"} {
		_, err := ParseIdentity(in)
		if !errors.Is(err, ErrBadIdentity) {
			t.Errorf("ParseIdentity(%q) error = %v, want ErrBadIdentity", in, err)
		}
	}
}

func TestIdentityStringEscapes(t *testing.T) {
	id := FQDN("evil\nFAKE LOG LINE")
	if s := id.String(); strings.ContainsAny(s, "\n\r") {
		t.Errorf("String() = %q keeps a newline from the peer", s)
	}
	if got := (Identity{}).String(); got != "%any" {
		t.Errorf("zero identity = %q", got)
	}
	if got := (Identity{Type: 77, Data: []byte{1}}).String(); got != "ID(77):01" {
		t.Errorf("unknown type = %q", got)
	}
}

func TestIdentityAddrAndEqual(t *testing.T) {
	a := netip.MustParseAddr("2001:db8::7")
	id := AddrID(a)
	got, ok := id.Addr()
	if !ok || got != a {
		t.Errorf("Addr() = %v, %v", got, ok)
	}
	mapped := AddrID(netip.MustParseAddr("::ffff:192.0.2.9"))
	if mapped.Type != IDIPv4Addr {
		t.Errorf("v4-mapped address gives %v, want ID_IPV4_ADDR", mapped.Type)
	}
	if !id.Equal(AddrID(a)) || id.Equal(mapped) {
		t.Error("Equal is wrong")
	}
	if _, ok := FQDN("x").Addr(); ok {
		t.Error("FQDN has no address")
	}
}

func TestSecretNeverPrints(t *testing.T) {
	s := Secret("hunter2")
	var logBuf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logBuf, nil))
	logger.Info("x", "psk", s)
	logger.Info("y", slog.Any("user", User{Name: "alice", Password: s}))
	outs := []string{
		fmt.Sprint(s), fmt.Sprintf("%s %v %x %q %#v %+v", s, s, s, s, s, s),
		fmt.Sprintf("%v", User{Name: "alice", Password: s, NTHash: s}),
		fmt.Sprintf("%+v", &User{Name: "alice", Password: s}),
		fmt.Sprintf("%s %v %+v %#v", NewUsers(User{Name: "a", Password: s}), NewUsers(User{Name: "a", Password: s}),
			NewUsers(User{Name: "a", Password: s}), NewUsers(User{Name: "a", Password: s})),
		logBuf.String(),
	}
	for _, o := range outs {
		if strings.Contains(o, "hunter2") || strings.Contains(o, "68756e74657232") {
			t.Errorf("secret leaked: %q", o)
		}
	}
	if !s.Equal(Secret("hunter2")) || s.Equal(Secret("hunter3")) {
		t.Error("Equal is wrong")
	}
}
