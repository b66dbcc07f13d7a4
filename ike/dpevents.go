package ike

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/goipsec/ipsec/esp"
)

// eventRouters has one reader per data plane: a Responder and an
// Initiator may share a data plane, and each event must reach the engine
// whose SA it concerns.
var eventRouters sync.Map // esp.DataPlane -> *eventRouter

type eventRouter struct {
	mu      sync.Mutex
	engines map[*engine]bool
	stop    chan struct{} // closed when the last engine detaches
	// reqids is the ReqID counter of the engines on this data plane: a
	// ReqID names one CHILD SA's policies and outbound SA, so a
	// Responder and an Initiator sharing the data plane (a site-to-site
	// gateway) must not both hand out ReqID 1.
	reqids atomic.Uint32
}

// attachEvents makes e receive the events of its data plane.
func attachEvents(e *engine) {
	dp := e.cfg.dp
	if dp == nil {
		return
	}
	v, loaded := eventRouters.LoadOrStore(dp, &eventRouter{engines: map[*engine]bool{}, stop: make(chan struct{})})
	r := v.(*eventRouter)
	r.mu.Lock()
	r.engines[e] = true
	r.mu.Unlock()
	e.reqids = &r.reqids
	if !loaded {
		go r.run(dp)
	}
}

func detachEvents(e *engine) {
	if v, ok := eventRouters.Load(e.cfg.dp); ok && e.cfg.dp != nil {
		r := v.(*eventRouter)
		r.mu.Lock()
		delete(r.engines, e)
		if len(r.engines) == 0 {
			eventRouters.Delete(e.cfg.dp)
			close(r.stop)
		}
		r.mu.Unlock()
	}
}

// run delivers every event to every attached engine until the data plane
// closes its channel.
func (r *eventRouter) run(dp esp.DataPlane) {
	defer eventRouters.CompareAndDelete(dp, r)
	for {
		var ev esp.Event
		select {
		case e, ok := <-dp.Events():
			if !ok {
				return
			}
			ev = e
		case <-r.stop:
			return
		}
		r.mu.Lock()
		engines := make([]*engine, 0, len(r.engines))
		for e := range r.engines {
			engines = append(engines, e)
		}
		r.mu.Unlock()
		for _, e := range engines {
			e.dataPlaneEvent(ev)
		}
	}
}

// dataPlaneEvent hands an expiry event to the SA that owns the CHILD SA.
// Soft expiry (bytes or packets, RFC 4301 section 4.4.2.1) starts a rekey;
// hard expiry means the data plane already removed the SA, so the CHILD
// SA is deleted with the peer too.
func (e *engine) dataPlaneEvent(ev esp.Event) {
	if ev.Kind != esp.EventSoftExpire && ev.Kind != esp.EventHardExpire {
		return
	}
	for _, sa := range e.list() {
		go sa.do(context.Background(), func() {
			c := sa.childByInstalled(ev.SA)
			if c == nil && ev.Kind == esp.EventHardExpire && sa.lateExpiry(ev.SA, ev.Stats) {
				return
			}
			if c == nil || sa.state != stateEstablished {
				return
			}
			if ev.Kind == esp.EventSoftExpire {
				// Both SAs of a pair reach a packet or byte limit at about
				// the same time (a ping and its reply), and the data plane
				// reports each of them: rekey the CHILD SA once, not when a
				// rekey of it is queued, in flight or done, ours or the
				// peer's. (Two rekeys of one CHILD SA leave two successors
				// with the same ReqID, one of which is never deleted.)
				if c.peerRekey == nil && c.ourRekey == nil && !sa.ex.childRekeyQueued(c) {
					sa.log.Info("CHILD SA reached its soft lifetime", "child_sa", c.name, "spi_in", c.spiIn)
					c.rekeyAt = time.Time{}
					sa.queueRequest(sa.childRekeyRequest(c))
				}
				return
			}
			sa.log.Info("CHILD SA reached its hard lifetime", "child_sa", c.name, "spi_in", c.spiIn)
			// The data plane removed the SA: its last counters come with
			// the event, as SAStats cannot read them any more.
			c.retireExpired(ev.SA, ev.Stats)
			if !sa.ex.childDeleteQueued(c) { // both SAs of the pair expire, one Delete
				sa.queueRequest(sa.deleteChildRequest(c))
			}
		})
	}
}

// childByInstalled finds the CHILD SA that installed the data plane SA id.
func (sa *ikeSA) childByInstalled(id esp.SAID) *childSA {
	for _, c := range sa.children {
		if c.plane.has(id) {
			return c
		}
	}
	return nil
}
