package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/goipsec/ipsec"
	"github.com/goipsec/ipsec/eap"
	"github.com/goipsec/ipsec/ike"
	"github.com/goipsec/ipsec/radius"
	"github.com/goipsec/ipsec/xauth"
)

// RadiusConfig is the radius: section: the company's RADIUS servers
// check the passwords (EAP of the IKEv2 clients, XAuth of the IKEv1
// clients, PPP of the L2TP clients), receive accounting, and may end
// sessions with a Disconnect-Request (RFC 5176).
type RadiusConfig struct {
	// Servers are tried in order; one that does not answer is skipped
	// for a minute.
	Servers []RadiusServerConfig `yaml:"servers"`
	// NASIdentifier is sent as NAS-Identifier ("goipsec" when empty).
	NASIdentifier string `yaml:"nas_identifier"`
	// EAP relays the IKEv2 clients' EAP to the servers instead of
	// checking users:.
	EAP bool `yaml:"eap"`
	// XAuth checks the IKEv1 clients' XAuth passwords over RADIUS (PAP).
	XAuth bool `yaml:"xauth"`
	// PPP checks the L2TP clients' PPP logins (MS-CHAPv2, CHAP-MD5,
	// PAP) over RADIUS.
	PPP bool `yaml:"ppp"`
	// Accounting reports the IKEv2 sessions to the servers.
	Accounting RadiusAccountingConfig `yaml:"accounting"`
	// DAE serves Disconnect- and CoA-Requests.
	DAE RadiusDAEConfig `yaml:"dae"`
}

// RadiusServerConfig is one RADIUS server.
type RadiusServerConfig struct {
	// Address is host[:port] of authentication (port 1812 when left out).
	Address string `yaml:"address"`
	// Secret is the shared secret, or SecretFile a file holding it (one
	// line); never both.
	Secret     string `yaml:"secret"`
	SecretFile string `yaml:"secret_file"`
	// Timeout is one try's wait ("3s" when empty); Retries the
	// retransmissions after it (0: two, -1: none).
	Timeout string `yaml:"timeout"`
	Retries int    `yaml:"retries"`
	// AcctPort is the server's accounting port (1813 when zero).
	AcctPort int `yaml:"acct_port"`
}

// RadiusAccountingConfig turns accounting on.
type RadiusAccountingConfig struct {
	// Enabled sends Start and Stop (and Interim-Updates with Interim).
	Enabled bool `yaml:"enabled"`
	// Interim is the Interim-Update interval ("": none; at least 1m).
	Interim string `yaml:"interim"`
}

// RadiusDAEConfig is the Dynamic Authorization server.
type RadiusDAEConfig struct {
	// Listen is host:port to listen on ("": off; 3799 is the port).
	Listen string `yaml:"listen"`
	// Clients may send requests, each with its own secret.
	Clients []RadiusDAEClient `yaml:"clients"`
}

// RadiusDAEClient is a host allowed to send Disconnect-Requests.
type RadiusDAEClient struct {
	// Address is the client's source IP address.
	Address string `yaml:"address"`
	// Secret or SecretFile is its shared secret, as for a server.
	Secret     string `yaml:"secret"`
	SecretFile string `yaml:"secret_file"`
}

// radiusSettings is a validated RadiusConfig.
type radiusSettings struct {
	auth, acct []radius.Server
	nasID      string
	eap        bool
	xauth      bool
	ppp        bool
	accounting bool
	interim    time.Duration
	daeListen  string
	daeClients []radius.DAEClient
}

// enabled reports whether anything uses RADIUS.
func (r *radiusSettings) enabled() bool {
	return r != nil && (r.eap || r.xauth || r.ppp || r.accounting || r.daeListen != "")
}

