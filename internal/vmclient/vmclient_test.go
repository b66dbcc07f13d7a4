package vmclient

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/goipsec/ipsec/internal/testnet"
)

// sampleStates is `ip -s xfrm state` (iproute2 6.1, Linux 6.1) from the
// test VM, keys replaced: a client's raw ESP pair, outbound with 6
// packets, inbound with none; then a gateway's ESP-in-UDP pair with ESN
// (whose replay context spans several lines) over IPv6.
const sampleStates = `src 192.0.2.2 dst 192.0.2.1
	proto esp spi 0xe86370cd(3898831053) reqid 1(0x00000001) mode tunnel
	replay-window 0 seq 0x00000000 flag af-unspec (0x00100000)
	aead rfc4106(gcm(aes)) 0x00000000000000000000000000000000000000000000000000000000000000000000000000 (288 bits) 128
	anti-replay context: seq 0x0, oseq 0x6, bitmap 0x00000000
	lifetime config:
	  limit: soft (INF)(bytes), hard (INF)(bytes)
	  limit: soft (INF)(packets), hard (INF)(packets)
	  expire add: soft 10125(sec), hard 10800(sec)
	  expire use: soft 0(sec), hard 0(sec)
	lifetime current:
	  564(bytes), 6(packets)
	  add 2026-12-07 16:18:53 use 2026-12-07 16:18:54
	stats:
	  replay-window 0 replay 0 failed 0
src 192.0.2.1 dst 192.0.2.2
	proto esp spi 0xc1f5de8b(3254115979) reqid 1(0x00000001) mode tunnel
	replay-window 32 seq 0x00000000 flag af-unspec (0x00100000)
	aead rfc4106(gcm(aes)) 0x00000000000000000000000000000000000000000000000000000000000000000000000000 (288 bits) 128
	anti-replay context: seq 0x0, oseq 0x0, bitmap 0x00000000
	lifetime config:
	  limit: soft (INF)(bytes), hard (INF)(bytes)
	  limit: soft (INF)(packets), hard (INF)(packets)
	  expire add: soft 10088(sec), hard 10800(sec)
	  expire use: soft 0(sec), hard 0(sec)
	lifetime current:
	  0(bytes), 0(packets)
	  add 2026-12-07 16:18:53 use -
	stats:
	  replay-window 0 replay 0 failed 0
src 2001:db8:0:1::1 dst 2001:db8:0:1::2
	proto esp spi 0xc8afa2b0(3367019184) reqid 1(0x00000001) mode tunnel
	replay-window 0 seq 0x00000000 flag af-unspec (0x00100000)
	aead rfc4106(gcm(aes)) 0x00000000000000000000000000000000000000000000000000000000000000000000000000 (288 bits) 128
	encap type espinudp sport 4500 dport 35012 addr ::
	anti-replay esn context:
	 seq-hi 0x0, seq 0x0, oseq-hi 0x0, oseq 0x3
	 replay_window 1024, bitmap-length 32
	 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 
	lifetime config:
	  limit: soft (INF)(bytes), hard (INF)(bytes)
	lifetime current:
	  312(bytes), 3(packets)
	  add 2026-12-07 16:20:29 use -
	stats:
	  replay-window 0 replay 0 failed 0
src 2001:db8:0:1::2 dst 2001:db8:0:1::1
	proto esp spi 0x4ac050cc(1254117580) reqid 1(0x00000001) mode tunnel
	replay-window 0 seq 0x00000000 flag af-unspec (0x00100000)
	aead rfc4106(gcm(aes)) 0x00000000000000000000000000000000000000000000000000000000000000000000000000 (288 bits) 128
	encap type espinudp sport 35012 dport 4500 addr ::
	lifetime current:
	  416(bytes), 4(packets)
	  add 2026-12-07 16:20:29 use -
`

