package l2tp_test

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/goipsec/ipsec/l2tp"
)

// loopConn is a PacketConn that keeps what the server sends.
type loopConn struct{ out [][]byte }

func (c *loopConn) WriteTo(b []byte, _ l2tp.Peer) error {
	c.out = append(c.out, append([]byte(nil), b...))
	return nil
}

func mustHex(s string) []byte {
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		panic(err)
	}
	return b
}

// An LNS answering the SCCRQ of macOS (Host Name with a trailing NUL,
// RWS 4).
func Example() {
	conn := &loopConn{}
	srv, err := l2tp.NewServer(conn, l2tp.Config{
		HostName: "vpn.example",
		NewSession: func(s *l2tp.Session) (l2tp.FrameHandler, error) {
			return nil, fmt.Errorf("no PPP in this example")
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	// Close would send StopCCN and wait for its ack; ClosePeer drops the
	// tunnels of plain-UDP peers (Key 0) silently.
	defer srv.ClosePeer(0)
	peer := l2tp.Peer{
		Addr:  netip.MustParseAddrPort("192.0.2.10:50123"),
		Local: netip.MustParseAddrPort("192.0.2.1:1701"),
	}
	srv.HandleDatagram(mustHex(`
		c802 0040 0000 0000 0000 0000
		8008 0000 0000 0001
		8008 0000 0002 0100
		800a 0000 0003 00000003
		800a 0000 0007 6d616300
		8008 0000 0009 1234
		8008 0000 000a 0004`), peer)

	reply, err := l2tp.Parse(conn.out[0], nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	host, _ := reply.Find(l2tp.AVPHostName)
	fmt.Printf("%v to tunnel %#x, Ns %d Nr %d, host %q\n", reply.Type, reply.Header.TunnelID, reply.Header.Ns, reply.Header.Nr, host.Value)
	for _, t := range srv.Tunnels() {
		fmt.Printf("tunnel from %v: host %q, window %d, %s\n", t.Peer.Addr, t.HostName, t.PeerWindow, t.State)
	}
	// Output:
	// SCCRP to tunnel 0x1234, Ns 0 Nr 1, host "vpn.example"
	// tunnel from 192.0.2.10:50123: host "mac", window 4, wait-ctl-conn
}

// Every malformed header or AVP is a *ParseError.
func ExampleParseError() {
	// An SCCRQ whose second AVP claims 1023 bytes.
	_, err := l2tp.Parse(mustHex(`
		c802 001c 0000 0000 0000 0000
		8008 0000 0000 0001
		83ff 0000 0002 0100`), nil)
	var pe *l2tp.ParseError
	if errors.As(err, &pe) {
		fmt.Println(pe.Offset, pe.AVP, errors.Is(err, l2tp.ErrShort))
	}
	fmt.Println(err)
	// Output:
	// 20 Protocol Version true
	// l2tp: AVP Protocol Version at offset 20: truncated
}