// readSecret returns secret or the first line of file, for field.
func readSecret(field, secret, file string) (ipsec.Secret, error) {
	switch {
	case secret != "" && file != "":
		return nil, fieldErr(field+".secret_file", "either secret or secret_file, not both")
	case file != "":
		b, err := readFileLimited(file, maxSecretFile)
		if err != nil {
			return nil, &fieldError{Field: field + ".secret_file", Err: err}
		}
		secret = strings.TrimRight(string(b), "\r\n")
	}
	// The secret itself never appears in an error.
	if secret == "" {
		return nil, fieldErr(field+".secret", "empty shared secret")
	}
	if len(secret) > 128 {
		return nil, fieldErr(field+".secret", "shared secret longer than 128 characters")
	}
	return ipsec.Secret(secret), nil
}

// hostPort splits "host[:port]" and puts def when the port is missing.
func hostPort(s string, def int) (host string, port int, err error) {
	h, p, err := net.SplitHostPort(s)
	if err != nil {
		// No port: a bare host or IPv6 address.
		h, p = strings.Trim(s, "[]"), strconv.Itoa(def)
	}
	port, err = strconv.Atoi(p)
	if err != nil || port < 1 || port > 65535 {
		return "", 0, fmt.Errorf("%q: port %q is not 1..65535", s, p)
	}
	if _, err := netip.ParseAddr(h); err != nil && !validDNSName(h) {
		return "", 0, fmt.Errorf("%q is not an address or host name", s)
	}
	return h, port, nil
}

// check validates the radius: section.
func (c *RadiusConfig) check() (*radiusSettings, error) {
	r := &radiusSettings{nasID: strings.TrimSpace(c.NASIdentifier), eap: c.EAP, xauth: c.XAuth, ppp: c.PPP,
		accounting: c.Accounting.Enabled, daeListen: strings.TrimSpace(c.DAE.Listen)}
	if r.nasID == "" {
		r.nasID = "goipsec"
	}
	if len(r.nasID) > 253 {
		return nil, fieldErr("radius.nas_identifier", "longer than 253 characters")
	}
	for i, s := range c.Servers {
		field := fmt.Sprintf("radius.servers[%d]", i)
		host, port, err := hostPort(strings.TrimSpace(s.Address), 1812)
		if err != nil {
			return nil, fieldErr(field+".address", "%v", err)
		}
		secret, err := readSecret(field, s.Secret, s.SecretFile)
		if err != nil {
			return nil, err
		}
		var timeout time.Duration
		if s.Timeout != "" {
			if timeout, err = time.ParseDuration(s.Timeout); err != nil || timeout < 100*time.Millisecond || timeout > time.Minute {
				return nil, fieldErr(field+".timeout", "%q is not a duration of 100ms..1m", s.Timeout)
			}
		}
		if s.Retries < -1 || s.Retries > 10 {
			return nil, fieldErr(field+".retries", "%d is outside -1..10", s.Retries)
		}
		acctPort := s.AcctPort
		if acctPort == 0 {
			acctPort = 1813
		}
		if acctPort < 1 || acctPort > 65535 {
			return nil, fieldErr(field+".acct_port", "%d is not 1..65535", s.AcctPort)
		}
		srv := radius.Server{Addr: net.JoinHostPort(host, strconv.Itoa(port)), Secret: secret, Timeout: timeout, Retries: s.Retries}
		r.auth = append(r.auth, srv)
		srv.Addr = net.JoinHostPort(host, strconv.Itoa(acctPort))
		r.acct = append(r.acct, srv)
	}
	if len(r.auth) == 0 {
		for _, k := range []struct {
			on   bool
			name string
		}{{r.eap, "eap"}, {r.xauth, "xauth"}, {r.ppp, "ppp"}, {r.accounting, "accounting.enabled"}} {
			if k.on {
				return nil, fieldErr("radius."+k.name, "needs radius.servers")
			}
		}
	}
	if c.Accounting.Interim != "" {
		d, err := time.ParseDuration(c.Accounting.Interim)
		if err != nil || d < ike.MinAccountingInterim {
			return nil, fieldErr("radius.accounting.interim", "%q is not a duration of at least %v", c.Accounting.Interim, ike.MinAccountingInterim)
		}
		if !r.accounting {
			return nil, fieldErr("radius.accounting.interim", "set without radius.accounting.enabled")
		}
		r.interim = d
	}
	if r.daeListen != "" {
		if _, _, err := net.SplitHostPort(r.daeListen); err != nil {
			return nil, fieldErr("radius.dae.listen", "%q is not HOST:PORT (e.g. 0.0.0.0:3799)", r.daeListen)
		}
		if _, _, err := hostPort(r.daeListen, radius.DefaultDAEPort); err != nil && !strings.HasPrefix(r.daeListen, ":") {
			return nil, fieldErr("radius.dae.listen", "%v", err)
		}
		if len(c.DAE.Clients) == 0 {
			return nil, fieldErr("radius.dae.clients", "radius.dae.listen needs at least one client")
		}
	}
	for i, cl := range c.DAE.Clients {
		field := fmt.Sprintf("radius.dae.clients[%d]", i)
		a, err := netip.ParseAddr(strings.TrimSpace(cl.Address))
		if err != nil {
			return nil, fieldErr(field+".address", "%q is not an IP address", cl.Address)
		}
		secret, err := readSecret(field, cl.Secret, cl.SecretFile)
		if err != nil {
			return nil, err
		}
		r.daeClients = append(r.daeClients, radius.DAEClient{Addr: a.Unmap(), Secret: secret})
	}
	if !r.enabled() && len(r.auth) == 0 {
		return nil, nil
	}
	return r, nil
}