func TestParseStates(t *testing.T) {
	st, err := ParseStates(sampleStates)
	if err != nil {
		t.Fatal(err)
	}
	a := netip.MustParseAddr
	want := []State{
		{Src: a("192.0.2.2"), Dst: a("192.0.2.1"), Proto: "esp", SPI: 0xe86370cd, Mode: "tunnel", Bytes: 564, Packets: 6},
		{Src: a("192.0.2.1"), Dst: a("192.0.2.2"), Proto: "esp", SPI: 0xc1f5de8b, Mode: "tunnel"},
		{Src: a("2001:db8:0:1::1"), Dst: a("2001:db8:0:1::2"), Proto: "esp", SPI: 0xc8afa2b0, Mode: "tunnel", Encap: "espinudp", EncapSport: 4500, EncapDport: 35012, Bytes: 312, Packets: 3},
		{Src: a("2001:db8:0:1::2"), Dst: a("2001:db8:0:1::1"), Proto: "esp", SPI: 0x4ac050cc, Mode: "tunnel", Encap: "espinudp", EncapSport: 35012, EncapDport: 4500, Bytes: 416, Packets: 4},
	}
	if len(st) != len(want) {
		t.Fatalf("got %d states, want %d: %v", len(st), len(want), st)
	}
	for i := range want {
		if st[i] != want[i] {
			t.Errorf("state %d:\n got %+v\nwant %+v", i, st[i], want[i])
		}
	}
	if st, err := ParseStates(""); err != nil || len(st) != 0 {
		t.Errorf("empty output: %v %v", st, err)
	}
	for _, bad := range []string{
		"\tproto esp spi 0x1 reqid 1 mode tunnel\n",
		"src 192.0.2.1 dst nowhere\n",
		"src 192.0.2.1 dst 192.0.2.2\n\tproto esp spi 0xZZ reqid 1 mode tunnel\n",
		"src 192.0.2.1 dst 192.0.2.2\n\tencap type espinudp sport x dport 4500 addr ::\n",
		"src 192.0.2.1 dst 192.0.2.2\n\tlifetime current:\n\t  x(bytes), 1(packets)\n",
		"garbage\n",
	} {
		if _, err := ParseStates(bad); err == nil {
			t.Errorf("ParseStates(%q) accepted", bad)
		}
	}
}

func TestCheck(t *testing.T) {
	st, err := ParseStates(sampleStates)
	if err != nil {
		t.Fatal(err)
	}
	a := netip.MustParseAddr
	c4, s4, c6, s6 := a("192.0.2.2"), a("192.0.2.1"), a("2001:db8:0:1::2"), a("2001:db8:0:1::1")
	for _, tc := range []struct {
		name       string
		x, y       netip.Addr
		encap      bool
		min        uint64
		wantErrSub string // "" = no error
	}{
		{"raw v4, no packets inbound", c4, s4, false, 3, "192.0.2.1->192.0.2.2 carried 0 packets"},
		{"raw v4, zero wanted", c4, s4, false, 0, ""},
		{"v4 is not ESP in UDP", c4, s4, true, 0, "not ESP in UDP"},
		{"udp v6", c6, s6, true, 3, ""},
		{"udp v6 from the other side", s6, c6, true, 3, ""},
		{"v6 is not raw", c6, s6, false, 3, "not raw ESP"},
		{"v6 too few", c6, s6, true, 4, "carried 3 packets, want at least 4"},
		{"no such pair", c4, s6, false, 0, "want ESP states"},
	} {
		err := Check(st, tc.x, tc.y, tc.encap, tc.min)
		switch {
		case tc.wantErrSub == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.wantErrSub != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErrSub)):
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.wantErrSub)
		}
	}
}

func TestRequireSkipsOutsideVM(t *testing.T) {
	t.Setenv(EnvVM, "")
	t.Setenv("CI", "true")
	ran := false
	t.Run("inner", func(t *testing.T) {
		Require(t)
		ran = true
	})
	if ran {
		t.Error("Require did not stop a test outside the VM")
	}
}

// TestStartDaemon: a daemon started with StartDaemon writes into its own
// /run, which is runDir; the test's /run stays untouched, and a second
// daemon in another namespace has its own. Needs root and iproute2, not
// the VM.
func TestStartDaemon(t *testing.T) {
	testnet.Require(t, "ip")
	marker := fmt.Sprintf("vmclient-%d.pid", os.Getpid())
	var dirs []string
	for _, tag := range []string{"d1", "d2"} {
		ns := testnet.NewNS(t, tag)
		dir := filepath.Join(t.TempDir(), "run")
		dirs = append(dirs, dir)
		p := StartDaemon(t, ns, dir, []string{"GI_TAG=" + tag}, "sh", "-c", `echo "$GI_TAG $$" > /run/`+marker+`; exec sleep 30`)
		deadline := time.Now().Add(10 * time.Second)
		for {
			b, err := os.ReadFile(filepath.Join(dir, marker))
			if err == nil && strings.HasPrefix(string(b), tag+" ") {
				if got := strings.TrimSpace(strings.TrimPrefix(string(b), tag+" ")); got != fmt.Sprint(p.Cmd.Process.Pid) {
					t.Errorf("%s: the daemon's PID is %s, the test holds %d", tag, got, p.Cmd.Process.Pid)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: no %s in %s: %v %q\n%s", tag, marker, dir, err, b, p.Stderr.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	if _, err := os.Stat(filepath.Join("/run", marker)); err == nil {
		t.Errorf("the daemon wrote into the test's own /run")
	}
	if dirs[0] == dirs[1] {
		t.Fatal("one run directory for two daemons")
	}
}
