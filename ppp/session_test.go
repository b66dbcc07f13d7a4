package ppp

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/goipsec/ipsec"
	"github.com/goipsec/ipsec/internal/mschapv2"
)

var (
	testLocal = netip.MustParseAddr("198.51.100.1")
	testDNS   = []netip.Addr{netip.MustParseAddr("192.0.2.53"), netip.MustParseAddr("192.0.2.54")}
)

// harness holds a server session, its link, pool and what its callbacks saw.
type harness struct {
	s    *Session
	link *testLink
	pool *ipsec.Pool

	mu        sync.Mutex
	delivered [][]byte
	ups       int
	downs     int
}

func (h *harness) counts() (ups, downs, delivered int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.ups, h.downs, len(h.delivered)
}

func testUsers() *ipsec.Users {
	return ipsec.NewUsers(
		ipsec.User{Name: "User", Password: ipsec.Secret("clientPass")},
		ipsec.User{Name: "alice", Password: ipsec.Secret("wonderland")},
		ipsec.User{Name: "hashonly", NTHash: ipsec.Secret(mschapv2.NTHash([]byte("hashed")))},
	)
}

func newHarness(t *testing.T, mod func(*Config)) *harness {
	t.Helper()
	pool, err := ipsec.NewPool(netip.MustParsePrefix("198.51.100.0/24"))
	if err != nil {
		t.Fatal(err)
	}
	pool.Reserve(testLocal)
	h := &harness{link: &testLink{}, pool: pool}
	cfg := &Config{
		Users: testUsers(), Pool: pool, LocalAddr: testLocal, DNS: testDNS,
		DeliverIP: func(_ *Session, pkt []byte) {
			h.mu.Lock()
			h.delivered = append(h.delivered, bytes.Clone(pkt))
			h.mu.Unlock()
		},
		OnUp:   func(*Session) { h.mu.Lock(); h.ups++; h.mu.Unlock() },
		OnDown: func(*Session) { h.mu.Lock(); h.downs++; h.mu.Unlock() },
	}
	if mod != nil {
		mod(cfg)
	}
	h.s, err = NewSession(h.link, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func (h *harness) client(t *testing.T) *tclient {
	return &tclient{
		t: t, s: h.s, link: h.link,
		lcpReq: appendOption32(nil, lcpMagic, 0x11223344),
		accept: []AuthProtocol{AuthMSCHAPv2, AuthCHAPMD5, AuthPAP},
		user:   "User", pass: "clientPass",
		ipcpReq: appendOption(nil, ipcpAddress, 0, 0, 0, 0),
	}
}

// ipv4 builds a minimal IPv4 header from src to dst.
func ipv4(src, dst netip.Addr, n int) []byte {
	p := make([]byte, n)
	p[0] = 0x45
	p[2], p[3] = byte(n>>8), byte(n)
	s, d := src.As4(), dst.As4()
	copy(p[12:], s[:])
	copy(p[16:], d[:])
	return p
}

func up(t *testing.T, h *harness, c *tclient) {
	t.Helper()
	c.start()
	if !c.authOK || !c.ipcpAckRcvd || !c.ipcpAckSent {
		t.Fatalf("not up: auth %v (%q) ipcp %v/%v\n%s", c.authOK, c.authFail, c.ipcpAckRcvd, c.ipcpAckSent, strings.Join(c.trace, "\n"))
	}
	if in := h.s.Info(); in.IPCP != StateOpened || in.LCP != StateOpened || in.Phase != PhaseNetwork {
		t.Fatalf("info %+v", in)
	}
}

// TestMSCHAPv2Vector runs a whole session with RFC 2759 section 9.2's
// challenges: the server must accept the vector's NT-Response and answer
// with its authenticator response.
func TestMSCHAPv2Vector(t *testing.T) {
	vs, err := mschapv2.LoadVectors("../internal/mschapv2/testdata/mschapv2_rfc2759_rfc3079.json")
	if err != nil {
		t.Fatal(err)
	}
	v := vs[0]
	auth, _ := hex.DecodeString(v.AuthenticatorChallenge)
	peer, _ := hex.DecodeString(v.PeerChallenge)
	synctest.Test(t, func(t *testing.T) {
		// Server randomness: the LCP magic number, then the challenge.
		h := newHarness(t, func(c *Config) { c.Rand = bytes.NewReader(append([]byte{1, 2, 3, 4}, auth...)) })
		c := h.client(t)
		c.user, c.pass, c.peerChallenge = v.Username, v.Password, peer
		c.ipcpReq = appendOption(appendOption(c.ipcpReq, ipcpDNS1, 0, 0, 0, 0), ipcpDNS2, 0, 0, 0, 0)
		up(t, h, c)
		if !bytes.Equal(c.lastChal, auth) {
			t.Errorf("challenge %x, want the vector's", c.lastChal)
		}
		if want := v.AuthenticatorResponse + " M=Welcome"; c.successMsg != want {
			t.Errorf("success message %q, want %q", c.successMsg, want)
		}
		in := h.s.Info()
		if in.User != "User" || in.Auth != AuthMSCHAPv2 || !h.pool.Prefix().Contains(in.Addr4) || in.Addr4 == testLocal {
			t.Errorf("info %+v", in)
		}
		if c.addr() != in.Addr4 || c.dns(ipcpDNS1) != testDNS[0] || c.dns(ipcpDNS2) != testDNS[1] {
			t.Errorf("client has addr %v dns %v %v, want %v %v", c.addr(), c.dns(ipcpDNS1), c.dns(ipcpDNS2), in.Addr4, testDNS)
		}
		if ups, _, _ := h.counts(); ups != 1 {
			t.Errorf("OnUp called %d times", ups)
		}
		if h.pool.Leases()[in.Addr4] != "User" {
			t.Errorf("leases %v", h.pool.Leases())
		}
		// The trace starts like pppd's: our LCP request with MRU, auth, magic.
		if !strings.HasPrefix(c.trace[1], "S LCP ConfReq id=1 [1:0578 3:c22381 5:01020304]") {
			t.Errorf("first server frame %q", c.trace[1])
		}
	})
}

func TestAuthLadders(t *testing.T) {
	for _, tc := range []struct {
		name   string
		auth   []AuthProtocol // server's list (nil: default)
		accept []AuthProtocol // the client's
		user   string
		pass   string
		want   AuthProtocol
	}{
		{"mschapv2", nil, []AuthProtocol{AuthMSCHAPv2}, "alice", "wonderland", AuthMSCHAPv2},
		{"mschapv2 domain user", nil, []AuthProtocol{AuthMSCHAPv2}, `CORP\alice`, "wonderland", AuthMSCHAPv2},
		{"mschapv2 nt hash", nil, []AuthProtocol{AuthMSCHAPv2}, "hashonly", "hashed", AuthMSCHAPv2},
		{"chap after nak", nil, []AuthProtocol{AuthCHAPMD5}, "alice", "wonderland", AuthCHAPMD5},
		{"pap listed", []AuthProtocol{AuthPAP}, []AuthProtocol{AuthPAP}, "alice", "wonderland", AuthPAP},
		{"pap after two naks", []AuthProtocol{AuthMSCHAPv2, AuthCHAPMD5, AuthPAP}, []AuthProtocol{AuthPAP}, "alice", "wonderland", AuthPAP},
		{"pap nt hash", []AuthProtocol{AuthPAP}, []AuthProtocol{AuthPAP}, "hashonly", "hashed", AuthPAP},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := newHarness(t, func(c *Config) { c.Auth = tc.auth })
				c := h.client(t)
				c.accept, c.user, c.pass = tc.accept, tc.user, tc.pass
				up(t, h, c)
				if in := h.s.Info(); in.Auth != tc.want || in.User != tc.user {
					t.Errorf("auth %v user %q, want %v %q", in.Auth, in.User, tc.want, tc.user)
				}
			})
		})
	}
}