// replyUser turns an Access-Accept into the account the engines use:
// Framed-IP-Address and Framed-IPv6-Address as fixed addresses,
// Filter-Id and printable Class values as groups.
func replyUser(name string, r *radius.Reply) *ipsec.User {
	u := &ipsec.User{Name: name, Groups: r.Groups()}
	if r.UserName != "" {
		u.Name = r.UserName
	}
	for _, a := range []netip.Addr{r.FramedIP, r.FramedIPv6} {
		if a.IsValid() {
			u.Addresses = append(u.Addresses, a)
		}
	}
	return u
}

// radiusVerifier checks XAuth and PPP passwords over RADIUS: an
// ipsec.UserStore (LookupUser is the local store's, for what is not a
// password check) that is also an ipsec.PasswordVerifier.
type radiusVerifier struct {
	ipsec.UserStore
	c *radius.Client
}

// VerifyPassword sends the client's answer to the RADIUS servers.
func (v radiusVerifier) VerifyPassword(ctx context.Context, req *ipsec.PasswordRequest) (*ipsec.PasswordResult, error) {
	if nas, ok := xauth.NASFromContext(ctx); ok {
		if _, has := eap.NASFromContext(ctx); !has {
			// The IKEv1 engine's NAS context, for the Access-Request.
			ctx = eap.ContextWithNAS(ctx, eap.NAS{ClientAddr: nas.ClientAddr, LocalAddr: nas.LocalAddr, SPIi: nas.CookieI, SPIr: nas.CookieR, SessionID: nas.SessionID, Port: nas.Port})
		}
	}
	var (
		r   *radius.Reply
		err error
	)
	switch req.Method {
	case ipsec.PasswordPAP:
		r, err = v.c.PAP(ctx, req.Name, req.Password)
	case ipsec.PasswordCHAPMD5:
		r, err = v.c.CHAP(ctx, req.Name, req.ID, req.Challenge, req.Response)
	case ipsec.PasswordMSCHAPv2:
		r, err = v.c.MSCHAPv2(ctx, req.Name, req.ID, req.Challenge, req.PeerChallenge, req.Response)
	default:
		return nil, fmt.Errorf("radius: %s not supported", req.Method)
	}
	if err != nil {
		return nil, err
	}
	if !r.Accepted {
		return nil, ipsec.ErrPasswordRejected
	}
	res := &ipsec.PasswordResult{User: replyUser(req.Name, r), MPPESendKey: r.MPPESendKey, MPPERecvKey: r.MPPERecvKey}
	if len(r.MSCHAP2Success) > 1 {
		res.AuthenticatorResponse = string(r.MSCHAP2Success[1:]) // after the identifier octet
	}
	return res, nil
}

