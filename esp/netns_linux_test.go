//go:build linux

package esp

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	"golang.zx2c4.com/wireguard/tun"
)

// requireRoot skips (or, under CI=true, fails) tests that need root for
// network namespaces, TUN devices and raw sockets.
func requireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	msg := "needs root (network namespaces, TUN): run `sudo go test ./esp` or as root"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

func requireTool(t testing.TB, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err == nil {
		return
	}
	msg := fmt.Sprintf("needs %q in PATH (Debian: apt-get install iproute2 iputils-ping)", name)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

func run(t testing.TB, args ...string) string {
	t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

var nsCounter atomic.Int32

// nsPair creates two network namespaces joined by a veth pair with outer
// addresses 198.51.100.1/24 (a) and 198.51.100.2/24 (b), and removes them
// when the test ends. Names are unique per process and call.
func nsPair(t testing.TB) (a, b string) {
	t.Helper()
	requireRoot(t)
	requireTool(t, "ip")
	n := nsCounter.Add(1)
	a = fmt.Sprintf("gi-esp-%d-%d-a", os.Getpid(), n)
	b = fmt.Sprintf("gi-esp-%d-%d-b", os.Getpid(), n)
	va, vb := fmt.Sprintf("gev%d%da", os.Getpid()%100000, n), fmt.Sprintf("gev%d%db", os.Getpid()%100000, n)
	for _, ns := range []string{a, b} {
		run(t, "ip", "netns", "add", ns)
		t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
	}
	run(t, "ip", "link", "add", va, "netns", a, "type", "veth", "peer", "name", vb, "netns", b)
	run(t, "ip", "-n", a, "addr", "add", "198.51.100.1/24", "dev", va)
	run(t, "ip", "-n", b, "addr", "add", "198.51.100.2/24", "dev", vb)
	run(t, "ip", "-n", a, "-6", "addr", "add", "2001:db8:ff::1/64", "dev", va, "nodad")
	run(t, "ip", "-n", b, "-6", "addr", "add", "2001:db8:ff::2/64", "dev", vb, "nodad")
	for _, x := range [][2]string{{a, va}, {b, vb}} {
		run(t, "ip", "-n", x[0], "link", "set", "lo", "up")
		run(t, "ip", "-n", x[0], "link", "set", x[1], "up")
	}
	return a, b
}

// inNetns runs f on an OS thread switched into namespace ns. Sockets and
// TUN devices created by f stay in ns when used from other threads later.
// The thread is discarded afterwards (the goroutine exits locked).
func inNetns(ns string, f func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		fd, err := unix.Open("/run/netns/"+ns, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- err
			return
		}
		err = unix.Setns(fd, unix.CLONE_NEWNET)
		unix.Close(fd)
		if err != nil {
			errc <- fmt.Errorf("setns %s: %w", ns, err)
			return
		}
		errc <- f()
	}()
	return <-errc
}

// nsEngine is a userspace engine running in a namespace.
type nsEngine struct {
	ns      string
	u       *Userspace
	conn    *net.UDPConn
	outer   netip.Addr
	tunName string
}

type tunnelAddrs struct {
	inner4, inner6 netip.Addr // ours, on the TUN device
	peer4, peer6   netip.Addr // the other side's, routed into the TUN
}

var (
	addrsA = tunnelAddrs{innerA4, innerA6, innerB4, innerB6}
	addrsB = tunnelAddrs{innerB4, innerB6, innerA4, innerA6}
)

// startEngine creates a TUN device and a userspace engine inside ns, with
// inner addresses and routes to the peer's inner addresses through the TUN.
func startEngine(t testing.TB, ns string, outer netip.Addr, ad tunnelAddrs, opts ...Option) *nsEngine {
	t.Helper()
	e := &nsEngine{ns: ns, outer: outer, tunName: fmt.Sprintf("gitun%d", nsCounter.Add(1))}
	err := inNetns(ns, func() error {
		dev, err := tun.CreateTUN(e.tunName, 1400)
		if err != nil {
			return fmt.Errorf("create TUN: %w", err)
		}
		e.conn, err = net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(outer, 4500)))
		if err != nil {
			dev.Close()
			return err
		}
		e.u, err = NewUserspace(dev, append([]Option{WithUDPConn(e.conn), WithRawESP()}, opts...)...)
		if err != nil {
			dev.Close()
			e.conn.Close()
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.u.Close(); e.conn.Close() })
	run(t, "ip", "-n", ns, "addr", "add", ad.inner4.String()+"/32", "dev", e.tunName)
	run(t, "ip", "-n", ns, "-6", "addr", "add", ad.inner6.String()+"/128", "dev", e.tunName, "nodad")
	run(t, "ip", "-n", ns, "link", "set", e.tunName, "up")
	run(t, "ip", "-n", ns, "route", "add", ad.peer4.String()+"/32", "dev", e.tunName, "src", ad.inner4.String())
	run(t, "ip", "-n", ns, "-6", "route", "add", ad.peer6.String()+"/128", "dev", e.tunName, "src", ad.inner6.String())
	return e
}

