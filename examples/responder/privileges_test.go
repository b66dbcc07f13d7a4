package main

import (
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestParseStatusCaps reads the capability lines of a /proc/PID/status
// as the kernel writes them.
func TestParseStatusCaps(t *testing.T) {
	status := "Name:\tresponder\nUmask:\t0022\nState:\tS (sleeping)\nCapInh:\t0000000000000000\nCapPrm:\t0000000000003000\n" +
		"CapEff:\t0000000000001000\nCapBnd:\t000001ffffffffff\nCapAmb:\t0000000000000000\nNoNewPrivs:\t1\nSeccomp:\t0\n"
	tc, err := parseStatusCaps([]byte(status))
	if err != nil {
		t.Fatal(err)
	}
	if tc.eff != capsOf(unix.CAP_NET_ADMIN) || tc.prm != capsOf(unix.CAP_NET_ADMIN, unix.CAP_NET_RAW) || tc.inh != 0 || tc.amb != 0 ||
		tc.bnd != 1<<41-1 || !tc.noNewPrivs || !tc.hasNoNewPrivs {
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