// TestNoCommonAuth: a client that accepts none of the server's methods
// (PAP is not offered by default) ends with LCP terminated.
func TestNoCommonAuth(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, nil)
		c := h.client(t)
		c.accept = []AuthProtocol{AuthPAP}
		c.start()
		if c.authOK || c.termReqs == 0 {
			t.Fatalf("auth %v term %d\n%s", c.authOK, c.termReqs, strings.Join(c.trace, "\n"))
		}
		synctest.Wait()
		if _, downs, _ := h.counts(); downs != 1 || h.link.closes() != 1 {
			t.Errorf("downs %d link closes %d", downs, h.link.closes())
		}
	})
}

func TestWrongPassword(t *testing.T) {
	for _, tc := range []struct {
		name string
		auth []AuthProtocol
		user string
	}{
		{"mschapv2", []AuthProtocol{AuthMSCHAPv2}, "alice"},
		{"mschapv2 unknown user", []AuthProtocol{AuthMSCHAPv2}, "mallory"},
		{"chap", []AuthProtocol{AuthCHAPMD5}, "alice"},
		{"chap hash-only user", []AuthProtocol{AuthCHAPMD5}, "hashonly"},
		{"pap", []AuthProtocol{AuthPAP}, "alice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var logs bytes.Buffer
				h := newHarness(t, func(c *Config) {
					c.Auth = tc.auth
					c.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
				})
				c := h.client(t)
				c.user, c.pass = tc.user, "s3cret-guess"
				c.start()
				if c.authOK || c.authFail == "" || c.termReqs == 0 {
					t.Fatalf("auth %v fail %q term %d\n%s", c.authOK, c.authFail, c.termReqs, strings.Join(c.trace, "\n"))
				}
				if tc.auth[0] == AuthMSCHAPv2 {
					f := strings.Fields(c.authFail)
					if len(f) < 4 || f[0] != "E=691" || f[1] != "R=0" || !strings.HasPrefix(f[2], "C=") || len(f[2]) != 34 || f[3] != "V=3" {
						t.Errorf("failure message %q", c.authFail)
					}
				}
				// Nothing beyond LCP before success: the IPCP request the
				// client sends anyway is dropped.
				c.send(protoIPCP, codeConfReq, 99, c.ipcpReq)
				for _, f := range h.link.take() {
					if p, _, _ := parseProtocol(f); p != protoLCP {
						t.Errorf("server answered %s", describe(f))
					}
				}
				synctest.Wait()
				ups, downs, _ := h.counts()
				if ups != 0 || downs != 1 || h.link.closes() != 1 || len(h.pool.Leases()) != 0 {
					t.Errorf("ups %d downs %d closes %d leases %v", ups, downs, h.link.closes(), h.pool.Leases())
				}
				for _, secret := range []string{"s3cret-guess", "wonderland", "clientPass"} {
					if strings.Contains(logs.String(), secret) {
						t.Errorf("log reveals %q:\n%s", secret, logs.String())
					}
				}
				if !strings.Contains(logs.String(), "authentication failed") {
					t.Errorf("no failure logged:\n%s", logs.String())
				}
			})
		})
	}
}

// TestMSCHAPv2Retry: with two attempts allowed the Failure says R=1 and
// the client's second Response, over the C= challenge, succeeds.
func TestMSCHAPv2Retry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, func(c *Config) { c.AuthRetries = 2 })
		c := h.client(t)
		c.user, c.pass = "alice", "wrong"
		c.start()
		if !strings.Contains(c.authFail, " R=1 ") || c.termReqs != 0 {
			t.Fatalf("failure %q term %d", c.authFail, c.termReqs)
		}
		i := strings.Index(c.authFail, "C=")
		chal, err := hex.DecodeString(c.authFail[i+2 : i+34])
		if err != nil {
			t.Fatal(err)
		}
		c.pass = "wonderland"
		c.chapRespond(c.lastChalID+1, chal)
		c.pump()
		if !c.authOK || !c.ipcpAckRcvd {
			t.Fatalf("retry failed\n%s", strings.Join(c.trace, "\n"))
		}
	})
}