// radiusSessions remembers, per IKEv2 session, what the Access-Accept
// said beyond the user (the User-Name to account under, Class,
// Session-Timeout) and applies it: Class and the name go into the
// accounting records, Session-Timeout ends the session (Acct-Terminate-
// Cause Session-Timeout; the engine has no per-session reauthentication
// time to set instead).
type radiusSessions struct {
	log       *slog.Logger
	now       func() time.Time
	terminate func(ctx context.Context, id uint64) error

	mu sync.Mutex
	m  map[uint64]*radiusSession
}

type radiusSession struct {
	userName string
	class    [][]byte
	// framed are Framed-IP-Address and Framed-IPv6-Address: the engine
	// leaves fixed addresses out of IKESAInfo.VirtualIPs, which lists
	// pool leases only.
	framed   []netip.Addr
	timeout  time.Duration
	accepted time.Time
	started  bool
	timer    *time.Timer
	cause    radius.TerminateCause // why we ended it, when we did
}

// maxPendingAccepts bounds the accepted conversations whose IKE SA has
// not come up (yet); unstartedTTL is how long one is kept.
const (
	maxPendingAccepts = 65536
	unstartedTTL      = 2 * time.Minute
)

func newRadiusSessions(log *slog.Logger) *radiusSessions {
	return &radiusSessions{log: log, now: time.Now, m: map[uint64]*radiusSession{}}
}

// onAccept is EAPBackend.OnAccept: the context carries the session's
// eap.NAS.
func (rs *radiusSessions) onAccept(ctx context.Context, identity string, r *radius.Reply) {
	nas, ok := eap.NASFromContext(ctx)
	if !ok {
		return
	}
	s := &radiusSession{userName: r.UserName, timeout: r.SessionTimeout, accepted: rs.now()}
	for _, a := range []netip.Addr{r.FramedIP, r.FramedIPv6} {
		if a.IsValid() {
			s.framed = append(s.framed, a)
		}
	}
	for _, c := range r.Class {
		s.class = append(s.class, slices.Clone(c))
	}
	rs.mu.Lock()
	defer rs.mu.Unlock()
	now := rs.now()
	for id, o := range rs.m {
		if !o.started && now.Sub(o.accepted) > unstartedTTL {
			delete(rs.m, id)
		}
	}
	if old := rs.m[nas.SessionID]; old != nil {
		// A reauthentication of a running session: the new answer wins,
		// the session keeps running.
		s.started = old.started
		if old.timer != nil {
			old.timer.Stop()
		}
		if s.started {
			rs.armLocked(nas.SessionID, s)
		}
	} else if len(rs.m) >= maxPendingAccepts {
		rs.log.Warn("radius: too many sessions waiting for their IKE SA; Class and Session-Timeout of this one are not kept", "eap", identity)
		return
	}
	rs.m[nas.SessionID] = s
}

// armLocked starts the Session-Timeout of a running session.
func (rs *radiusSessions) armLocked(id uint64, s *radiusSession) {
	timeout := s.timeout
	if timeout <= 0 || rs.terminate == nil {
		return
	}
	s.timer = time.AfterFunc(timeout, func() {
		rs.mu.Lock()
		if cur := rs.m[id]; cur == s {
			s.cause = radius.CauseSessionTimeout
		}
		rs.mu.Unlock()
		rs.log.Info("radius Session-Timeout reached: ending the session", "session", id, "timeout", timeout.String())
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := rs.terminate(ctx, id); err != nil && !errors.Is(err, ike.ErrSANotFound) {
			rs.log.Warn("radius Session-Timeout: ending the session", "session", id, "err", err)
		}
	})
}

// acctInfo is what a session's accounting records and DAE matching
// take from its Access-Accept.
type acctInfo struct {
	userName string
	class    [][]byte
	framed   []netip.Addr
	cause    radius.TerminateCause
}

