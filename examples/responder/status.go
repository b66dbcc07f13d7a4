package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/goipsec/ipsec"
)

// controlSocket is the Unix socket in the state directory through which
// `status` reads the running server's SAs. Mode 0600: SA details are
// for root only.
const controlSocket = "control.sock"

// saStatus is one IKE SA as the control socket sends it: the library's
// snapshot with identities as text.
type saStatus struct {
	ipsec.IKESAInfo
	LocalID  string `json:"LocalID"`
	RemoteID string `json:"RemoteID"`
	// L2TP are the L2TP/IPsec sessions (with their PPP user and address)
	// carried by this IKEv1 SA's transport-mode IPsec SA.
	L2TP []l2tpSessionStatus `json:"L2TP,omitempty"`
}

// serveStatus answers every connection to STATE/control.sock with the
// SAs as JSON. It returns a function that stops it and removes the
// socket.
func serveStatus(stateDir string, sas func() []ipsec.IKESAInfo, log *slog.Logger) (stop func(), err error) {
	return serveControl(stateDir, sas, nil, nil, log)
}

// serveControl is serveStatus that also carries out `terminate` requests
// (control.go) through term, when set; l2tp (may be nil) lists the L2TP
// sessions, each shown under the IKE SA that carries it.
func serveControl(stateDir string, sas func() []ipsec.IKESAInfo, term terminator, l2tp func() []l2tpSessionStatus, log *slog.Logger) (stop func(), err error) {
	path := filepath.Join(stateDir, controlSocket)
	// A socket left by a killed instance would make Listen fail; a live
	// instance answers, and then we must not steal its socket.
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return nil, fmt.Errorf("%s: another responder is running with this state directory", path)
	}
	_ = os.Remove(path)
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return nil, err
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(path, 0o600); err != nil {
		l.Close()
		return nil, err
	}
	done := make(chan struct{})
	var conns sync.WaitGroup
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			// A terminate waits for the peer: one connection does not
			// hold up the next.
			conns.Go(func() {
				defer c.Close()
				req := readControlRequest(c)
				_ = c.SetWriteDeadline(time.Now().Add(controlWait))
				var answer any
				if req.Cmd == cmdTerminate {
					answer = runControlTerminate(term, req, log)
				} else {
					var out []saStatus
					for _, sa := range sas() {
						out = append(out, saStatus{IKESAInfo: sa, LocalID: sa.LocalID.String(), RemoteID: sa.RemoteID.String()})
					}
					if l2tp != nil {
						attachL2TP(out, l2tp())
					}
					answer = out
				}
				if err := json.NewEncoder(c).Encode(answer); err != nil {
					log.Debug("control client", "err", err)
				}
			})
		}
	}()
	return func() {
		l.Close()
		<-done
		conns.Wait()
		_ = os.Remove(path)
	}, nil
}