// TestApple replays macOS's sequence (CLIENTS.md 8.2): asyncmap, magic,
// pcomp, accomp; IPCP with address and both DNS at zero; IPV6CP though
// the server runs no IPv6; ACSCP (0x8235). The last two get a
// Protocol-Reject and the link stays up.
func TestApple(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, nil)
		c := h.client(t)
		c.lcpReq = appendOption32(nil, lcpACCM, 0)
		c.lcpReq = appendOption32(c.lcpReq, lcpMagic, 0x5e1f0a0b)
		c.lcpReq = appendOption(c.lcpReq, lcpPFC)
		c.lcpReq = appendOption(c.lcpReq, lcpACFC)
		c.ipcpReq = appendOption(appendOption(appendOption(nil, ipcpAddress, 0, 0, 0, 0), ipcpDNS1, 0, 0, 0, 0), ipcpDNS2, 0, 0, 0, 0)
		c.afterAuth = [][]byte{
			appendPacket(nil, protoIPV6CP, codeConfReq, 1, appendOption(nil, ipv6cpIID, 1, 2, 3, 4, 5, 6, 7, 8)),
			appendPacket(nil, protoACSCP, codeConfReq, 1, []byte{1, 6, 0, 0, 0, 1, 2, 6, 0, 0, 0, 1}),
		}
		up(t, h, c)
		if !slices.Equal(c.protoRejects, []uint16{protoIPV6CP, protoACSCP}) {
			t.Errorf("protocol rejects %#x\n%s", c.protoRejects, strings.Join(c.trace, "\n"))
		}
		if c.dns(ipcpDNS1) != testDNS[0] || c.dns(ipcpDNS2) != testDNS[1] || !c.addr().IsValid() {
			t.Errorf("addr %v dns %v %v", c.addr(), c.dns(ipcpDNS1), c.dns(ipcpDNS2))
		}
		// PFC: the client may now send data with a one-octet protocol.
		pkt := ipv4(c.addr(), testLocal, 28)
		h.s.HandleFrame(append([]byte{0x21}, pkt...))
		if _, _, n := h.counts(); n != 1 {
			t.Errorf("compressed-protocol packet not delivered")
		}
		if in := h.s.Info(); in.Stats.ProtocolRejects != 2 || in.LCP != StateOpened || in.MRU != defaultPeerMRU {
			t.Errorf("info %+v", in)
		}
	})
}

// TestWindows: MRU, magic, PFC, ACFC and callback (rejected); a
// DOMAIN\user; IPCP asking for address, DNS and NBNS.
func TestWindows(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, nil)
		c := h.client(t)
		c.user = `WORKGROUP\User`
		c.lcpReq = appendOption16(nil, lcpMRU, 1400)
		c.lcpReq = appendOption32(c.lcpReq, lcpMagic, 0x0badcafe)
		c.lcpReq = appendOption(c.lcpReq, lcpPFC)
		c.lcpReq = appendOption(c.lcpReq, lcpACFC)
		c.lcpReq = appendOption(c.lcpReq, 13, 6) // callback (CBCP)
		var z = []byte{0, 0, 0, 0}
		c.ipcpReq = appendOption(nil, ipcpAddress, z...)
		for _, o := range []uint8{ipcpDNS1, ipcpNBNS1, ipcpDNS2, ipcpNBNS2} {
			c.ipcpReq = appendOption(c.ipcpReq, o, z...)
		}
		up(t, h, c)
		if c.opt(c.ipcpReq, ipcpNBNS1) != nil || c.opt(c.ipcpReq, ipcpNBNS2) != nil || c.opt(c.lcpReq, 13) != nil {
			t.Errorf("NBNS or callback not rejected: ipcp %x lcp %x", c.ipcpReq, c.lcpReq)
		}
		if c.dns(ipcpDNS1) != testDNS[0] || c.dns(ipcpDNS2) != testDNS[1] {
			t.Errorf("dns %v %v", c.dns(ipcpDNS1), c.dns(ipcpDNS2))
		}
		if in := h.s.Info(); in.MRU != 1400 || in.User != `WORKGROUP\User` {
			t.Errorf("info %+v", in)
		}
	})
}

// TestAndroidCCP: a client without noccp offers CCP (MPPE); it gets a
// Protocol-Reject and continues without it.
func TestAndroidCCP(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, nil)
		c := h.client(t)
		c.lcpReq = appendOption16(appendOption32(nil, lcpMagic, 7), lcpMRU, 1400)
		c.afterAuth = [][]byte{appendPacket(nil, protoCCP, codeConfReq, 1, appendOption32(nil, 18, 0x01000040))}
		up(t, h, c)
		if !slices.Equal(c.protoRejects, []uint16{protoCCP}) {
			t.Errorf("protocol rejects %#x", c.protoRejects)
		}
	})
}

// TestRequestedAddress: a client asking for a free pool address gets it;
// one outside the pool gets a lease instead.
func TestRequestedAddress(t *testing.T) {
	for _, tc := range []struct {
		ask  string
		want func(netip.Addr) bool
	}{
		{"198.51.100.77", func(a netip.Addr) bool { return a == netip.MustParseAddr("198.51.100.77") }},
		{"203.0.113.9", func(a netip.Addr) bool { return netip.MustParsePrefix("198.51.100.0/24").Contains(a) }},
	} {
		synctest.Test(t, func(t *testing.T) {
			h := newHarness(t, nil)
			c := h.client(t)
			a := netip.MustParseAddr(tc.ask).As4()
			c.ipcpReq = appendOption(nil, ipcpAddress, a[:]...)
			up(t, h, c)
			if got := h.s.Info().Addr4; !tc.want(got) || c.addr() != got {
				t.Errorf("asked %s, got %v (client %v)", tc.ask, got, c.addr())
			}
		})
	}
}

