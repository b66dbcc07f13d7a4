package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/goipsec/ipsec/ike"
)

// The control socket's protocol: the client sends one JSON request line
// and half-closes; the server answers with one JSON value and closes. A
// client that sends nothing (a `status` of an older version) gets the
// status after controlWait.
const (
	cmdStatus    = "status"
	cmdTerminate = "terminate"
	// controlWait bounds reading a request and writing an answer.
	controlWait = 5 * time.Second
	// terminateTimeout bounds a terminate request: the engine waits a few
	// seconds per peer for the answer to its Delete.
	terminateTimeout = 30 * time.Second
)

// controlRequest is one request on the control socket.
type controlRequest struct {
	Cmd  string `json:"Cmd"`
	ID   uint64 `json:"ID,omitempty"`   // terminate: the session ID status shows as #N
	User string `json:"User,omitempty"` // terminate: every session of this user
	// V1 says ID is an IKEv1 session (status shows it as v1-N): the two
	// engines number their sessions apart.
	V1 bool `json:"V1,omitempty"`
}

// terminateAnswer is the server's answer to a terminate request.
type terminateAnswer struct {
	Terminated int    `json:"Terminated"`
	Error      string `json:"Error,omitempty"`
}

// terminator is what the control socket needs of the responder.
type terminator interface {
	Terminate(ctx context.Context, id uint64) error
	TerminateUser(ctx context.Context, name string) int
}

// v1Terminator is a terminator that also ends IKEv1 sessions.
type v1Terminator interface {
	TerminateV1(id uint64) error
}

// v1SessionPrefix marks an IKEv1 session number in status and terminate.
const v1SessionPrefix = "v1-"

// sessionRef is how status names a session and terminate takes it.
func sessionRef(version int, id uint64) string {
	if version == 1 {
		return v1SessionPrefix + strconv.FormatUint(id, 10)
	}
	return strconv.FormatUint(id, 10)
}

// parseSessionRef reads N (IKEv2) or v1-N (IKEv1).
func parseSessionRef(s string) (id uint64, v1 bool, err error) {
	rest, v1 := strings.CutPrefix(s, v1SessionPrefix)
	id, err = strconv.ParseUint(rest, 10, 64)
	return id, v1, err
}

func sendControlRequest(c net.Conn, req controlRequest) {
	_ = c.SetWriteDeadline(time.Now().Add(controlWait))
	b, _ := json.Marshal(req)
	_, _ = c.Write(append(b, '\n'))
	if uc, ok := c.(*net.UnixConn); ok {
		_ = uc.CloseWrite()
	}
}

// readControlRequest reads the request line; nothing, or anything it
// cannot parse, asks for the status.
func readControlRequest(c net.Conn) controlRequest {
	_ = c.SetReadDeadline(time.Now().Add(controlWait))
	line, _ := bufio.NewReader(io.LimitReader(c, 4096)).ReadBytes('\n')
	var req controlRequest
	if json.Unmarshal(line, &req) != nil {
		return controlRequest{Cmd: cmdStatus}
	}
	return req
}

// runControlTerminate carries out a terminate request.
func runControlTerminate(term terminator, req controlRequest, log *slog.Logger) terminateAnswer {
	if term == nil {
		return terminateAnswer{Error: "this server does not terminate sessions"}
	}
	ctx, cancel := context.WithTimeout(context.Background(), terminateTimeout)
	defer cancel()
	if req.User != "" {
		n := term.TerminateUser(ctx, req.User)
		log.Info("sessions terminated by the operator", "user", req.User, "sessions", n)
		return terminateAnswer{Terminated: n}
	}
	if req.V1 {
		t1, ok := term.(v1Terminator)
		if !ok || t1.TerminateV1(req.ID) != nil {
			return terminateAnswer{Error: fmt.Sprintf("no session #%s (see responder status)", sessionRef(1, req.ID))}
		}
		log.Info("session terminated by the operator", "session", sessionRef(1, req.ID))
		return terminateAnswer{Terminated: 1}
	}
	if err := term.Terminate(ctx, req.ID); err != nil {
		if errors.Is(err, ike.ErrSANotFound) {
			return terminateAnswer{Error: fmt.Sprintf("no session #%d (see responder status)", req.ID)}
		}
		return terminateAnswer{Error: err.Error()}
	}
	log.Info("session terminated by the operator", "session", req.ID)
	return terminateAnswer{Terminated: 1}
}

// runTerminate ends a session of the running server, like swanctl
// --terminate --ike-id: by the #N `status` shows, or every session of a
// user.
func runTerminate(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("responder terminate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	stateDir := fs.String("state", defaultStateDir, "the responder's state `directory`")
	user := fs.String("user", "", "end every session of the user `NAME` (EAP name, or the IKE identity of a certificate or PSK peer)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: responder terminate [-state DIR] ID | v1-ID | -user NAME")
		fs.PrintDefaults()
	}
	// The ID may come before the flags: responder terminate 3 -state DIR.
	var id uint64
	haveID, v1 := false, false
	if len(args) > 0 {
		if n, isV1, err := parseSessionRef(args[0]); err == nil {
			id, v1, haveID, args = n, isV1, true, args[1:]
		}
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if !haveID && fs.NArg() == 1 {
		n, isV1, err := parseSessionRef(fs.Arg(0))
		if err != nil {
			fmt.Fprintf(stderr, "responder terminate: %q is not a session number (the #N or #v1-N of responder status)\n", fs.Arg(0))
			return 2
		}
		id, v1, haveID = n, isV1, true
	} else if fs.NArg() > 0 {
		fs.Usage()
		return 2
	}
	if haveID == (*user != "") || haveID && id == 0 {
		fs.Usage()
		return 2
	}
	c, ok := dialControl(*stateDir, "terminate", controlRequest{Cmd: cmdTerminate, ID: id, User: *user, V1: v1}, stderr)
	if !ok {
		return 1
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(terminateTimeout + controlWait))
	var a terminateAnswer
	if err := json.NewDecoder(io.LimitReader(c, 4096)).Decode(&a); err != nil {
		fmt.Fprintf(stderr, "responder terminate: bad answer from the server: %v\n", err)
		return 1
	}
	switch {
	case a.Error != "":
		fmt.Fprintf(stderr, "responder terminate: %s\n", visible(a.Error))
		return 1
	case *user != "":
		fmt.Fprintf(stdout, "terminated %d session(s) of %s\n", a.Terminated, visible(*user))
	default:
		fmt.Fprintf(stdout, "terminated session #%s\n", sessionRef(map[bool]int{true: 1, false: 2}[v1], id))
	}
	return 0
}

// dialControl connects to the running responder's control socket in
// stateDir and sends req; on failure it tells the user of command what
// to check.
func dialControl(stateDir, command string, req controlRequest, stderr io.Writer) (net.Conn, bool) {
	c, err := net.DialTimeout("unix", filepath.Join(stateDir, controlSocket), 5*time.Second)
	if err != nil {
		fmt.Fprintf(stderr, "responder %s: is the responder running with -state %s? %v\n", command, stateDir, err)
		return nil, false
	}
	sendControlRequest(c, req)
	return c, true
}