// runStatus prints the running server's SAs, like swanctl --list-sas.
func runStatus(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("responder status", flag.ContinueOnError)
	fs.SetOutput(stderr)
	stateDir := fs.String("state", defaultStateDir, "the responder's state `directory`")
	asJSON := fs.Bool("json", false, "print the SAs as JSON")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	c, ok := dialControl(*stateDir, "status", controlRequest{Cmd: cmdStatus}, stderr)
	if !ok {
		return 1
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	data, err := io.ReadAll(io.LimitReader(c, 64<<20))
	if err != nil {
		fmt.Fprintf(stderr, "responder status: %v\n", err)
		return 1
	}
	if *asJSON {
		stdout.Write(visibleJSON(data))
		return 0
	}
	var sas []saStatus
	if err := json.Unmarshal(data, &sas); err != nil {
		fmt.Fprintf(stderr, "responder status: bad answer from the server: %v\n", err)
		return 1
	}
	printStatus(stdout, sas, time.Now())
	return 0
}

// printStatus writes the SAs in swanctl --list-sas' layout.
func printStatus(w io.Writer, sas []saStatus, now time.Time) {
	if len(sas) == 0 {
		fmt.Fprintln(w, "no clients connected")
		return
	}
	ago := func(t time.Time) string {
		if t.IsZero() {
			return "?"
		}
		return now.Sub(t).Truncate(time.Second).String()
	}
	for i, sa := range sas {
		n := strconv.Itoa(i + 1) // a server without session IDs: the position
		if sa.SessionID != 0 {
			// What `responder terminate` takes, like swanctl's unique ID;
			// IKEv1 sessions are counted apart, as v1-N.
			n = sessionRef(sa.Version, sa.SessionID)
		}
		fmt.Fprintf(w, "#%s: %s, IKEv%d, %016x_i %016x_r, up %s\n", n, visible(sa.State), sa.Version, sa.SPIi, sa.SPIr, ago(sa.Established))
		fmt.Fprintf(w, "  local  %s [%s]\n", sa.Local, visible(sa.LocalID))
		nat := ""
		if sa.NATRemote {
			nat = " (behind NAT)"
		}
		fmt.Fprintf(w, "  remote %s [%s]%s", sa.Remote, visible(sa.RemoteID), nat)
		if sa.EAPIdentity != "" {
			// IKEv1 clients' user logs in with XAuth.
			how := "EAP"
			if sa.Version == 1 {
				how = "XAuth"
			}
			fmt.Fprintf(w, " %s: [%s]", how, visible(sa.EAPIdentity))
		}
		fmt.Fprintln(w)
		if len(sa.VirtualIPs) > 0 {
			fmt.Fprintf(w, "  virtual IPs %s\n", strings.Join(addrStrings(sa.VirtualIPs), " "))
		}
		fmt.Fprintf(w, "  %s\n", visible(sa.Proposal))
		for _, c := range sa.Children {
			mode := "TUNNEL"
			if c.Transport {
				mode = "TRANSPORT"
			}
			if c.UDPEncap {
				mode += "-in-UDP"
			}
			fmt.Fprintf(w, "  %s: %s, %s, SPIs %08x_i %08x_o, %s, up %s\n", visible(c.Name), visible(c.State), mode, c.SPIIn, c.SPIOut, visible(c.Proposal), ago(c.Established))
			fmt.Fprintf(w, "    in  %d bytes, %d packets\n    out %d bytes, %d packets\n", c.BytesIn, c.PacketsIn, c.BytesOut, c.PacketsOut)
			fmt.Fprintf(w, "    local  %s\n    remote %s\n", visible(strings.Join(c.LocalTS, " ")), visible(strings.Join(c.RemoteTS, " ")))
		}
		for _, l := range sa.L2TP {
			addr := l.Addr
			if addr == "" {
				addr = "no address yet"
			}
			fmt.Fprintf(w, "  L2TP: [%s] %s, %s, %s, tunnel %d session %d, host [%s], up %s\n", visible(l.User), visible(l.Auth), addr, visible(l.State), l.Tunnel, l.Session, visible(l.HostName), ago(l.Up))
			fmt.Fprintf(w, "    in  %d bytes, %d packets\n    out %d bytes\n", l.BytesIn, l.PacketsIn, l.BytesOut)
		}
	}
}

// visible returns s as it may go to a terminal. Peers choose identities
// (a DN in their certificate, an EAP identity) and the server's answer
// is read from a socket, so every string is untrusted: control
// characters, DEL, C1 controls (CSI is U+009B), format characters such as
// bidi overrides, other non-printing runes and invalid UTF-8 become
// visible escapes in Go's notation (\n, \x1b, \u202e, \xff);
// printable UTF-8 stays as it is. Backslashes are left alone so DNs stay
// readable ("CN=a\,b"): the output is for eyes, not for parsing.
func visible(s string) string {
	clean := true
	for _, r := range s {
		if !shown(r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case shown(r):
			b.WriteString(s[i : i+n])
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x80:
			fmt.Fprintf(&b, `\x%02x`, r)
		case r <= 0xffff:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			fmt.Fprintf(&b, `\U%08x`, r)
		}
		i += n
	}
	return b.String()
}

// shown reports whether r is printed as it is: printable, and not an
// invalid-UTF-8 replacement.
func shown(r rune) bool {
	return r != utf8.RuneError && (r == ' ' || unicode.IsPrint(r))
}

// visibleJSON escapes, in the JSON text b, the runes encoding/json leaves
// raw although a terminal may act on them (DEL, C1 controls, format and
// other non-printing characters) as \uXXXX, and invalid UTF-8 as
// \ufffd. Outside strings JSON has only ASCII, so the result is the same
// JSON value.
func visibleJSON(b []byte) []byte {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			out = append(out, `\ufffd`...)
		case r < 0x7f || unicode.IsPrint(r):
			out = append(out, b[i:i+n]...)
		default:
			for _, u := range utf16.AppendRune(nil, r) {
				out = fmt.Appendf(out, `\u%04x`, u)
			}
		}
		i += n
	}
	return out
}

// attachL2TP puts each L2TP session under the IKE SA that carries it: the
// one with a transport-mode IPsec SA of the session's ReqID (userspace data
// plane), else the first IKEv1 SA from the session's peer address.
func attachL2TP(sas []saStatus, sessions []l2tpSessionStatus) {
	for _, l := range sessions {
		best, byAddr := -1, -1
		for i := range sas {
			sa := &sas[i]
			if sa.Version != 1 {
				continue
			}
			for _, c := range sa.Children {
				if c.Transport && l.reqID != 0 && c.ReqID == l.reqID {
					best = i
				}
			}
			if byAddr < 0 && sa.Remote.Addr() == l.peerAddr {
				byAddr = i
			}
		}
		if best < 0 {
			best = byAddr
		}
		if best >= 0 {
			sas[best].L2TP = append(sas[best].L2TP, l)
		}
	}
}