// TestNoAddressOption: a client whose IPCP request names no address is
// told its address by a Nak.
func TestNoAddressOption(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, nil)
		c := h.client(t)
		c.ipcpReq = []byte{}
		up(t, h, c)
		if !c.addr().IsValid() || c.addr() != h.s.Info().Addr4 {
			t.Errorf("client address %v", c.addr())
		}
	})
}

func TestDataPath(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, nil)
		c := h.client(t)
		pkt := ipv4(netip.MustParseAddr("198.51.100.200"), testLocal, 40)
		if err := h.s.WriteIP(pkt); err != ErrNotOpen {
			t.Errorf("WriteIP before IPCP: %v", err)
		}
		h.s.HandleFrame(appendPacket(nil, protoIPv4, 0x45, 0, make([]byte, 30))) // before IPCP
		up(t, h, c)
		me := c.addr()
		h.link.take()
		h.s.HandleFrame(append([]byte{0, 0x21}, ipv4(me, testLocal, 60)...))
		h.s.HandleFrame(append([]byte{0, 0x21}, ipv4(netip.MustParseAddr("198.51.100.99"), testLocal, 60)...)) // spoofed
		h.s.HandleFrame(append([]byte{0, 0x21}, 0x45, 0))                                                      // truncated
		if _, _, n := h.counts(); n != 1 {
			t.Errorf("delivered %d packets", n)
		}
		if err := h.s.WriteIP(ipv4(testLocal, me, 100)); err != nil {
			t.Fatal(err)
		}
		out := h.link.take()
		if len(out) != 1 || !bytes.Equal(out[0][:2], []byte{0, 0x21}) || len(out[0]) != 102 {
			t.Errorf("sent %x", out)
		}
		if err := h.s.WriteIP(make([]byte, 1600)); err != ErrNotIP {
			t.Errorf("zero packet: %v", err)
		}
		big := ipv4(testLocal, me, 1600)
		if err := h.s.WriteIP(big); err != ErrTooBig {
			t.Errorf("1600 bytes: %v", err)
		}
		in := h.s.Info()
		if in.Stats.PacketsIn != 1 || in.Stats.Spoofed != 1 || in.Stats.Malformed != 1 || in.Stats.PacketsOut != 1 || in.Stats.BytesOut != 100 || in.Stats.Dropped == 0 {
			t.Errorf("stats %+v", in.Stats)
		}
		// IPv6 is off: IPv6 data gets a Protocol-Reject.
		h.s.HandleFrame(append([]byte{0, 0x57}, make([]byte, 40)...))
		if out := h.link.take(); len(out) != 1 || !strings.Contains(describe(out[0]), "ProtRej") {
			t.Errorf("IPv6 frame answered with %d frames", len(out))
		}
		addr := in.Addr4
		h.s.Close()
		h.s.Close()
		if ups, downs, _ := h.counts(); ups != 1 || downs != 1 {
			t.Errorf("ups %d downs %d", ups, downs)
		}
		if _, ok := h.pool.Leases()[addr]; ok {
			t.Errorf("lease %v not released", addr)
		}
		if err := h.s.WriteIP(ipv4(testLocal, me, 100)); err != ErrClosed {
			t.Errorf("WriteIP after Close: %v", err)
		}
		if out := h.link.take(); len(out) != 1 || !strings.Contains(describe(out[0]), "LCP TermReq") {
			t.Errorf("Close sent %d frames", len(out))
		}
		h.s.HandleFrame(append([]byte{0, 0x21}, ipv4(me, testLocal, 60)...))
		if _, _, n := h.counts(); n != 1 {
			t.Errorf("delivered after Close")
		}
	})
}

// TestIPv6 negotiates interface identifiers and delivers link-local traffic.
func TestIPv6(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, func(c *Config) { c.IPv6 = true })
		c := h.client(t)
		c.ipv6cpReq = appendOption(nil, ipv6cpIID, 0, 0, 0, 0, 0, 0, 0, 0) // zero: the server suggests one
		up(t, h, c)
		if !c.ip6AckRcvd || !c.ip6AckSent {
			t.Fatalf("IPV6CP not up\n%s", strings.Join(c.trace, "\n"))
		}
		in := h.s.Info()
		iid := c.opt(c.ipv6cpReq, ipv6cpIID)
		if !in.Addr6.IsLinkLocalUnicast() || !bytes.Equal(in.Addr6.AsSlice()[8:], iid) || bytes.Equal(iid, make([]byte, 8)) {
			t.Errorf("addr6 %v iid %x", in.Addr6, iid)
		}
		pkt := make([]byte, 48)
		pkt[0] = 0x60
		copy(pkt[8:], in.Addr6.AsSlice())
		h.s.HandleFrame(append([]byte{0, 0x57}, pkt...))
		pkt[20] ^= 1
		h.s.HandleFrame(append([]byte{0, 0x57}, pkt...))
		if _, _, n := h.counts(); n != 1 || h.s.Info().Stats.Spoofed != 1 {
			t.Errorf("delivered %d, stats %+v", n, h.s.Info().Stats)
		}
		if err := h.s.WriteIP(pkt); err != nil {
			t.Errorf("WriteIP v6: %v", err)
		}
	})
}

// TestEmptyConfigureRequest: a client that had all its options rejected
// sends an empty request, which must be acked.
func TestEmptyConfigureRequest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, nil)
		c := h.client(t)
		c.lcpReq = appendOption(appendOption(nil, 13, 6), 17, 5, 0xdc) // callback and MRRU only
		up(t, h, c)
		if len(c.lcpReq) != 0 {
			t.Errorf("client still asks %x", c.lcpReq)
		}
	})
}

