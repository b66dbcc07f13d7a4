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
	"strings"
	"time"

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
}

// serveStatus answers every connection to STATE/control.sock with the
// SAs as JSON. It returns a function that stops it and removes the
// socket.
func serveStatus(stateDir string, sas func() []ipsec.IKESAInfo, log *slog.Logger) (stop func(), err error) {
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
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			var out []saStatus
			for _, sa := range sas() {
				out = append(out, saStatus{IKESAInfo: sa, LocalID: sa.LocalID.String(), RemoteID: sa.RemoteID.String()})
			}
			_ = c.SetWriteDeadline(time.Now().Add(5 * time.Second))
			if err := json.NewEncoder(c).Encode(out); err != nil {
				log.Debug("status client", "err", err)
			}
			c.Close()
		}
	}()
	return func() {
		l.Close()
		<-done
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
	c, err := net.DialTimeout("unix", filepath.Join(*stateDir, controlSocket), 5*time.Second)
	if err != nil {
		fmt.Fprintf(stderr, "responder status: is the responder running with -state %s? %v\n", *stateDir, err)
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
		stdout.Write(data)
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
		fmt.Fprintf(w, "#%d: %s, IKEv%d, %016x_i %016x_r, up %s\n", i+1, sa.State, sa.Version, sa.SPIi, sa.SPIr, ago(sa.Established))
		fmt.Fprintf(w, "  local  %s [%s]\n", sa.Local, sa.LocalID)
		nat := ""
		if sa.NATRemote {
			nat = " (behind NAT)"
		}
		fmt.Fprintf(w, "  remote %s [%s]%s", sa.Remote, sa.RemoteID, nat)
		if sa.EAPIdentity != "" {
			fmt.Fprintf(w, " EAP: [%s]", sa.EAPIdentity)
		}
		fmt.Fprintln(w)
		if len(sa.VirtualIPs) > 0 {
			fmt.Fprintf(w, "  virtual IPs %s\n", strings.Join(addrStrings(sa.VirtualIPs), " "))
		}
		fmt.Fprintf(w, "  %s\n", sa.Proposal)
		for _, c := range sa.Children {
			mode := "TUNNEL"
			if c.Transport {
				mode = "TRANSPORT"
			}
			if c.UDPEncap {
				mode += "-in-UDP"
			}
			fmt.Fprintf(w, "  %s: %s, %s, SPIs %08x_i %08x_o, %s, up %s\n", c.Name, c.State, mode, c.SPIIn, c.SPIOut, c.Proposal, ago(c.Established))
			fmt.Fprintf(w, "    in  %d bytes, %d packets\n    out %d bytes, %d packets\n", c.BytesIn, c.PacketsIn, c.BytesOut, c.PacketsOut)
			fmt.Fprintf(w, "    local  %s\n    remote %s\n", strings.Join(c.LocalTS, " "), strings.Join(c.RemoteTS, " "))
		}
	}
}
