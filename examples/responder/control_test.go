package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/goipsec/ipsec"
	"github.com/goipsec/ipsec/ike"
)

// fakeTerminator records the requests and knows session 7 and user alice.
type fakeTerminator struct {
	mu    sync.Mutex
	calls []string
}

func (f *fakeTerminator) Terminate(_ context.Context, id uint64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprint("id ", id))
	if id != 7 {
		return fmt.Errorf("%w: %d", ike.ErrSANotFound, id)
	}
	return nil
}

func (f *fakeTerminator) TerminateUser(_ context.Context, name string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "user "+name)
	if name == "alice" {
		return 2
	}
	return 0
}

func TestTerminateCommand(t *testing.T) {
	state := t.TempDir()
	term := &fakeTerminator{}
	info := ipsec.IKESAInfo{Version: 2, SessionID: 7, State: "ESTABLISHED", EAPIdentity: "alice"}
	stop, err := serveControl(state, func() []ipsec.IKESAInfo { return []ipsec.IKESAInfo{info} }, term, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	run1 := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := run(context.Background(), append([]string{"terminate"}, args...), &out, &errb)
		return code, out.String(), errb.String()
	}
	// status shows the session ID terminate takes.
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"status", "-state", state}, &out, &errb); code != 0 || !strings.Contains(out.String(), "#7: ESTABLISHED") {
		t.Errorf("status: %d %q %q", code, out.String(), errb.String())
	}
	for _, tc := range []struct {
		args     []string
		code     int
		out, err string
	}{
		{[]string{"7", "-state", state}, 0, "terminated session #7", ""},
		{[]string{"-state", state, "7"}, 0, "terminated session #7", ""},
		{[]string{"-state", state, "8"}, 1, "", "no session #8"},
		{[]string{"-state", state, "-user", "alice"}, 0, "terminated 2 session(s) of alice", ""},
		{[]string{"-state", state, "-user", "nobody"}, 0, "terminated 0 session(s) of nobody", ""},
		{[]string{"-state", state}, 2, "", "usage"},
		{[]string{"-state", state, "0"}, 2, "", "usage"},
		{[]string{"-state", state, "x"}, 2, "", "not a session number"},
		{[]string{"-state", state, "-user", "alice", "7"}, 2, "", "usage"},
		{[]string{"-state", t.TempDir(), "7"}, 1, "", "is the responder running"},
	} {
		code, o, e := run1(tc.args...)
		if code != tc.code || !strings.Contains(o, tc.out) || !strings.Contains(e, tc.err) {
			t.Errorf("terminate %q: %d %q %q; want %d %q %q", tc.args, code, o, e, tc.code, tc.out, tc.err)
		}
	}
	term.mu.Lock()
	got := strings.Join(term.calls, ",")
	term.mu.Unlock()
	if want := "id 7,id 7,id 8,user alice,user nobody"; got != want {
		t.Errorf("requests %q, want %q", got, want)
	}
	// A client that sends no request (an older status) gets the status.
	c, err := net.Dial("unix", filepath.Join(state, controlSocket))
	if err != nil {
		t.Fatal(err)
	}
	c.(*net.UnixConn).CloseWrite()
	var b bytes.Buffer
	b.ReadFrom(c)
	c.Close()
	if !strings.Contains(b.String(), `"SessionID":7`) {
		t.Errorf("silent client got %q", b.String())
	}
}

// A server without a terminator (serveStatus) refuses terminate.
func TestTerminateCommandWithoutTerminator(t *testing.T) {
	state := t.TempDir()
	stop, err := serveStatus(state, func() []ipsec.IKESAInfo { return nil }, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"terminate", "-state", state, "3"}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "does not terminate") {
		t.Errorf("terminate: %d %q %q", code, out.String(), errb.String())
	}
}