func (s *radiusSession) info() acctInfo {
	return acctInfo{userName: s.userName, class: s.class, framed: s.framed, cause: s.cause}
}

// started marks a session up and returns what its records carry.
func (rs *radiusSessions) started(id uint64) acctInfo {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	s := rs.m[id]
	if s == nil {
		return acctInfo{}
	}
	if !s.started {
		s.started = true
		rs.armLocked(id, s)
	}
	return s.info()
}

// get returns what a running session's records carry.
func (rs *radiusSessions) get(id uint64) acctInfo {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if s := rs.m[id]; s != nil {
		return s.info()
	}
	return acctInfo{}
}

// setCause records why we are about to end a session.
func (rs *radiusSessions) setCause(id uint64, c radius.TerminateCause) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if s := rs.m[id]; s != nil && s.cause == 0 {
		s.cause = c
	}
}

// stopped forgets a session and returns its records' fields.
func (rs *radiusSessions) stopped(id uint64) acctInfo {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	s := rs.m[id]
	if s == nil {
		return acctInfo{}
	}
	delete(rs.m, id)
	if s.timer != nil {
		s.timer.Stop()
	}
	return s.info()
}

// setTimeout applies a CoA's Session-Timeout to a running session,
// counted from now.
func (rs *radiusSessions) setTimeout(id uint64, d time.Duration) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	s := rs.m[id]
	if s == nil {
		s = &radiusSession{accepted: rs.now(), started: true}
		rs.m[id] = s
	}
	if s.timer != nil {
		s.timer.Stop()
		s.timer = nil
	}
	s.timeout = d
	if s.started {
		rs.armLocked(id, s)
	}
}

// radiusAccounting adapts ike.Accounting to radius.Accounting: one
// Acct-Session-Id per session (radius.SessionID of the engine's
// SessionID, which survives rekeys and reauthentications) and the
// session's cumulative counters. With acct nil (radius.eap without
// accounting) it only follows the sessions' life for Session-Timeout.
type radiusAccounting struct {
	acct     *radius.Accounting
	sessions *radiusSessions
}

func (a *radiusAccounting) send(r radius.AccountingRecord) {
	if a.acct != nil {
		a.acct.Send(r)
	}
}

func (a *radiusAccounting) record(status radius.AcctStatus, r ike.AccountingRecord, acc acctInfo) radius.AccountingRecord {
	i := r.Info
	rec := radius.AccountingRecord{
		Status:      status,
		SessionID:   radius.SessionID(r.SessionID),
		UserName:    acc.userName,
		Class:       acc.class,
		NAS:         eap.NAS{ClientAddr: i.Remote, LocalAddr: i.Local, SPIi: i.SPIi, SPIr: i.SPIr, SessionID: r.SessionID, Port: r.NASPort},
		InputOctets: i.BytesIn, OutputOctets: i.BytesOut,
		InputPackets: i.PacketsIn, OutputPackets: i.PacketsOut,
		Time: r.Time,
	}
	if status != radius.AcctStart {
		rec.SessionTime = r.Time.Sub(r.Started)
	}
	if rec.UserName == "" {
		rec.UserName = i.EAPIdentity
	}
	if rec.UserName == "" {
		rec.UserName = i.RemoteID.String()
	}
	for _, v := range append(slices.Clone(acc.framed), i.VirtualIPs...) {
		switch {
		case v.Is4() && !rec.FramedIP.IsValid():
			rec.FramedIP = v
		case v.Is6() && !rec.FramedIPv6.IsValid():
			rec.FramedIPv6 = v
		}
	}
	return rec
}

// Start implements ike.Accounting.
func (a *radiusAccounting) Start(r ike.AccountingRecord) {
	a.send(a.record(radius.AcctStart, r, a.sessions.started(r.SessionID)))
}

// Interim implements ike.Accounting.
func (a *radiusAccounting) Interim(r ike.AccountingRecord) {
	a.send(a.record(radius.AcctInterim, r, a.sessions.get(r.SessionID)))
}

