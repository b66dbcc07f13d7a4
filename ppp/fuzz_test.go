package ppp

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// FuzzParse checks the frame and option codec: no panic, and what parses
// re-encodes to the same bytes.
func FuzzParse(f *testing.F) {
	f.Add([]byte{0xc0, 0x21, 1, 1, 0, 0x0e, 1, 4, 5, 0x78, 5, 6, 1, 2, 3, 4})
	f.Add([]byte{0xff, 0x03, 0x80, 0x21, 1, 1, 0, 0x0a, 3, 6, 0, 0, 0, 0})
	f.Add([]byte{0x21, 0x45, 0, 0, 20})
	f.Add([]byte{0xc2, 0x23, 2, 1, 0, 6, 1, 0})
	f.Add([]byte{0xc0, 0x21, 1, 1, 0, 6, 5, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		proto, info, err := parseProtocol(b)
		if err != nil {
			return
		}
		if proto&1 == 0 || proto&0x100 != 0 {
			t.Fatalf("invalid protocol %#x accepted", proto)
		}
		p, err := parsePacket(info)
		if err != nil {
			return
		}
		enc := appendPacket(nil, proto, p.code, p.id, p.data)
		if got := enc[2:]; !bytes.Equal(got, info[:len(got)]) {
			t.Fatalf("packet re-encodes to %x, was %x", got, info)
		}
		opts, err := parseOptions(p.data)
		if err != nil {
			return
		}
		var raw []byte
		for _, o := range opts {
			if len(o.raw) != 2+len(o.data) || o.raw[0] != o.typ || int(o.raw[1]) != len(o.raw) {
				t.Fatalf("option %+v inconsistent", o)
			}
			raw = append(raw, appendOption(nil, o.typ, o.data...)...)
		}
		if !bytes.Equal(raw, p.data) {
			t.Fatalf("options re-encode to %x, were %x", raw, p.data)
		}
	})
}

// FuzzSession drives a session with arbitrary frames, from a fresh link,
// after LCP opened or after the whole setup, and checks that it neither
// panics nor sends anything malformed, and that its lease and callbacks
// stay consistent.
func FuzzSession(f *testing.F) {
	frames := func(fs ...[]byte) []byte {
		var b []byte
		for _, x := range fs {
			b = binary.BigEndian.AppendUint16(b, uint16(len(x)))
			b = append(b, x...)
		}
		return b
	}
	lcpReq := appendPacket(nil, protoLCP, codeConfReq, 1, appendOption32(nil, lcpMagic, 0x01020304))
	f.Add(uint8(0), frames(lcpReq, appendPacket(nil, protoLCP, codeConfAck, 1, nil)))
	f.Add(uint8(1), frames(appendPacket(nil, protoCHAP, chapResponse, 1, append([]byte{49}, make([]byte, 49)...))))
	f.Add(uint8(1), frames(appendPacket(nil, protoPAP, papRequest, 1, []byte{1, 'a', 1, 'b'})))
	f.Add(uint8(2), frames(appendPacket(nil, protoIPCP, codeConfReq, 9, appendOption(nil, ipcpAddress, 0, 0, 0, 0)), []byte{0x21, 0x45}))
	f.Add(uint8(2), frames(appendPacket(nil, protoLCP, codeTermReq, 9, nil), appendPacket(nil, protoLCP, codeProtoRej, 9, []byte{0x80, 0x21})))
	f.Add(uint8(2), frames(appendPacket(nil, protoACSCP, codeConfReq, 1, nil), appendPacket(nil, protoLCP, codeEchoReq, 3, []byte{0, 0, 0, 1})))
	f.Fuzz(func(t *testing.T, mode uint8, data []byte) {
		h := newHarness(t, func(c *Config) { c.IPv6 = mode&4 != 0; c.Auth = []AuthProtocol{AuthMSCHAPv2, AuthCHAPMD5, AuthPAP} })
		c := h.client(t)
		switch mode % 3 {
		case 1: // LCP open, in authentication
			c.accept = []AuthProtocol{AuthPAP}
			c.user = "" // PAP with an empty name fails, so send nothing: answer only LCP
			c.lcpReq = appendOption32(nil, lcpMagic, 0x01020304)
			c.send(protoLCP, codeConfReq, 1, c.lcpReq)
			for _, fr := range h.link.take() {
				if p, info, _ := parseProtocol(fr); p == protoLCP {
					if pk, err := parsePacket(info); err == nil && pk.code == codeConfReq {
						c.send(protoLCP, codeConfAck, pk.id, pk.data)
					}
				}
			}
		case 2: // everything up
			c.start()
		}
		h.link.take()
		for len(data) >= 2 {
			n := int(binary.BigEndian.Uint16(data))
			data = data[2:]
			if n > len(data) {
				n = len(data)
			}
			in := data[:n]
			h.s.HandleFrame(in)
			data = data[n:]
			limit := 2 + headerLen + max(int(h.s.Info().MRU), defaultPeerMRU, len(in))
			for _, fr := range h.link.take() {
				proto, info, err := parseProtocol(fr)
				if err != nil {
					t.Fatalf("server sent a bad frame %x", fr)
				}
				if proto != protoIPv4 && proto != protoIPv6 {
					if _, err := parsePacket(info); err != nil {
						t.Fatalf("server sent a bad packet %x", fr)
					}
				}
				if len(fr) > limit {
					t.Fatalf("server sent %d octets", len(fr))
				}
			}
		}
		in := h.s.Info()
		if in.IPCP == StateOpened && !h.pool.Prefix().Contains(in.Addr4) && in.Addr4.IsValid() {
			t.Fatalf("address %v outside the pool", in.Addr4)
		}
		if n := len(h.pool.Leases()); n > 1 {
			t.Fatalf("%d leases", n)
		}
		h.s.Close()
		if n := len(h.pool.Leases()); n != 0 {
			t.Fatalf("%d leases after Close", n)
		}
		if _, downs, _ := h.counts(); downs != 1 {
			t.Fatalf("OnDown called %d times", downs)
		}
	})
}