// installPair gives a and b a tunnel-mode SA pair (SPIs 0x1001 a->b and
// 0x2002 b->a) with policies for both address families.
func installNS(t testing.TB, a, b *nsEngine, ts testSuite, encap bool) {
	t.Helper()
	port := uint16(0)
	if encap {
		port = 4500
	}
	ctx := context.Background()
	aAP, bAP := netip.AddrPortFrom(a.outer, port), netip.AddrPortFrom(b.outer, port)
	mk := func(spi uint32, dir Direction, src, dst netip.AddrPort) *SA {
		return &SA{SPI: spi, Dir: dir, Src: src, Dst: dst, Encr: ts.encr, EncrKeyBits: ts.bits, Integ: ts.integ,
			EncrKey: keyBytes(ts.encKeyLen, byte(spi)), IntegKey: keyBytes(ts.integKeyLen, byte(spi)+100), ReqID: 1}
	}
	for _, x := range []struct {
		e  *nsEngine
		sa *SA
	}{
		{a, mk(0x1001, DirOut, aAP, bAP)}, {b, mk(0x1001, DirIn, aAP, bAP)},
		{b, mk(0x2002, DirOut, bAP, aAP)}, {a, mk(0x2002, DirIn, bAP, aAP)},
	} {
		if err := x.e.u.AddSA(ctx, x.sa); err != nil {
			t.Fatal(err)
		}
	}
	for _, x := range []struct {
		e  *nsEngine
		ad tunnelAddrs
	}{{a, addrsA}, {b, addrsB}} {
		for _, pair := range [][2]netip.Addr{{x.ad.inner4, x.ad.peer4}, {x.ad.inner6, x.ad.peer6}} {
			l, r := PrefixSelector(netip.PrefixFrom(pair[0], pair[0].BitLen())), PrefixSelector(netip.PrefixFrom(pair[1], pair[1].BitLen()))
			for _, p := range []Policy{{Dir: DirOut, Src: l, Dst: r, ReqID: 1}, {Dir: DirIn, Src: r, Dst: l, ReqID: 1}} {
				if err := x.e.u.AddPolicy(ctx, p); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
}

func ping(t testing.TB, ns string, dst netip.Addr) {
	t.Helper()
	out, err := exec.Command("ip", "netns", "exec", ns, "ping", "-c", "2", "-W", "2", dst.String()).CombinedOutput()
	if err != nil {
		t.Fatalf("ping %s from %s: %v\n%s", dst, ns, err, out)
	}
	if !strings.Contains(string(out), " 0% packet loss") {
		t.Fatalf("ping %s from %s lost packets:\n%s", dst, ns, out)
	}
}

// tcpListen opens a listener in ns that reads everything a client sends
// and reports its length and SHA-256.
func tcpListen(t testing.TB, ns string, addr netip.Addr) (netip.AddrPort, <-chan [2]any) {
	t.Helper()
	var ln net.Listener
	if err := inNetns(ns, func() (err error) {
		ln, err = net.Listen("tcp", netip.AddrPortFrom(addr, 0).String())
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	res := make(chan [2]any, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			res <- [2]any{int64(-1), err}
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(60 * time.Second))
		h := sha256.New()
		n, err := io.Copy(h, c)
		if err != nil {
			res <- [2]any{n, err}
			return
		}
		res <- [2]any{n, h.Sum(nil)}
	}()
	return ln.Addr().(*net.TCPAddr).AddrPort(), res
}

func tcpDial(t testing.TB, ns string, to netip.AddrPort) net.Conn {
	t.Helper()
	var c net.Conn
	if err := inNetns(ns, func() (err error) {
		c, err = net.DialTimeout("tcp", to.String(), 10*time.Second)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return c
}

// bulk sends size pseudo-random bytes from ns a to b's listener on dst
// and checks they arrive intact.
func bulk(t testing.TB, a, b string, dst netip.Addr, size int) time.Duration {
	t.Helper()
	ap, res := tcpListen(t, b, dst)
	c := tcpDial(t, a, ap)
	defer c.Close()
	c.SetDeadline(time.Now().Add(60 * time.Second))
	h := sha256.New()
	chunk := make([]byte, 64<<10)
	x := uint32(1)
	start := time.Now()
	for sent := 0; sent < size; sent += len(chunk) {
		for i := range chunk {
			x = x*1664525 + 1013904223
			chunk[i] = byte(x >> 24)
		}
		h.Write(chunk)
		if _, err := c.Write(chunk); err != nil {
			t.Fatalf("bulk write after %d bytes: %v", sent, err)
		}
	}
	c.(*net.TCPConn).CloseWrite()
	r := <-res
	d := time.Since(start)
	if r[0].(int64) != int64(size) {
		t.Fatalf("bulk: received %v bytes (%v), want %d", r[0], r[1], size)
	}
	if sum, ok := r[1].([]byte); !ok || string(sum) != string(h.Sum(nil)) {
		t.Fatalf("bulk: data corrupted (%v)", r[1])
	}
	return d
}

// TestNetnsTunnel runs two userspace engines in two namespaces and passes
// ping and a bulk TCP transfer through a tunnel-mode SA pair, with and
// without UDP encapsulation, IPv4 and IPv6 inner.
func TestNetnsTunnel(t *testing.T) {
	requireRoot(t)
	requireTool(t, "ping")
	type outerPair struct{ name, a, b string }
	v4 := outerPair{"", "198.51.100.1", "198.51.100.2"}
	v6 := outerPair{"/outer6", "2001:db8:ff::1", "2001:db8:ff::2"}
	for _, encap := range []bool{true, false} {
		for i, ts := range testSuites {
			outers := []outerPair{v4}
			if i == 0 {
				outers = append(outers, v6) // IPv6 outer for one suite keeps the run short
			}
			for _, o := range outers {
				name := ts.name + "/raw-esp" + o.name
				if encap {
					name = ts.name + "/udp-encap" + o.name
				}
				t.Run(name, func(t *testing.T) {
					nsA, nsB := nsPair(t)
					a := startEngine(t, nsA, netip.MustParseAddr(o.a), addrsA)
					b := startEngine(t, nsB, netip.MustParseAddr(o.b), addrsB)
					installNS(t, a, b, ts, encap)
					ping(t, nsA, innerB4)
					ping(t, nsB, innerA6)
					size := 8 << 20
					if testing.Short() {
						size = 1 << 20
					}
					d4 := bulk(t, nsA, nsB, innerB4, size)
					d6 := bulk(t, nsB, nsA, innerA6, size)
					t.Logf("bulk %d MiB: IPv4 inner %v (%.0f Mbit/s), IPv6 inner %v (%.0f Mbit/s)", size>>20,
						d4, float64(size)*8/d4.Seconds()/1e6, d6, float64(size)*8/d6.Seconds()/1e6)
					sa, err := a.u.SAStats(SAID{SPI: 0x1001, Dir: DirOut, Dst: b.outer})
					if err != nil || sa.Packets == 0 {
						t.Fatalf("outbound SA stats %+v %v", sa, err)
					}
					st := b.u.Stats()
					if st.InAuth+st.InTruncated+st.InUnknownSPI+st.InSelector+st.InMalformed != 0 {
						t.Fatalf("receiver dropped packets: %+v", st)
					}
				})
			}
		}
	}
}