// Stop implements ike.Accounting.
func (a *radiusAccounting) Stop(r ike.AccountingRecord) {
	acc := a.sessions.stopped(r.SessionID)
	rec := a.record(radius.AcctStop, r, acc)
	rec.TerminateCause = acc.cause
	if acc.cause == 0 {
		rec.TerminateCause = terminateCause(r.Err)
	}
	a.send(rec)
}

// terminateCause maps why the engine ended a session to RFC 2866
// section 5.10.
func terminateCause(err error) radius.TerminateCause {
	switch {
	case err == nil, errors.Is(err, ike.ErrPeerDeleted):
		return radius.CauseUserRequest
	case errors.Is(err, ike.ErrTerminated):
		return radius.CauseAdminReset
	case errors.Is(err, ike.ErrTimeout):
		return radius.CauseLostCarrier
	case errors.Is(err, ike.ErrClosed):
		return radius.CauseAdminReboot
	}
	return radius.CauseNASError
}

// daeMatch returns the matcher of the IKEv2 sessions a Disconnect- or
// CoA-Request names: every attribute present must match.
func daeMatch(q radius.SessionQuery, rs *radiusSessions) func(ipsec.IKESAInfo) bool {
	return func(i ipsec.IKESAInfo) bool {
		if q.SessionID != "" && q.SessionID != radius.SessionID(i.SessionID) {
			return false
		}
		acc := rs.get(i.SessionID)
		if q.UserName != "" && q.UserName != acc.userName && q.UserName != i.EAPIdentity && q.UserName != i.RemoteID.String() {
			return false
		}
		vips := append(slices.Clone(acc.framed), i.VirtualIPs...)
		if q.FramedIP.IsValid() && !slices.Contains(vips, q.FramedIP) {
			return false
		}
		if q.FramedIPv6.IsValid() && !slices.Contains(vips, q.FramedIPv6) {
			return false
		}
		if q.CallingStationID != "" && q.CallingStationID != i.Remote.Addr().Unmap().String() {
			return false
		}
		return q.SessionID != "" || q.UserName != "" || q.FramedIP.IsValid() || q.FramedIPv6.IsValid() || q.CallingStationID != ""
	}
}

// radiusRuntime is what serve starts for radius:.
type radiusRuntime struct {
	auth     *radius.Client
	acctC    *radius.Client
	acct     *radius.Accounting
	sessions *radiusSessions
	dae      *radius.DAEServer
	log      *slog.Logger
}

// startRadius makes the clients (sockets opened now, before privileges
// are dropped) and the accounting queue; nil for no radius:.
func startRadius(r *radiusSettings, log *slog.Logger) (*radiusRuntime, error) {
	if !r.enabled() {
		return nil, nil
	}
	rt := &radiusRuntime{sessions: newRadiusSessions(log), log: log}
	var err error
	if len(r.auth) > 0 {
		if rt.auth, err = radius.NewClient(radius.ClientConfig{Servers: r.auth, NASIdentifier: r.nasID, DeadTime: time.Minute, Logger: log}); err != nil {
			return nil, &fieldError{Field: "radius.servers", Err: err}
		}
		if err := rt.auth.Connect(); err != nil {
			rt.close()
			return nil, &fieldError{Field: "radius.servers", Err: err}
		}
	}
	if r.accounting {
		if rt.acctC, err = radius.NewClient(radius.ClientConfig{Servers: r.acct, NASIdentifier: r.nasID, DeadTime: time.Minute, Logger: log}); err != nil {
			rt.close()
			return nil, &fieldError{Field: "radius.servers", Err: err}
		}
		if err := rt.acctC.Connect(); err != nil {
			rt.close()
			return nil, &fieldError{Field: "radius.servers", Err: err}
		}
		rt.acct = radius.NewAccounting(rt.acctC, radius.AccountingConfig{Logger: log})
	}
	return rt, nil
}