// TestMagicLoop: a request carrying our own magic number is Naked with a
// fresh one (RFC 1661 section 6.4).
func TestMagicLoop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, func(c *Config) { c.Rand = bytes.NewReader([]byte{9, 9, 9, 9}) })
		h.link.take()
		h.s.HandleFrame(appendPacket(nil, protoLCP, codeConfReq, 1, appendOption32(nil, lcpMagic, 0x09090909)))
		out := h.link.take()
		if len(out) != 1 || !strings.HasPrefix(describe(out[0]), "LCP ConfNak id=1 [5:") || strings.Contains(describe(out[0]), "5:09090909") {
			t.Errorf("answer %q", describe(out[0]))
		}
	})
}

// TestRetransmission: the client loses the server's first LCP request and
// its first CHAP challenge; the Restart timer resends them.
func TestRetransmission(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, nil)
		c := h.client(t)
		lost := map[string]bool{}
		c.lose = func(out bool, b []byte) bool {
			d := describe(b)
			for _, k := range []string{"S LCP ConfReq", "S CHAP Challenge"} {
				if !out && strings.HasPrefix("S "+d, k) && !lost[k] {
					lost[k] = true
					return true
				}
			}
			return false
		}
		c.start()
		if c.lcpAckSent {
			t.Fatal("first request not lost")
		}
		time.Sleep(DefaultRestartTimer)
		synctest.Wait()
		c.pump()
		if c.authOK {
			t.Fatal("challenge not lost")
		}
		time.Sleep(DefaultRestartTimer)
		synctest.Wait()
		c.pump()
		if !c.authOK || !c.ipcpAckRcvd {
			t.Fatalf("not up after retransmissions\n%s", strings.Join(c.trace, "\n"))
		}
	})
}

// TestMaxConfigure: a silent client gets Max-Configure requests, then the
// session ends.
func TestMaxConfigure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, nil)
		time.Sleep(time.Duration(DefaultMaxConfigure+1) * DefaultRestartTimer)
		synctest.Wait()
		reqs := 0
		for _, f := range h.link.take() {
			if strings.HasPrefix(describe(f), "LCP ConfReq") {
				reqs++
			}
		}
		if reqs != DefaultMaxConfigure {
			t.Errorf("%d requests, want %d", reqs, DefaultMaxConfigure)
		}
		if _, downs, _ := h.counts(); downs != 1 || h.link.closes() != 1 || h.s.Info().Phase != PhaseDead {
			t.Errorf("downs %d closes %d info %+v", downs, h.link.closes(), h.s.Info())
		}
	})
}

// TestEcho: answered echoes keep the link, unanswered ones end it after
// EchoFailures; the client's echo is answered with our magic.
func TestEcho(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, func(c *Config) { c.EchoInterval = 10 * time.Second; c.EchoFailures = 3 })
		c := h.client(t)
		up(t, h, c)
		c.send(protoLCP, codeEchoReq, 42, []byte{0, 0, 0, 7, 'h', 'i'})
		c.pump()
		if c.echoReplies != 1 {
			t.Errorf("echo replies %d", c.echoReplies)
		}
		for range 5 {
			time.Sleep(10 * time.Second)
			synctest.Wait()
			c.pump() // answers
		}
		if h.s.Info().Phase != PhaseNetwork || h.s.Info().Stats.EchoReplies != 5 {
			t.Fatalf("link down although echoes were answered: %+v", h.s.Info())
		}
		c.lose = func(out bool, b []byte) bool { return strings.Contains(describe(b), "Echo") }
		for range 6 {
			time.Sleep(10 * time.Second)
			synctest.Wait()
			c.pump()
		}
		time.Sleep(10 * DefaultRestartTimer)
		synctest.Wait()
		if _, downs, _ := h.counts(); downs != 1 || c.termReqs == 0 {
			t.Errorf("downs %d term %d", downs, c.termReqs)
		}
	})
}

// TestClientTerminates: the client's Terminate-Request is acked and the
// session ends after the Restart timer.
func TestClientTerminates(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, nil)
		c := h.client(t)
		up(t, h, c)
		c.send(protoLCP, codeTermReq, 77, nil)
		if out := h.link.take(); len(out) != 1 || !strings.HasPrefix(describe(out[0]), "LCP TermAck id=77") {
			t.Fatalf("answer %d frames", len(out))
		}
		time.Sleep(DefaultRestartTimer + time.Second)
		synctest.Wait()
		if _, downs, _ := h.counts(); downs != 1 || len(h.pool.Leases()) != 0 {
			t.Errorf("downs %d leases %v", downs, h.pool.Leases())
		}
	})
}

