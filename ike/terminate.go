package ike

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/goipsec/ipsec"
	"github.com/goipsec/ipsec/ike/wire"
)

var (
	// ErrSANotFound: no IKE SA has the session ID given to
	// Responder.Terminate (it never existed or has ended).
	ErrSANotFound = errors.New("ike: no IKE SA with that session ID")
	// ErrTerminated is the reason the IKEDown hook is given for an IKE SA
	// the embedder ended with Terminate, TerminateMatching or
	// TerminateUser (an accounting record's "administrative reset").
	ErrTerminated = errors.New("ike: terminated by the gateway")
)

// terminateWait bounds how long Terminate waits for the peer to answer
// its Delete before the SA is removed anyway: long enough for one
// retransmission at the default schedule, short enough for an operator.
const terminateWait = 5 * time.Second

// Terminate ends the session id (ipsec.IKESAInfo.SessionID, as in SAs and
// every hook): the peer gets an INFORMATIONAL Delete for the IKE SA, and
// when it answered, after a short wait (terminateWait) or when ctx ends,
// the CHILD SAs leave the data plane, the addresses go back to their
// pools and IKEDown runs with ErrTerminated. It returns once the session
// is gone, nil also when the peer did not answer, or an error wrapping
// ErrSANotFound for an unknown or ended session.
func (r *Responder) Terminate(ctx context.Context, id uint64) error {
	if id == 0 || len(r.e.bySession(id)) == 0 {
		return fmt.Errorf("%w: %d", ErrSANotFound, id)
	}
	r.e.terminateSession(ctx, id, ErrTerminated)
	return nil
}

// TerminateMatching ends, as Terminate does and concurrently, every
// session with an IKE SA for which match returns true, and returns how
// many sessions it ended. match runs on the caller's goroutine with
// snapshots as SAs returns them.
func (r *Responder) TerminateMatching(ctx context.Context, match func(ipsec.IKESAInfo) bool) int {
	ids := map[uint64]bool{}
	for _, info := range r.SAs() {
		if info.SessionID != 0 && match(info) {
			ids[info.SessionID] = true
		}
	}
	var wg sync.WaitGroup
	for id := range ids {
		wg.Go(func() { r.e.terminateSession(ctx, id, ErrTerminated) })
	}
	wg.Wait()
	return len(ids)
}

// TerminateUser ends the sessions of the user name: the peers that proved
// name with EAP (ipsec.IKESAInfo.EAPIdentity) and, among peers without
// EAP, those whose IKE identity prints as name. It returns how many
// sessions it ended.
//
// Removing a user from an ipsec.Users store does not end its sessions by
// itself (a store may serve several engines, and an embedder may want to
// let a session run out): call TerminateUser after Users.Delete to revoke
// an account at once.
func (r *Responder) TerminateUser(ctx context.Context, name string) int {
	return r.TerminateMatching(ctx, func(i ipsec.IKESAInfo) bool {
		return i.EAPIdentity == name || i.EAPIdentity == "" && i.RemoteID.String() == name
	})
}

// terminateSession ends every IKE SA of session id. A successor created
// while the first ones were deleted (an IKE rekey the peer completed just
// before our Delete) is ended in a second round.
func (e *engine) terminateSession(ctx context.Context, id uint64, reason error) {
	for range 2 {
		sas := e.bySession(id)
		if len(sas) == 0 {
			return
		}
		var wg sync.WaitGroup
		for _, sa := range sas {
			wg.Go(func() { e.terminate(ctx, sa, reason) })
		}
		wg.Wait()
	}
	// Whatever is still left goes without waiting.
	for _, sa := range e.bySession(id) {
		sa.do(context.WithoutCancel(ctx), func() { sa.destroy(reason) })
	}
}

// terminate deletes one IKE SA: an established one tells the peer with an
// INFORMATIONAL Delete (RFC 7296 section 1.4.1) and is destroyed when the
// answer arrives; after terminateWait or when ctx ends it is destroyed
// without it. Half-open and superseded SAs are destroyed at once.
func (e *engine) terminate(ctx context.Context, sa *ikeSA, reason error) {
	err := sa.do(ctx, func() {
		if sa.state == stateDeleting {
			return // a Delete is under way already
		}
		if sa.state != stateEstablished || sa.rekeyed {
			sa.destroy(reason)
			return
		}
		// The Delete goes next: queued exchanges are moot, the one in
		// flight (window size 1) is answered first.
		queued := sa.queue
		sa.queue = nil
		for _, q := range queued {
			if q.abort != nil {
				q.abort(fmt.Errorf("%w: IKE SA %s is being deleted", ErrClosed, sa.name()))
			}
		}
		sa.state = stateDeleting
		sa.log.Info("deleting the IKE SA", "ike_sa", sa.name(), "err", reason)
		sa.queueRequest(&request{exchange: wire.INFORMATIONAL,
			build: func() ([]wire.Payload, error) {
				return []wire.Payload{&wire.Delete{Protocol: wire.ProtocolID(1)}}, nil
			},
			onReply: func(*wire.Message, []wire.Payload) error { sa.destroy(reason); return nil }})
	})
	if errors.Is(err, ErrClosed) {
		return
	}
	t := time.NewTimer(terminateWait)
	defer t.Stop()
	select {
	case <-sa.done:
		return
	case <-t.C:
	case <-ctx.Done():
	}
	sa.do(context.WithoutCancel(ctx), func() { sa.destroy(reason) })
}
