package radius_test

import (
	"context"
	"encoding/hex"
	"fmt"
	"log"
	"net"

	"github.com/goipsec/ipsec"
	"github.com/goipsec/ipsec/eap"
	"github.com/goipsec/ipsec/radius"
)

// ExampleParse decodes the Access-Request of RFC 2865 section 7.1 and
// reveals its User-Password with the shared secret.
func ExampleParse() {
	b, _ := hex.DecodeString("010000380f403f9473978057bd83d5cb98f4227a01066e656d6f02120dbe708d93d413ce3196e43f782a0aee0406c0a80110050600000003")
	p, err := radius.Parse(b)
	if err != nil {
		log.Fatal(err)
	}
	user, _ := p.Get(radius.TypeUserName)
	hidden, _ := p.Get(radius.TypeUserPassword)
	pw, _ := radius.RevealPassword(hidden, ipsec.Secret("xyzzy5461"), p.Authenticator)
	fmt.Println(p)
	fmt.Println(string(user), string(pw), pw) // a Secret prints redacted
	// Output:
	// Access-Request id=0 [User-Name User-Password NAS-IP-Address NAS-Port]
	// nemo arctangent <redacted>
}

// ExampleClient_PAP checks a password against a RADIUS server (here a
// toy one on loopback that accepts everyone and assigns an address).
func ExampleClient_PAP() {
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	secret := ipsec.Secret("testing123")
	go func() {
		buf := make([]byte, radius.MaxPacketLen)
		n, from, err := conn.ReadFromUDP(buf)
		if err != nil {
			return
		}
		req, err := radius.Parse(buf[:n])
		if err != nil || radius.VerifyRequest(req, secret, true) != nil {
			return
		}
		resp := &radius.Packet{Code: radius.CodeAccessAccept, Identifier: req.Identifier}
		resp.Add(radius.TypeMessageAuthenticator, nil)
		resp.Add(radius.TypeFramedIPAddress, []byte{10, 9, 0, 5})
		resp.AddString(radius.TypeFilterID, "vpn-staff")
		out, _ := radius.EncodeResponse(nil, resp, req.Authenticator, secret)
		conn.WriteToUDP(out, from)
	}()

	c, err := radius.NewClient(radius.ClientConfig{
		Servers:       []radius.Server{{Addr: conn.LocalAddr().String(), Secret: secret}},
		NASIdentifier: "vpn-gw-1",
	})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	// An IKE engine attaches the session's NAS context; the client turns
	// it into NAS-Port, Calling-Station-Id and friends.
	ctx := eap.ContextWithNAS(context.Background(), eap.NAS{SessionID: 1, Port: 1})
	reply, err := c.PAP(ctx, "alice", ipsec.Secret("wonderland"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(reply.Accepted, reply.FramedIP, reply.Groups())
	// Output:
	// true 10.9.0.5 [vpn-staff]
}