// TestHostileFrames: truncated options, lying lengths, option floods,
// unknown codes: no panic, counted, the link still works.
func TestHostileFrames(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, nil)
		c := h.client(t)
		up(t, h, c)
		flood := make([]byte, 0, 1500)
		for len(flood) < 1400 {
			flood = append(flood, 99, 2)
		}
		bad := [][]byte{
			{},
			{0x00},
			{0xc0},
			{0xc0, 0x20, 1, 1, 0, 4},                // even second octet
			{0xc0, 0x21, 1},                         // short header
			{0xc0, 0x21, 1, 1, 0, 40, 1, 4},         // length past the end
			{0xc0, 0x21, 1, 1, 0, 3},                // length below header
			{0xc0, 0x21, 1, 1, 0, 7, 1, 4, 5},       // option past the end
			{0xc0, 0x21, 1, 1, 0, 6, 5, 0},          // option length 0
			{0xc0, 0x21, 1, 1, 0, 6, 5, 1},          // option length 1
			{0xc0, 0x21, 8, 1, 0, 5, 0xc0},          // short Protocol-Reject
			{0xc0, 0x21, 9, 1, 0, 6, 0, 0},          // short Echo-Request
			{0xc0, 0x21, 7, 1, 0, 6, 0, 0},          // short Code-Reject
			{0xc2, 0x23, 2, 1, 0, 8, 200, 1, 2, 3},  // CHAP after success, bad size
			{0x80, 0x21, 1, 5, 0, 0x0a, 3, 6, 0, 0}, // IPCP option past the end
			appendPacket(nil, protoLCP, codeConfReq, 9, flood), // 700 unknown options
		}
		for _, f := range bad {
			h.s.HandleFrame(f)
		}
		c.pump()
		in := h.s.Info()
		if in.Stats.Malformed < 10 {
			t.Errorf("malformed %d, want at least 10 (stats %+v)", in.Stats.Malformed, in.Stats)
		}
		// An unknown LCP code gets a Code-Reject.
		h.link.take()
		h.s.HandleFrame(appendPacket(nil, protoLCP, 200, 3, []byte("xyz")))
		if out := h.link.take(); len(out) != 1 || !strings.HasPrefix(describe(out[0]), "LCP CodeRej") {
			t.Errorf("unknown code answered with %d frames", len(out))
		}
	})
}

func TestConfigValidation(t *testing.T) {
	for _, cfg := range []*Config{
		nil,
		{},
		{Users: testUsers(), Auth: []AuthProtocol{9}},
		{Users: testUsers(), Auth: []AuthProtocol{AuthPAP, AuthPAP}},
		{Users: testUsers(), LocalAddr: netip.MustParseAddr("2001:db8::1")},
		{Users: testUsers(), DNS: []netip.Addr{netip.MustParseAddr("2001:db8::53")}},
		{Users: testUsers(), MRU: 50},
	} {
		if _, err := NewSession(&testLink{}, cfg); err == nil {
			t.Errorf("%+v accepted", cfg)
		}
	}
	if _, err := NewSession(nil, &Config{Users: testUsers()}); err == nil {
		t.Error("nil link accepted")
	}
}

func TestStringHidesSecrets(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, nil)
		c := h.client(t)
		up(t, h, c)
		s := h.s.String() + " " + AuthMSCHAPv2.String() + " " + StateOpened.String() + " " + PhaseNetwork.String()
		if strings.Contains(s, "clientPass") || !strings.Contains(s, `"User"`) {
			t.Errorf("String %q", s)
		}
	})
}

// TestNoAddress: without a pool or a fixed address for the user IPCP
// cannot open, and without IPv6 the link ends.
func TestNoAddress(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, func(c *Config) { c.Pool = nil })
		c := h.client(t)
		c.start()
		if c.ipcpAckRcvd && c.ipcpAckSent || c.termReqs == 0 {
			t.Fatalf("ipcp %v/%v term %d\n%s", c.ipcpAckRcvd, c.ipcpAckSent, c.termReqs, strings.Join(c.trace, "\n"))
		}
		synctest.Wait()
		if ups, downs, _ := h.counts(); ups != 0 || downs != 1 {
			t.Errorf("ups %d downs %d", ups, downs)
		}
	})
}

// TestFixedAddress: a user's own address wins over the pool.
func TestFixedAddress(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fixed := netip.MustParseAddr("203.0.113.7")
		h := newHarness(t, func(c *Config) {
			c.Users = ipsec.NewUsers(ipsec.User{Name: "User", Password: ipsec.Secret("clientPass"), Addresses: []netip.Addr{netip.MustParseAddr("2001:db8::7"), fixed}})
		})
		c := h.client(t)
		up(t, h, c)
		if got := h.s.Info().Addr4; got != fixed || c.addr() != fixed || len(h.pool.Leases()) != 0 {
			t.Errorf("addr %v client %v leases %v", got, c.addr(), h.pool.Leases())
		}
		h.s.Close()
	})
}

// TestClientRejectsIPCP: a client that Protocol-Rejects IPCP (IPv6-only)
// while IPV6CP is up keeps the link; the IPCP state goes to Stopped.
func TestClientRejectsIPCP(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, func(c *Config) { c.IPv6 = true })
		c := h.client(t)
		c.ipv6cpReq = appendOption(nil, ipv6cpIID, 1, 2, 3, 4, 5, 6, 7, 8)
		up(t, h, c)
		c.send(protoLCP, codeProtoRej, 50, []byte{0x80, 0x21, 1, 1, 0, 4})
		c.pump()
		// RFC 1661 RXJ- in Opened: Terminate-Request, then Stopped after
		// the Restart timer (the client will not answer).
		time.Sleep(3 * DefaultRestartTimer)
		synctest.Wait()
		c.pump()
		in := h.s.Info()
		if in.IPCP != StateStopped || in.IPV6CP != StateOpened || in.LCP != StateOpened {
			t.Errorf("info %+v", in)
		}
		// The last NCP gone: the link ends.
		c.send(protoLCP, codeProtoRej, 51, []byte{0x80, 0x57, 1, 1, 0, 4})
		c.pump()
		time.Sleep(3 * DefaultRestartTimer)
		synctest.Wait()
		c.pump()
		if c.termReqs == 0 {
			t.Errorf("no Terminate-Request after both NCPs were rejected")
		}
	})
}

// TestCodeReject: a Code-Reject of an echo is tolerated (RXJ+); one of a
// Configure-Request ends LCP (RXJ-).
func TestCodeReject(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, nil)
		c := h.client(t)
		up(t, h, c)
		c.send(protoLCP, codeCodeRej, 60, []byte{codeEchoReq, 1, 0, 8, 0, 0, 0, 0})
		c.pump()
		if in := h.s.Info(); in.LCP != StateOpened {
			t.Fatalf("RXJ+ took LCP to %v", in.LCP)
		}
		c.send(protoLCP, codeCodeRej, 61, []byte{codeConfReq, 1, 0, 4})
		c.pump()
		if c.termReqs == 0 {
			t.Errorf("RXJ- sent no Terminate-Request")
		}
	})
}

