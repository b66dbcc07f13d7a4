package radius

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	"github.com/goipsec/ipsec"
	"github.com/goipsec/ipsec/eap"
)

// EAPBackend relays EAP conversations to the Client's servers (RFC 3579):
// an eap.Backend for eap.ServerConfig.Backend. Every Access-Request
// carries the EAP response in EAP-Message attributes, the State of the
// last Access-Challenge, a Message-Authenticator and the NAS attributes
// of the context's eap.NAS. The eap.Server does the Identity round
// itself and forwards the peer's EAP-Response/Identity as the first
// request (RFC 3579 section 2.1), so the RADIUS server picks the method.
//
// A conversation stays on the server that answered its first request:
// the State attribute means nothing to another one. A timeout in the
// middle of a conversation fails it; the client then starts over, on
// the next server if the first was marked dead.
type EAPBackend struct {
	// Client sends the requests.
	Client *Client
	// OnAccept, when set, receives the decoded Access-Accept of every
	// successful conversation, for what eap.Result has no field for
	// (Session-Timeout, Acct-Interim-Interval, Class for accounting,
	// Framed-Pool, Framed-IPv6-Prefix). ctx is that of the last
	// Exchange: it carries the eap.NAS (SessionID) when an IKE engine
	// drives the conversation. It runs on the conversation's goroutine
	// and must not block.
	OnAccept func(ctx context.Context, identity string, r *Reply)
}

// Start implements eap.Backend.
func (b *EAPBackend) Start(ctx context.Context, identity string) (eap.BackendConversation, error) {
	if b.Client == nil {
		return nil, errors.New("radius: EAPBackend without a Client")
	}
	if len(identity) > MaxAttrValueLen {
		return nil, fmt.Errorf("radius: EAP identity of %d octets exceeds %d", len(identity), MaxAttrValueLen)
	}
	return &eapConversation{b: b, identity: identity}, nil
}

// maxEAPRounds bounds the Access-Challenges of one conversation (EAP-TLS
// with a long chain needs a few dozen at 1 KiB per round).
const maxEAPRounds = 100

type eapConversation struct {
	b        *EAPBackend
	identity string
	state    []byte
	server   *serverConn
	rounds   int
	done     bool
}

// Exchange implements eap.BackendConversation.
func (cv *eapConversation) Exchange(ctx context.Context, response []byte) ([]byte, eap.Result, error) {
	if cv.done {
		return nil, eap.Result{}, fmt.Errorf("radius: conversation ended: %w", eap.ErrFinished)
	}
	cv.rounds++
	if cv.rounds > maxEAPRounds {
		return nil, eap.Result{}, fmt.Errorf("radius: more than %d EAP rounds: %w", maxEAPRounds, eap.ErrTooManyRounds)
	}
	if len(response) < 4 || len(response) > MaxPacketLen-HeaderLen-64 {
		return nil, eap.Result{}, fmt.Errorf("radius: EAP response of %d octets cannot be relayed", len(response))
	}
	c := cv.b.Client
	r, err := c.newAccessRequest(ctx, cv.identity)
	if err != nil {
		return nil, eap.Result{}, err
	}
	r.p.Attributes = append(r.p.Attributes, SplitEAP(response)...)
	if cv.state != nil {
		r.p.Add(TypeState, cv.state)
	}
	resp, err := c.exchange(ctx, exchangeOpts{code: CodeAccessRequest, requireMA: true, only: cv.server}, c.accessEncoder(r))
	if err != nil {
		return nil, eap.Result{}, err
	}
	cv.server = resp.s
	p := resp.p
	pkt, err := JoinEAP(p)
	if err != nil {
		return nil, eap.Result{}, err
	}
	respID := response[1]
	switch p.Code {
	case CodeAccessChallenge:
		if pkt == nil || eap.Code(pkt[0]) != eap.CodeRequest {
			return nil, eap.Result{}, fmt.Errorf("radius: Access-Challenge without an EAP-Request: %w", eap.ErrProtocol)
		}
		st, ok := p.Get(TypeState)
		if ok {
			cv.state = append([]byte(nil), st...)
		} else {
			cv.state = nil
		}
		return pkt, eap.Result{Status: eap.StatusContinue}, nil
	case CodeAccessAccept:
		cv.done = true
		reply, err := DecodeReply(p, resp.s.cfg.Secret, resp.auth)
		if err != nil {
			return nil, eap.Result{}, err
		}
		if pkt == nil {
			pkt = []byte{byte(eap.CodeSuccess), respID, 0, 4}
		} else if eap.Code(pkt[0]) != eap.CodeSuccess {
			return nil, eap.Result{}, fmt.Errorf("radius: Access-Accept with EAP %s: %w", eap.Code(pkt[0]), eap.ErrProtocol)
		}
		name := cv.identity
		if reply.UserName != "" {
			name = reply.UserName
		}
		res := eap.Result{Status: eap.StatusSuccess, Identity: name, MSK: reply.MSK(), User: reply.User(name)}
		if cv.b.OnAccept != nil {
			cv.b.OnAccept(ctx, name, reply)
		}
		return pkt, res, nil
	case CodeAccessReject:
		cv.done = true
		if pkt == nil || eap.Code(pkt[0]) != eap.CodeFailure {
			pkt = []byte{byte(eap.CodeFailure), respID, 0, 4}
		}
		return pkt, eap.Result{Status: eap.StatusFailure, Err: fmt.Errorf("%w: %w", eap.ErrAuthFailed, ErrRejected)}, nil
	}
	return nil, eap.Result{}, fmt.Errorf("radius: unexpected %s", p.Code)
}

// Close implements eap.BackendConversation.
func (cv *eapConversation) Close() error {
	cv.done = true
	return nil
}

// User returns the account the reply describes for address assignment
// and authorization: name, the fixed addresses (Framed-IP-Address,
// Framed-IPv6-Address) and Groups.
func (r *Reply) User(name string) *ipsec.User {
	u := &ipsec.User{Name: name, Groups: r.Groups()}
	for _, a := range []netip.Addr{r.FramedIP, r.FramedIPv6} {
		if a.IsValid() {
			u.Addresses = append(u.Addresses, a)
		}
	}
	return u
}
