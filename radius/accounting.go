package radius

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/goipsec/ipsec/eap"
)

// AcctStatus is an Acct-Status-Type (RFC 2866 section 5.1).
type AcctStatus uint32

// Accounting record kinds.
const (
	AcctStart   AcctStatus = 1
	AcctStop    AcctStatus = 2
	AcctInterim AcctStatus = 3 // Interim-Update (RFC 2869 section 5.1)
)

// String returns the RADIUS dictionary name.
func (s AcctStatus) String() string {
	switch s {
	case AcctStart:
		return "Start"
	case AcctStop:
		return "Stop"
	case AcctInterim:
		return "Interim-Update"
	}
	return fmt.Sprintf("AcctStatus(%d)", uint32(s))
}

// TerminateCause is an Acct-Terminate-Cause (RFC 2866 section 5.10).
type TerminateCause uint32

// Terminate causes a VPN gateway reports.
const (
	CauseUserRequest    TerminateCause = 1  // the client deleted the SA
	CauseLostCarrier    TerminateCause = 2  // dead peer detection
	CauseLostService    TerminateCause = 3  // the SA failed (rekey error)
	CauseIdleTimeout    TerminateCause = 4  // idle timeout
	CauseSessionTimeout TerminateCause = 5  // Session-Timeout reached
	CauseAdminReset     TerminateCause = 6  // Disconnect-Request, operator
	CauseAdminReboot    TerminateCause = 7  // gateway shutting down
	CauseNASError       TerminateCause = 9  // local error
	CauseNASRequest     TerminateCause = 10 // the gateway deleted the SA
)

// AccountingRecord is one accounting event of a session; the
// embedder fills it from its own session records (an IKE responder from
// ike.AccountingRecord).
type AccountingRecord struct {
	// Status is Start, Interim-Update or Stop.
	Status AcctStatus
	// SessionID is the Acct-Session-Id; when empty, SessionID(NAS.SessionID).
	// It must stay the same for a session's Start, Interims and Stop.
	SessionID string
	// UserName is the User-Name (the name the server returned in the
	// Access-Accept, if it did, else the authenticated identity).
	UserName string
	// Class are the Access-Accept's Class values, echoed unchanged (RFC
	// 2865 section 5.25).
	Class [][]byte
	// FramedIP and FramedIPv6 are the client's virtual addresses.
	FramedIP, FramedIPv6 netip.Addr
	// NAS is the session's NAS context: the client's outer address
	// (Calling-Station-Id), our address and the NAS-Port.
	NAS eap.NAS
	// SessionTime is Acct-Session-Time (Interim and Stop).
	SessionTime time.Duration
	// InputOctets and OutputOctets are the session's cumulative byte
	// counters, from the client and to the client (RFC 2866 sections
	// 5.3, 5.4); values above 2^32 go out with Acct-Input/Output-
	// Gigawords (RFC 2869 section 5.1, 5.2).
	InputOctets, OutputOctets uint64
	// InputPackets and OutputPackets are the packet counters; the
	// attributes are 32 bits and wrap (RFC 2866 sections 5.8, 5.9).
	InputPackets, OutputPackets uint64
	// TerminateCause is sent with Stop.
	TerminateCause TerminateCause
	// Time is when the event happened (now when zero at Send);
	// Acct-Delay-Time counts from it and Event-Timestamp is it.
	Time time.Time
}

// AccountingConfig tunes an Accounting.
type AccountingConfig struct {
	// QueueLen bounds the records waiting to be sent
	// (DefaultAcctQueueLen when zero). When it is full the oldest
	// Interim-Update goes first, then the oldest record.
	QueueLen int
	// RetryPause is the wait before a record no server answered is
	// tried again (5 s when zero).
	RetryPause time.Duration
	// Logger gets a warning per dropped record (silent when nil).
	Logger *slog.Logger
}

// DefaultAcctQueueLen is the default bound of the accounting queue.
const DefaultAcctQueueLen = 4096

// AccountingStats are an Accounting's counters.
type AccountingStats struct {
	// Queued is the number of records waiting now.
	Queued int
	// Sent counts records a server acknowledged.
	Sent uint64
	// Dropped counts records dropped because the queue was full.
	Dropped uint64
	// Failed counts tries where no server answered (the record is kept
	// and tried again).
	Failed uint64
}

// Accounting sends accounting records (RFC 2866, RFC 2869) from a
// bounded queue through its Client, whose servers are accounting ports.
// Send never blocks: one goroutine sends the records in order,
// retransmits and fails over as the Client does, and updates
// Acct-Delay-Time on each retransmission (which makes a new Identifier,
// RFC 5080 section 2.2.1).
type Accounting struct {
	c     *Client
	cfg   AccountingConfig
	log   *slog.Logger
	mu    sync.Mutex
	queue []AccountingRecord
	wake  chan struct{}
	stop  chan struct{}
	done  chan struct{}
	once  sync.Once

	sent, dropped, failed atomic.Uint64
}