// TestLCPRenegotiation: a new LCP Configure-Request in Opened takes the
// link back through authentication; a different user is refused.
func TestLCPRenegotiation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, nil)
		c := h.client(t)
		up(t, h, c)
		c.authOK, c.lcpAckRcvd, c.lcpAckSent = false, false, false
		c.user, c.pass = "alice", "wonderland"
		c.send(protoLCP, codeConfReq, c.nextID(), c.lcpReq)
		c.pump()
		if c.termReqs == 0 {
			t.Errorf("another user took over the link\n%s", strings.Join(c.trace, "\n"))
		}
	})
}

// TestLossyLadder loses a fifth of the frames in both directions (seeded)
// and checks that the restart timers of both sides bring the session up,
// for each authentication protocol.
func TestLossyLadder(t *testing.T) {
	for _, auth := range []AuthProtocol{AuthMSCHAPv2, AuthCHAPMD5, AuthPAP} {
		for seed := range uint64(8) {
			t.Run(fmt.Sprintf("%v/%d", auth, seed), func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					h := newHarness(t, func(c *Config) { c.Auth = []AuthProtocol{auth}; c.MaxConfigure = 30 })
					c := h.client(t)
					rng := rand.New(rand.NewPCG(seed, 19))
					lost := 0
					c.lose = func(bool, []byte) bool {
						if rng.IntN(5) == 0 {
							lost++
							return true
						}
						return false
					}
					c.start()
					for range 60 {
						if c.ipcpAckRcvd && c.authOK && h.s.Info().IPCP == StateOpened {
							break
						}
						time.Sleep(DefaultRestartTimer)
						synctest.Wait()
						c.retransmit()
						c.pump()
					}
					in := h.s.Info()
					if !c.authOK || in.IPCP != StateOpened || c.addr() != in.Addr4 {
						t.Fatalf("not up after %d losses: %+v\n%s", lost, in, strings.Join(c.trace, "\n"))
					}
					if ups, downs, _ := h.counts(); ups != 1 || downs != 0 {
						t.Errorf("ups %d downs %d", ups, downs)
					}
					h.s.Close()
				})
			})
		}
	}
}

// lcpRequest returns the description of the last LCP Configure-Request
// among frames.
func lastRequest(frames [][]byte, proto string) (string, packet) {
	var d string
	var p packet
	for _, f := range frames {
		if x := describe(f); strings.HasPrefix(x, proto+" ConfReq") {
			d = x
			_, info, _ := parseProtocol(f)
			p, _ = parsePacket(info)
		}
	}
	return d, p
}

// TestClientRefusesOurLCPOptions: Naks and Rejects of our MRU, magic and
// authentication change our next request as RFC 1661 section 5 says.
func TestClientRefusesOurLCPOptions(t *testing.T) {
	for _, tc := range []struct {
		name  string
		code  uint8
		opts  []byte
		want  string // the next request, by describe
		ended bool   // LCP is closed instead
	}{
		{"nak smaller MRU", codeConfNak, appendOption16(nil, lcpMRU, 1280), "LCP ConfReq id=2 [1:0500 3:c22381 5:01020304]", false},
		{"nak larger MRU", codeConfNak, appendOption16(nil, lcpMRU, 1500), "LCP ConfReq id=2 [3:c22381 5:01020304]", false},
		{"reject MRU and magic", codeConfRej, append(appendOption16(nil, lcpMRU, 1400), appendOption32(nil, lcpMagic, 0x01020304)...), "LCP ConfReq id=2 [3:c22381]", false},
		{"nak magic", codeConfNak, appendOption32(nil, lcpMagic, 0x0a0b0c0d), "LCP ConfReq id=2 [1:0578 3:c22381 5:05060708]", false},
		{"nak auth with chap-md5", codeConfNak, appendAuth(nil, AuthCHAPMD5), "LCP ConfReq id=2 [1:0578 3:c22305 5:01020304]", false},
		{"nak auth with eap", codeConfNak, appendOption16(nil, lcpAuth, 0xc227), "LCP ConfReq id=2 [1:0578 3:c22305 5:01020304]", false},
		{"reject auth", codeConfRej, appendAuth(nil, AuthMSCHAPv2), "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := newHarness(t, func(c *Config) { c.Rand = bytes.NewReader([]byte{1, 2, 3, 4, 5, 6, 7, 8}) })
				h.link.take()
				h.s.HandleFrame(appendPacket(nil, protoLCP, tc.code, 1, tc.opts))
				out := h.link.take()
				got, _ := lastRequest(out, "LCP")
				if tc.ended {
					if len(out) != 1 || !strings.HasPrefix(describe(out[0]), "LCP TermReq") {
						t.Errorf("sent %d frames, first %q", len(out), describe(out[0]))
					}
					return
				}
				if got != tc.want {
					t.Errorf("next request %q, want %q", got, tc.want)
				}
			})
		})
	}
}