// serveDAE starts the Disconnect/CoA server ending sessions of resp.
func (rt *radiusRuntime) serveDAE(r *radiusSettings, resp *ike.Responder) error {
	if rt == nil || r.daeListen == "" {
		return nil
	}
	rt.sessions.terminate = resp.Terminate
	terminate := func(ctx context.Context, q radius.SessionQuery, why string) error {
		match := daeMatch(q, rt.sessions)
		var ids []uint64
		for _, i := range resp.SAs() {
			if match(i) && !slices.Contains(ids, i.SessionID) {
				ids = append(ids, i.SessionID)
			}
		}
		if len(ids) == 0 {
			return radius.ErrSessionNotFound
		}
		for _, id := range ids {
			rt.sessions.setCause(id, radius.CauseAdminReset)
		}
		n := resp.TerminateMatching(ctx, func(i ipsec.IKESAInfo) bool { return slices.Contains(ids, i.SessionID) })
		rt.log.Info("radius "+why+": sessions ended", "sessions", n)
		return nil
	}
	d, err := radius.NewDAEServer(radius.DAEConfig{
		Addr: r.daeListen, Clients: r.daeClients, NASIdentifier: r.nasID, Logger: rt.log,
		Disconnect: func(ctx context.Context, q radius.SessionQuery) error { return terminate(ctx, q, "Disconnect-Request") },
		CoA: func(ctx context.Context, q radius.SessionQuery, c radius.CoA) error {
			if c.SessionTimeout <= 0 {
				return nil
			}
			match := daeMatch(q, rt.sessions)
			found := false
			for _, i := range resp.SAs() {
				if match(i) {
					found = true
					rt.sessions.setTimeout(i.SessionID, c.SessionTimeout)
				}
			}
			if !found {
				return radius.ErrSessionNotFound
			}
			return nil
		},
	})
	if err != nil {
		return &fieldError{Field: "radius.dae.listen", Err: err}
	}
	rt.dae = d
	go func() {
		if err := d.Serve(context.Background()); err != nil && !errors.Is(err, net.ErrClosed) {
			rt.log.Warn("radius DAE server stopped", "err", err)
		}
	}()
	rt.log.Info("radius dynamic authorization", "listen", d.Addr().String(), "clients", len(r.daeClients))
	return nil
}

// close stops the DAE server, flushes the accounting queue (Stops of
// the last sessions included, for at most five seconds) and closes the
// sockets.
func (rt *radiusRuntime) close() {
	if rt == nil {
		return
	}
	if rt.dae != nil {
		rt.dae.Close()
	}
	if rt.acct != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		rt.acct.Close(ctx)
		cancel()
	}
	if rt.acctC != nil {
		rt.acctC.Close()
	}
	if rt.auth != nil {
		rt.auth.Close()
	}
}

// lintRadius asks every authentication server about a made-up user: an
// Access-Reject (or Accept) proves the server answers and shares our
// secret (a wrong secret fails the Response Authenticator check and
// looks like no answer); no answer is a finding. It reports whether all
// answered.
func lintRadius(ctx context.Context, r *radiusSettings, w io.Writer) bool {
	ok := true
	for i, srv := range r.auth {
		c, err := radius.NewClient(radius.ClientConfig{Servers: []radius.Server{srv}, NASIdentifier: r.nasID})
		if err == nil {
			err = c.Connect()
		}
		if err == nil {
			var reply *radius.Reply
			user := "goipsec-lint-" + randomPassword(8)
			reply, err = c.PAP(ctx, user, ipsec.Secret(randomPassword(20)))
			if err == nil {
				c.Close()
				fmt.Fprintf(w, "radius.servers[%d] %s: answers (%s for a made-up user)\n", i, srv.Addr, reply.Code)
				continue
			}
		}
		if c != nil {
			c.Close()
		}
		ok = false
		fmt.Fprintf(w, "radius.servers[%d] %s: no valid answer (down, blocked, or another shared secret): %v\n", i, srv.Addr, err)
	}
	return ok
}
