package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestParseStatusCaps reads the capability lines of a /proc/PID/status
// as the kernel writes them.
func TestParseStatusCaps(t *testing.T) {
	status := "Name:\tresponder\nUmask:\t0022\nState:\tS (sleeping)\nUid:\t65534\t65534\t65534\t65534\nGid:\t65534\t65534\t65534\t0\nCapInh:\t0000000000000000\nCapPrm:\t0000000000003000\n" +
		"CapEff:\t0000000000001000\nCapBnd:\t000001ffffffffff\nCapAmb:\t0000000000000000\nNoNewPrivs:\t1\nSeccomp:\t0\n"
	tc, err := parseStatusCaps([]byte(status))
	if err != nil {
		t.Fatal(err)
	}
	if tc.eff != capsOf(unix.CAP_NET_ADMIN) || tc.prm != capsOf(unix.CAP_NET_ADMIN, unix.CAP_NET_RAW) || tc.inh != 0 || tc.amb != 0 ||
		tc.bnd != 1<<41-1 || !tc.noNewPrivs || !tc.hasNoNewPrivs || tc.uid != 65534 || tc.gid != -1 {
		t.Errorf("parsed %+v", tc)
	}
	if got := tc.prm.String(); got != "cap_net_admin,cap_net_raw" {
		t.Errorf("String() = %q", got)
	}
	if got := capSet(0).String(); got != "none" {
		t.Errorf("empty set: %q", got)
	}
	for _, bad := range []string{"Name:\tx\n", "CapInh:\tzz\nCapPrm:\t0\nCapEff:\t0\nCapBnd:\t0\n"} {
		if _, err := parseStatusCaps([]byte(bad)); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

// TestProcessThreadCaps reads every thread of the test process: one
// entry per thread, each with the capability lines.
func TestProcessThreadCaps(t *testing.T) {
	threads, err := processThreadCaps("self")
	if err != nil {
		t.Fatal(err)
	}
	if len(threads) < 2 {
		t.Errorf("%d threads: a Go program has more", len(threads))
	}
	eff, prm, _, err := capget()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range threads {
		if tc.tid == "" || !tc.hasNoNewPrivs {
			t.Errorf("thread %+v", tc)
		}
		// Nothing has dropped anything in the test process: every
		// thread holds what this one does.
		if tc.eff != eff || tc.prm != prm {
			t.Errorf("thread %s: effective %s permitted %s, capget says %s and %s", tc.tid, tc.eff, tc.prm, eff, prm)
		}
	}
	if !strings.HasPrefix(capName(unix.CAP_NET_ADMIN), "cap_net_admin") || capName(63) != "cap_63" {
		t.Errorf("names: %s %s", capName(unix.CAP_NET_ADMIN), capName(63))
	}
}

// TestLookupRunAs resolves the user key: by name or number, root means
// no switch, an unknown user is an error naming the key.
func TestLookupRunAs(t *testing.T) {
	for _, name := range []string{"", "root", "0"} {
		if as, err := lookupRunAs(name); as != nil || err != nil {
			t.Errorf("%q: %+v, %v; want no switch", name, as, err)
		}
	}
	if as, err := lookupRunAs("nobody"); err != nil {
		t.Logf("no user nobody on this host: %v", err)
	} else if as == nil || as.uid == 0 || as.name != "nobody" {
		t.Errorf("nobody: %+v", as)
	} else if byID, err := lookupRunAs(strconv.Itoa(as.uid)); err != nil || byID == nil || byID.uid != as.uid {
		t.Errorf("nobody by number: %+v, %v", byID, err)
	}
	_, err := lookupRunAs("gi-no-such-user")
	if fe, ok := err.(*fieldError); !ok || fe.Field != "user" || !strings.Contains(err.Error(), "gi-no-such-user") {
		t.Errorf("unknown user: %v", err)
	}
}

// TestRunUnknownUser: an unknown user stops the start with one line,
// before the state directory exists.
func TestRunUnknownUser(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "responder.yaml")
	if err := os.WriteFile(path, []byte("pools: [198.51.100.0/24]\nuser: gi-no-such-user\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(dir, "state")
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"-config", path, "-state", state}, &stdout, &stderr)
	if got := stderr.String(); code != 1 || strings.Count(got, "\n") != 1 || !strings.Contains(got, "user: \"gi-no-such-user\"") {
		t.Errorf("status %d, stderr %q", code, got)
	}
	if _, err := os.Stat(state); !os.IsNotExist(err) {
		t.Errorf("state directory created: %v", err)
	}
}
