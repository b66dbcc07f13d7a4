package ike

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

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
		for _, q := range sa.ex.takeQueue() {
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
