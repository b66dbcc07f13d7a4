package esptest

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/goipsec/ipsec/esp"
)

// Call is one recorded DataPlane method call.
type Call struct {
	Method string     // "AddSA", "UpdateSA", "DeleteSA", "AddPolicy", "DeletePolicy"
	SA     *esp.SA    // AddSA, UpdateSA (a copy)
	ID     esp.SAID   // UpdateSA, DeleteSA
	Policy esp.Policy // AddPolicy, DeletePolicy
}

// String describes the call without key material.
func (c Call) String() string {
	switch c.Method {
	case "AddSA", "UpdateSA":
		return c.Method + " " + c.SA.String()
	case "DeleteSA":
		return "DeleteSA " + c.ID.String()
	}
	return c.Method + " " + c.Policy.String()
}

// DataPlane is an in-memory esp.DataPlane. The zero value is not usable;
// call New. It is safe for concurrent use.
type DataPlane struct {
	mu       sync.Mutex
	calls    []Call
	sas      map[esp.SAID]*esp.SA
	stats    map[esp.SAID]esp.SAStats
	policies []esp.Policy
	events   chan esp.Event
	closed   bool
	// Err, when set, is returned by the next mutating call (and cleared),
	// to test how engines handle data-plane failures.
	Err error
}

var _ esp.DataPlane = (*DataPlane)(nil)

// New returns an empty fake data plane whose Events channel buffers 64 events.
func New() *DataPlane {
	return &DataPlane{sas: map[esp.SAID]*esp.SA{}, stats: map[esp.SAID]esp.SAStats{}, events: make(chan esp.Event, 64)}
}

func key(id esp.SAID) esp.SAID {
	if id.Dir == esp.DirIn {
		id.Dst = id.Dst.Unmap()
	}
	return id
}

func (d *DataPlane) begin(c Call) error {
	if d.closed {
		return esp.ErrClosed
	}
	d.calls = append(d.calls, c)
	if err := d.Err; err != nil {
		d.Err = nil
		return err
	}
	return nil
}

func clone(sa *esp.SA) *esp.SA {
	c := *sa
	c.EncrKey = slices.Clone(sa.EncrKey)
	c.IntegKey = slices.Clone(sa.IntegKey)
	return &c
}

// AddSA implements esp.DataPlane.
func (d *DataPlane) AddSA(ctx context.Context, sa *esp.SA) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	c := clone(sa)
	if err := d.begin(Call{Method: "AddSA", SA: c}); err != nil {
		return err
	}
	if sa.Dir != esp.DirIn && sa.Dir != esp.DirOut {
		return fmt.Errorf("esptest: AddSA: invalid direction %d", sa.Dir)
	}
	id := key(sa.ID())
	if d.sas[id] != nil {
		return fmt.Errorf("%w: %s", esp.ErrSAExists, id)
	}
	d.sas[id] = c
	return nil
}

// UpdateSA implements esp.DataPlane.
func (d *DataPlane) UpdateSA(ctx context.Context, id esp.SAID, sa *esp.SA) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	c := clone(sa)
	if err := d.begin(Call{Method: "UpdateSA", ID: id, SA: c}); err != nil {
		return err
	}
	old := d.sas[key(id)]
	if old == nil {
		return fmt.Errorf("%w: %s", esp.ErrSANotFound, id)
	}
	delete(d.sas, key(id))
	d.sas[key(c.ID())] = c
	return nil
}

// DeleteSA implements esp.DataPlane.
func (d *DataPlane) DeleteSA(ctx context.Context, id esp.SAID) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.begin(Call{Method: "DeleteSA", ID: id}); err != nil {
		return err
	}
	if d.sas[key(id)] == nil {
		return fmt.Errorf("%w: %s", esp.ErrSANotFound, id)
	}
	delete(d.sas, key(id))
	delete(d.stats, key(id))
	return nil
}

func samePolicy(a, b esp.Policy) bool { return a.Dir == b.Dir && a.Src == b.Src && a.Dst == b.Dst }

// AddPolicy implements esp.DataPlane.
func (d *DataPlane) AddPolicy(ctx context.Context, p esp.Policy) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.begin(Call{Method: "AddPolicy", Policy: p}); err != nil {
		return err
	}
	for _, q := range d.policies {
		if samePolicy(p, q) {
			return fmt.Errorf("%w: %s", esp.ErrPolicyExists, &p)
		}
	}
	d.policies = append(d.policies, p)
	return nil
}

// DeletePolicy implements esp.DataPlane.
func (d *DataPlane) DeletePolicy(ctx context.Context, p esp.Policy) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.begin(Call{Method: "DeletePolicy", Policy: p}); err != nil {
		return err
	}
	n := len(d.policies)
	d.policies = slices.DeleteFunc(d.policies, func(q esp.Policy) bool { return samePolicy(p, q) })
	if len(d.policies) == n {
		return fmt.Errorf("%w: %s", esp.ErrPolicyNotFound, &p)
	}
	return nil
}

// SAStats implements esp.DataPlane: it returns what SetStats stored
// (zero counters for an SA without).
func (d *DataPlane) SAStats(id esp.SAID) (esp.SAStats, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.sas[key(id)] == nil {
		return esp.SAStats{}, fmt.Errorf("%w: %s", esp.ErrSANotFound, id)
	}
	return d.stats[key(id)], nil
}

// SetStats sets the counters SAStats reports for an installed SA.
func (d *DataPlane) SetStats(id esp.SAID, s esp.SAStats) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.stats[key(id)] = s
}

// Events implements esp.DataPlane.
func (d *DataPlane) Events() <-chan esp.Event { return d.events }

// Emit queues an event as the data plane would (it blocks if 64 events are
// already queued).
func (d *DataPlane) Emit(e esp.Event) { d.events <- e }

// Close implements esp.DataPlane.
func (d *DataPlane) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.closed {
		d.closed = true
		close(d.events)
	}
	return nil
}

// Calls returns the calls recorded so far, in order.
func (d *DataPlane) Calls() []Call {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.calls)
}

// SAs returns copies of the installed SAs, sorted by direction and SPI.
func (d *DataPlane) SAs() []*esp.SA {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []*esp.SA
	for _, sa := range d.sas {
		out = append(out, clone(sa))
	}
	slices.SortFunc(out, func(a, b *esp.SA) int {
		if a.Dir != b.Dir {
			return int(a.Dir) - int(b.Dir)
		}
		return int(int64(a.SPI) - int64(b.SPI))
	})
	return out
}

// SA returns a copy of the installed SA id, or nil.
func (d *DataPlane) SA(id esp.SAID) *esp.SA {
	d.mu.Lock()
	defer d.mu.Unlock()
	if sa := d.sas[key(id)]; sa != nil {
		return clone(sa)
	}
	return nil
}

// Policies returns the installed policies in installation order.
func (d *DataPlane) Policies() []esp.Policy {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.policies)
}
