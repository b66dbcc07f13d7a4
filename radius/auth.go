package radius

import (
	"context"
	"fmt"

	"github.com/goipsec/ipsec"
)

// Password checks for the methods where the NAS holds the challenge
// (XAuth generic, PPP PAP, CHAP and MS-CHAPv2): the NAS relays what the
// client sent and the RADIUS server decides. Each returns the decoded
// reply: Accepted for an Access-Accept; an Access-Reject (or an
// unexpected Access-Challenge) is a reply with Accepted false and a nil
// error. An error means no server gave a valid answer.

// PAP checks a clear-text password with User-Password (RFC 2865 section
// 5.2). The password is hidden per server and never logged.
func (c *Client) PAP(ctx context.Context, user string, password ipsec.Secret) (*Reply, error) {
	if len(password) > maxPasswordLen {
		return nil, fmt.Errorf("radius: password of %d octets exceeds %d", len(password), maxPasswordLen)
	}
	r, err := c.newAccessRequest(ctx, user)
	if err != nil {
		return nil, err
	}
	r.password = password
	if r.password == nil {
		r.password = ipsec.Secret{}
	}
	reply, _, err := c.access(ctx, r, nil)
	return reply, err
}

// CHAP checks a CHAP-MD5 login (RFC 1994, RFC 2865 sections 5.3 and
// 5.40): id is the CHAP Identifier, challenge what the NAS sent, and
// response the 16-octet MD5 the client answered.
func (c *Client) CHAP(ctx context.Context, user string, id uint8, challenge, response []byte) (*Reply, error) {
	if len(response) != 16 {
		return nil, fmt.Errorf("radius: CHAP response of %d octets, want 16", len(response))
	}
	if len(challenge) == 0 || len(challenge) > MaxAttrValueLen {
		return nil, fmt.Errorf("radius: CHAP challenge of %d octets", len(challenge))
	}
	r, err := c.newAccessRequest(ctx, user)
	if err != nil {
		return nil, err
	}
	r.p.Add(TypeCHAPPassword, append([]byte{id}, response...))
	r.p.Add(TypeCHAPChallenge, challenge)
	reply, _, err := c.access(ctx, r, nil)
	return reply, err
}

// MSCHAPv2 checks an MS-CHAPv2 login (RFC 2759, RFC 2548 sections 2.3.2
// and 2.3.3): id is the CHAP Identifier, authChallenge the 16 octets the
// NAS sent, peerChallenge and ntResponse (16 and 24 octets) what the
// client answered. On Accept, Reply.MSCHAP2Success carries the
// identifier and "S=<authenticator response>" for the client, and the
// MPPE keys are decrypted; on Reject, Reply.MSCHAPError has the "E=691
// R=0 ..." text when the server sent one.
func (c *Client) MSCHAPv2(ctx context.Context, user string, id uint8, authChallenge, peerChallenge, ntResponse []byte) (*Reply, error) {
	if len(authChallenge) != 16 || len(peerChallenge) != 16 || len(ntResponse) != 24 {
		return nil, fmt.Errorf("radius: MS-CHAPv2 challenge, peer challenge or response of wrong length (%d, %d, %d)", len(authChallenge), len(peerChallenge), len(ntResponse))
	}
	r, err := c.newAccessRequest(ctx, user)
	if err != nil {
		return nil, err
	}
	r.p.AddVendor(VendorMicrosoft, MSCHAPChallenge, authChallenge)
	// MS-CHAP2-Response: Ident, Flags, Peer-Challenge, 8 reserved
	// octets, NT-Response (RFC 2548 section 2.3.2).
	v := make([]byte, 0, 50)
	v = append(v, id, 0)
	v = append(v, peerChallenge...)
	v = append(v, make([]byte, 8)...)
	v = append(v, ntResponse...)
	r.p.AddVendor(VendorMicrosoft, MSCHAP2Response, v)
	reply, _, err := c.access(ctx, r, nil)
	return reply, err
}
