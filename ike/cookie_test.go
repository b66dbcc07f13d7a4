package ike

import (
	"bytes"
	"crypto/rand"
	"net/netip"
	"testing"
	"time"
)

func TestCookieRoundTripAndRotation(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	j := newCookieJar(rand.Reader, func() time.Time { return now })
	ni := []byte("nonce-of-initiator")
	ip := netip.MustParseAddr("192.0.2.7")
	c, err := j.make(ni, ip, 42)
	if err != nil {
		t.Fatal(err)
	}
	if len(c) != cookieLen {
		t.Fatalf("cookie length %d", len(c))
	}
	if !j.check(c, ni, ip, 42) {
		t.Fatal("fresh cookie rejected")
	}
	for name, ok := range map[string]bool{
		"other nonce": j.check(c, []byte("x"), ip, 42),
		"other IP":    j.check(c, ni, netip.MustParseAddr("192.0.2.8"), 42),
		"other SPI":   j.check(c, ni, ip, 43),
		"truncated":   j.check(c[:len(c)-1], ni, ip, 42),
		"empty":       j.check(nil, ni, ip, 42),
	} {
		if ok {
			t.Errorf("%s accepted", name)
		}
	}
	// The previous secret stays valid for one lifetime, then not.
	now = now.Add(cookieSecretLifetime + time.Second)
	c2, _ := j.make(ni, ip, 42)
	if bytes.Equal(c, c2) {
		t.Error("cookie unchanged after rotation")
	}
	if !j.check(c, ni, ip, 42) || !j.check(c2, ni, ip, 42) {
		t.Error("cookie of the previous secret rejected right after rotation")
	}
	now = now.Add(cookieSecretLifetime + time.Second)
	j.make(ni, ip, 42) // rotate again
	if j.check(c, ni, ip, 42) {
		t.Error("cookie two secrets old accepted")
	}
}

func TestNATDetection(t *testing.T) {
	local := netip.MustParseAddrPort("192.0.2.1:500")
	remote := netip.MustParseAddrPort("192.0.2.2:500")
	src := natHash(1, 0, remote)
	dst := natHash(1, 0, local)
	if r := detectNAT(1, 0, local, remote, [][]byte{src[:]}, dst[:]); r.Any() {
		t.Errorf("direct link reported NAT: %+v", r)
	}
	natted := netip.MustParseAddrPort("198.51.100.9:4711")
	if r := detectNAT(1, 0, local, natted, [][]byte{src[:]}, dst[:]); !r.RemoteBehind || r.LocalBehind {
		t.Errorf("peer behind NAT: %+v", r)
	}
	if r := detectNAT(1, 0, netip.MustParseAddrPort("203.0.113.1:500"), remote, [][]byte{src[:]}, dst[:]); !r.LocalBehind || r.RemoteBehind {
		t.Errorf("us behind NAT: %+v", r)
	}
	// Several source hashes: one match suffices (multi-homed peer).
	other := natHash(1, 0, natted)
	if r := detectNAT(1, 0, local, remote, [][]byte{other[:], src[:]}, nil); r.Any() {
		t.Errorf("multi-homed peer reported NAT: %+v", r)
	}
	// IPv6 and the SPIr field matter.
	v6 := netip.MustParseAddrPort("[2001:db8::1]:500")
	if natHash(1, 0, v6) == natHash(1, 2, v6) || natHash(1, 0, v6) == natHash(1, 0, remote) {
		t.Error("hash ignores SPIr or address")
	}
}
