package eap_test

import (
	"fmt"
	"log"

	"github.com/goipsec/ipsec"
	"github.com/goipsec/ipsec/eap"
)

// ExampleServer runs the authenticator side of EAP-MSCHAPv2. In IKE every
// packet travels in an EAP payload of IKE_AUTH; here a Peer answers
// directly.
func ExampleServer() {
	users := ipsec.NewUsers(ipsec.User{Name: "alice", Password: ipsec.Secret("wonderland")})
	srv, err := eap.NewServer(eap.ServerConfig{Methods: []eap.Type{eap.TypeMSCHAPv2}, Users: users})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	client := eap.NewPeer(eap.PeerConfig{Identity: `CORP\alice`, Password: ipsec.Secret("wonderland")})
	defer client.Close()

	req, err := srv.Start("198.51.100.2") // Windows' IDi is its address: ask for the identity
	if err != nil {
		log.Fatal(err)
	}
	for {
		resp, _, err := client.Process(req)
		if err != nil {
			log.Fatal(err)
		}
		var res eap.Result
		req, res, err = srv.Process(resp)
		p, _ := eap.Parse(resp)
		fmt.Println("peer:", p.Code, p.Type, len(p.Data), "octets") // the Identifier is random
		if res.Status != eap.StatusContinue {
			fmt.Println("server:", res.Status, res.Identity, "user", res.User.Name, "MSK octets", len(res.MSK), "err", err)
			break
		}
	}
	_, res, _ := client.Process(req) // the EAP-Success
	fmt.Println("peer:", res.Status, "MSK octets", len(res.MSK))
	// Output:
	// peer: Response ID 10 octets
	// peer: Response MSCHAPV2 64 octets
	// peer: Response MSCHAPV2 1 octets
	// server: success CORP\alice user alice MSK octets 64 err <nil>
	// peer: success MSK octets 64
}

// ExamplePeer shows the peer (IKE initiator) side answering a gateway that
// proposes EAP-TLS, which this peer does not do: it NAKs and asks for
// MSCHAPv2, as Windows does.
func ExamplePeer() {
	client := eap.NewPeer(eap.PeerConfig{Identity: "alice", Password: ipsec.Secret("wonderland"), Methods: []eap.Type{eap.TypeMSCHAPv2}})
	defer client.Close()

	// EAP-Request/Identity, then EAP-Request/TLS Start, as IKE delivers them.
	for _, req := range [][]byte{{1, 7, 0, 5, 1}, {1, 8, 0, 6, 13, 0x20}} {
		resp, res, err := client.Process(req)
		if err != nil {
			log.Fatal(err)
		}
		p, _ := eap.Parse(resp)
		fmt.Printf("%s data=%x status=%s\n", p, p.Data, res.Status)
	}
	// Output:
	// EAP/RES/ID id=7 len=5 data=616c696365 status=continue
	// EAP/RES/NAK id=8 len=1 data=1a status=continue
}