// NewAccounting starts an accounting sender on c. Call Close to stop it.
func NewAccounting(c *Client, cfg AccountingConfig) *Accounting {
	if cfg.QueueLen <= 0 {
		cfg.QueueLen = DefaultAcctQueueLen
	}
	if cfg.RetryPause <= 0 {
		cfg.RetryPause = 5 * time.Second
	}
	a := &Accounting{c: c, cfg: cfg, log: cfg.Logger, wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	go a.run()
	return a
}

// Send queues r and returns at once.
func (a *Accounting) Send(r AccountingRecord) {
	if r.Time.IsZero() {
		r.Time = a.c.now()
	}
	r.Class = slices.Clone(r.Class)
	a.mu.Lock()
	if len(a.queue) >= a.cfg.QueueLen {
		i := slices.IndexFunc(a.queue, func(q AccountingRecord) bool { return q.Status == AcctInterim })
		if i < 0 {
			i = 0
		}
		// Index 0 may be the record being sent; dropping it from the
		// queue only means it is not tried again after a failure.
		d := a.queue[i]
		a.queue = slices.Delete(a.queue, i, i+1)
		a.dropped.Add(1)
		a.log.Warn("radius accounting record dropped: queue full", "status", d.Status.String(), "session", d.SessionID)
	}
	a.queue = append(a.queue, r)
	a.mu.Unlock()
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

// Stats returns the counters.
func (a *Accounting) Stats() AccountingStats {
	a.mu.Lock()
	n := len(a.queue)
	a.mu.Unlock()
	return AccountingStats{Queued: n, Sent: a.sent.Load(), Dropped: a.dropped.Load(), Failed: a.failed.Load()}
}

// Close sends what is queued until ctx ends, then stops the sender.
// It does not close the Client.
func (a *Accounting) Close(ctx context.Context) error {
	var err error
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for err == nil && a.Stats().Queued > 0 {
		select {
		case <-ctx.Done():
			err = ctx.Err()
		case <-tick.C:
		}
	}
	a.once.Do(func() { close(a.stop) })
	<-a.done
	return err
}

func (a *Accounting) run() {
	defer close(a.done)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-a.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	for {
		a.mu.Lock()
		var r AccountingRecord
		have := len(a.queue) > 0
		if have {
			r = a.queue[0]
		}
		a.mu.Unlock()
		if !have {
			select {
			case <-a.wake:
				continue
			case <-a.stop:
				return
			}
		}
		err := a.send(ctx, r)
		if err == nil {
			a.sent.Add(1)
			a.mu.Lock()
			// Remove r unless Send dropped it meanwhile.
			if len(a.queue) > 0 && sameRecord(a.queue[0], r) {
				a.queue = a.queue[1:]
			}
			a.mu.Unlock()
			continue
		}
		if ctx.Err() != nil {
			return
		}
		a.failed.Add(1)
		a.log.Warn("radius accounting failed, will retry", "status", r.Status.String(), "session", r.SessionID, "err", err)
		select {
		case <-time.After(a.cfg.RetryPause):
		case <-a.stop:
			return
		}
	}
}

func sameRecord(a, b AccountingRecord) bool {
	return a.Status == b.Status && a.SessionID == b.SessionID && a.Time.Equal(b.Time) && a.NAS == b.NAS
}

// send sends one record and waits for the Accounting-Response.
func (a *Accounting) send(ctx context.Context, r AccountingRecord) error {
	_, err := a.c.exchange(ctx, exchangeOpts{code: CodeAccountingRequest, rebuild: true}, func(s *serverConn, id uint8) ([]byte, [16]byte, error) {
		p := a.c.accountingPacket(r)
		p.Identifier = id
		b, err := EncodeRequest(make([]byte, 0, 512), p, s.cfg.Secret, nil)
		return b, p.Authenticator, err
	})
	return err
}

// accountingPacket builds the Accounting-Request of r, with the
// Acct-Delay-Time of now (RFC 2866 section 5.2).
func (c *Client) accountingPacket(r AccountingRecord) *Packet {
	p := &Packet{Code: CodeAccountingRequest}
	p.AddUint32(TypeAcctStatusType, uint32(r.Status))
	sid := r.SessionID
	if sid == "" {
		sid = SessionID(r.NAS.SessionID)
	}
	p.AddString(TypeAcctSessionID, truncate(sid))
	if r.UserName != "" {
		p.AddString(TypeUserName, truncate(r.UserName))
	}
	nas := r.NAS
	nas.SessionID = 0 // Acct-Session-Id is above
	c.nasAttributes(p, nas, true)
	p.AddUint32(TypeServiceType, ServiceTypeFramed)
	p.AddUint32(TypeFramedProtocol, c.cfg.FramedProtocol)
	if ip := r.FramedIP.Unmap(); ip.Is4() {
		a := ip.As4()
		p.Add(TypeFramedIPAddress, a[:])
	}
	if r.FramedIPv6.Is6() && !r.FramedIPv6.Is4In6() {
		a := r.FramedIPv6.As16()
		p.Add(TypeFramedIPv6Address, a[:])
	}
	for _, cl := range r.Class {
		if len(cl) <= MaxAttrValueLen {
			p.Add(TypeClass, cl)
		}
	}
	if r.Status != AcctStart {
		p.AddUint32(TypeAcctSessionTime, uint32(r.SessionTime/time.Second))
		p.AddUint32(TypeAcctInputOctets, uint32(r.InputOctets))
		p.AddUint32(TypeAcctOutputOctets, uint32(r.OutputOctets))
		p.AddUint32(TypeAcctInputGigawords, uint32(r.InputOctets>>32))
		p.AddUint32(TypeAcctOutputGigawords, uint32(r.OutputOctets>>32))
		p.AddUint32(TypeAcctInputPackets, uint32(r.InputPackets))
		p.AddUint32(TypeAcctOutputPackets, uint32(r.OutputPackets))
	}
	if r.Status == AcctStop && r.TerminateCause != 0 {
		p.AddUint32(TypeAcctTerminateCause, uint32(r.TerminateCause))
	}
	p.AddUint32(TypeEventTimestamp, uint32(r.Time.Unix()))
	delay := max(c.now().Sub(r.Time), 0)
	p.AddUint32(TypeAcctDelayTime, uint32(delay/time.Second))
	return p
}

func truncate(s string) string {
	if len(s) > MaxAttrValueLen {
		return s[:MaxAttrValueLen]
	}
	return s
}