// TestRefusalLoopsEnd: a client that Naks every request, and one that
// sends a Configure-Request we Nak forever, do not keep the link busy.
func TestRefusalLoopsEnd(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, nil)
		for i := range 20 {
			_, p := lastRequest(h.link.take(), "LCP")
			if h.s.Info().Phase == PhaseDead || p.code == 0 {
				break
			}
			h.s.HandleFrame(appendPacket(nil, protoLCP, codeConfNak, p.id, appendOption16(nil, lcpMRU, 1000+uint16(i))))
		}
		time.Sleep(5 * DefaultRestartTimer)
		synctest.Wait()
		if _, downs, _ := h.counts(); downs != 1 {
			t.Errorf("Nak loop: downs %d, info %+v", downs, h.s.Info())
		}
	})
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, nil)
		var last string
		for i := range DefaultMaxFailure + 2 {
			h.link.take()
			h.s.HandleFrame(appendPacket(nil, protoLCP, codeConfReq, uint8(i), appendOption32(nil, lcpMagic, 0)))
			for _, f := range h.link.take() {
				last = describe(f)
			}
		}
		if !strings.HasPrefix(last, "LCP ConfRej") {
			t.Errorf("after Max-Failure Naks the answer is %q, want a Reject", last)
		}
	})
}

// TestNCPRefusals: a client Naking or Rejecting our IPCP address and
// Naking our IPV6CP interface identifier.
func TestNCPRefusals(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, func(c *Config) { c.IPv6 = true })
		c := h.client(t)
		c.ipv6cpReq = appendOption(nil, ipv6cpIID, 1, 2, 3, 4, 5, 6, 7, 8)
		up(t, h, c)
		// Renegotiate IPCP: the client rejects our address.
		c.send(protoIPCP, codeConfReq, c.nextID(), c.ipcpReq)
		_, p := lastRequest(h.link.take(), "IPCP")
		h.s.HandleFrame(appendPacket(nil, protoIPCP, codeConfRej, p.id, p.data))
		if d, _ := lastRequest(h.link.take(), "IPCP"); d != fmt.Sprintf("IPCP ConfReq id=%d []", p.id+1) {
			t.Errorf("after Reject: %q", d)
		}
		// IPV6CP: the client Naks our identifier with one of its choice.
		c.send(protoIPV6CP, codeConfReq, c.nextID(), c.ipv6cpReq)
		_, p = lastRequest(h.link.take(), "IPV6CP")
		h.s.HandleFrame(appendPacket(nil, protoIPV6CP, codeConfNak, p.id, appendOption(nil, ipv6cpIID, 9, 9, 9, 9, 9, 9, 9, 9)))
		if d, _ := lastRequest(h.link.take(), "IPV6CP"); d != fmt.Sprintf("IPV6CP ConfReq id=%d [1:0909090909090909]", p.id+1) {
			t.Errorf("after Nak: %q", d)
		}
		// A suggestion equal to the client's own identifier is not taken.
		h.s.HandleFrame(appendPacket(nil, protoIPV6CP, codeConfNak, p.id+1, appendOption(nil, ipv6cpIID, 1, 2, 3, 4, 5, 6, 7, 8)))
		if d, _ := lastRequest(h.link.take(), "IPV6CP"); d == "" || strings.Contains(d, "0102030405060708") {
			t.Errorf("took the client's identifier: %q", d)
		}
	})
}

// TestAuthTimeouts: an unanswered Challenge is resent Max-Configure times,
// then the link ends; a PAP client that never sends its request is cut
// off after AuthTimeout.
func TestAuthTimeouts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, nil)
		c := h.client(t)
		c.lose = func(out bool, b []byte) bool { return strings.Contains(describe(b), "CHAP") }
		c.start()
		time.Sleep(time.Duration(DefaultMaxConfigure+3) * DefaultRestartTimer)
		synctest.Wait()
		c.pump()
		n := 0
		for _, l := range c.trace {
			if strings.HasPrefix(l, "S CHAP Challenge") {
				n++
			}
		}
		if n != DefaultMaxConfigure || c.termReqs == 0 {
			t.Errorf("%d challenges, %d Terminate-Requests", n, c.termReqs)
		}
	})
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, func(c *Config) { c.Auth = []AuthProtocol{AuthPAP}; c.AuthTimeout = 7 * time.Second })
		c := h.client(t)
		c.lose = func(out bool, b []byte) bool { return strings.Contains(describe(b), "PAP") }
		c.start()
		time.Sleep(6 * time.Second)
		synctest.Wait()
		c.pump()
		if c.termReqs != 0 {
			t.Fatal("cut off before AuthTimeout")
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		c.pump()
		if c.termReqs == 0 {
			t.Error("not cut off after AuthTimeout")
		}
	})
}

// TestCallbacksSeeTheAddress: OnUp comes when IPCP opened, also when
// IPV6CP opened first, and OnDown still sees the address, so the embedder
// can add and remove the client's route from Info.
func TestCallbacksSeeTheAddress(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var atUp, atDown []netip.Addr
		h := newHarness(t, func(c *Config) {
			c.IPv6 = true
			c.OnUp = func(s *Session) { atUp = append(atUp, s.Info().Addr4) }
			c.OnDown = func(s *Session) { atDown = append(atDown, s.Info().Addr4) }
		})
		c := h.client(t)
		c.ipv6cpReq = appendOption(nil, ipv6cpIID, 1, 2, 3, 4, 5, 6, 7, 8)
		ipcp := c.ipcpReq
		c.ipcpReq = nil // IPV6CP alone first
		c.start()
		if h.s.Info().IPV6CP != StateOpened || len(atUp) != 0 {
			t.Fatalf("IPV6CP %v, OnUp %v", h.s.Info().IPV6CP, atUp)
		}
		c.ipcpReq = ipcp
		c.send(protoIPCP, codeConfReq, c.nextID(), c.ipcpReq)
		c.pump()
		addr := h.s.Info().Addr4
		if !addr.IsValid() || len(atUp) != 1 || atUp[0] != addr {
			t.Fatalf("OnUp saw %v, address %v", atUp, addr)
		}
		h.s.Close()
		if len(atDown) != 1 || atDown[0] != addr || h.s.Info().Addr4 != addr || h.s.Info().Addr6 != netip.MustParseAddr("fe80::102:304:506:708") {
			t.Errorf("OnDown saw %v, Info after Close %+v", atDown, h.s.Info())
		}
	})
}
