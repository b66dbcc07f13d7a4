package eap

import "context"

// Backend is the seam for a remote authentication server (a RADIUS
// client speaking EAP-Message, RFC 3579). When ServerConfig.Backend is
// set, the Server runs only the Identity exchange itself and relays every
// later response to the backend, which decides methods, credentials and
// keys.
//
// The context of Start and Exchange carries, when an IKE engine drives
// the Server, the access request's NAS context: the client's address, the
// IKE SA and session, the NAS-Port (see NAS and NASFromContext).
type Backend interface {
	// Start opens a conversation for the peer's EAP identity.
	Start(ctx context.Context, identity string) (BackendConversation, error)
}

// BackendConversation is one relayed EAP conversation.
type BackendConversation interface {
	// Exchange relays one EAP response (the first is the
	// Identity response) and returns the backend's answer: an EAP
	// Request (RADIUS Access-Challenge), or EAP-Success/Failure
	// (Access-Accept/Reject). With Success, res carries the MSK (from
	// MS-MPPE-Recv-Key||MS-MPPE-Send-Key), the authenticated identity
	// and the user's attributes; Status is ignored. An error fails the
	// conversation.
	Exchange(ctx context.Context, response []byte) (packet []byte, res Result, err error)
	// Close ends the conversation; it is called exactly once.
	Close() error
}
