//go:build linux

package xfrm

import (
	"net"
	"os"
	"runtime"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// vmOnly skips kernel tests outside the test VM: the host and CI kernels
// lack ESP, so these tests run only with GOIPSEC_VMTEST=1 under
// scripts/vmtest/run-in-vm. Inside the VM a missing prerequisite fails.
func vmOnly(tb testing.TB) {
	tb.Helper()
	if os.Getenv("GOIPSEC_VMTEST") != "1" {
		tb.Skip("kernel test: needs a kernel with ESP; run inside the VM: " +
			"CGO_ENABLED=0 GOIPSEC_VMTEST=1 VMTEST_PASSENV=GOIPSEC_VMTEST go test -exec \"$PWD/scripts/vmtest/run-in-vm\" -run '^TestKernel' ./xfrm")
	}
	if os.Geteuid() != 0 {
		tb.Fatal("GOIPSEC_VMTEST=1 but not running as root")
	}
}

// newNS creates a network namespace with lo up and a netlink handle in it;
// both are released when the test ends.
func newNS(tb testing.TB) (netns.NsHandle, *netlink.Handle) {
	tb.Helper()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		tb.Fatalf("netns.Get: %v", err)
	}
	defer orig.Close()
	ns, err := netns.New()
	if err != nil {
		tb.Fatalf("netns.New: %v", err)
	}
	if err := netns.Set(orig); err != nil {
		tb.Fatalf("netns.Set: %v", err)
	}
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		tb.Fatalf("NewHandleAt: %v", err)
	}
	tb.Cleanup(func() { h.Close(); ns.Close() })
	lo, err := h.LinkByName("lo")
	if err != nil {
		tb.Fatalf("lo: %v", err)
	}
	if err := h.LinkSetUp(lo); err != nil {
		tb.Fatalf("lo up: %v", err)
	}
	return ns, h
}

// inNS runs fn on a thread switched into ns; sockets it opens stay there.
func inNS(tb testing.TB, ns netns.NsHandle, fn func()) {
	tb.Helper()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		tb.Fatalf("netns.Get: %v", err)
	}
	defer orig.Close()
	if err := netns.Set(ns); err != nil {
		tb.Fatalf("netns.Set: %v", err)
	}
	defer func() {
		if err := netns.Set(orig); err != nil {
			tb.Fatalf("netns.Set back: %v", err)
		}
	}()
	fn()
}

func addAddr(tb testing.TB, h *netlink.Handle, link netlink.Link, cidr string) {
	tb.Helper()
	a, err := netlink.ParseAddr(cidr)
	if err != nil {
		tb.Fatal(err)
	}
	if a.IP.To4() == nil {
		// No duplicate address detection: the address is usable at once.
		a.Flags |= unix.IFA_F_NODAD
	}
	if err := h.AddrAdd(link, a); err != nil {
		tb.Fatalf("addr add %s: %v", cidr, err)
	}
}

// dummy adds an up dummy interface carrying the given addresses.
func dummy(tb testing.TB, h *netlink.Handle, name string, cidrs ...string) netlink.Link {
	tb.Helper()
	if err := h.LinkAdd(&netlink.Dummy{LinkAttrs: netlink.LinkAttrs{Name: name}}); err != nil {
		tb.Fatalf("dummy %s: %v", name, err)
	}
	l, err := h.LinkByName(name)
	if err != nil {
		tb.Fatal(err)
	}
	for _, c := range cidrs {
		addAddr(tb, h, l, c)
	}
	if err := h.LinkSetUp(l); err != nil {
		tb.Fatal(err)
	}
	return l
}

// vethPair joins namespaces a and b with a veth pair, up, with addresses.
func vethPair(tb testing.TB, ha *netlink.Handle, nsB netns.NsHandle, hb *netlink.Handle, cidrA, cidrB string) (netlink.Link, netlink.Link) {
	tb.Helper()
	v := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "va"}, PeerName: "vb", PeerNamespace: netlink.NsFd(nsB)}
	if err := ha.LinkAdd(v); err != nil {
		tb.Fatalf("veth: %v", err)
	}
	la, err := ha.LinkByName("va")
	if err != nil {
		tb.Fatal(err)
	}
	lb, err := hb.LinkByName("vb")
	if err != nil {
		tb.Fatal(err)
	}
	addAddr(tb, ha, la, cidrA)
	addAddr(tb, hb, lb, cidrB)
	for _, x := range []struct {
		h *netlink.Handle
		l netlink.Link
	}{{ha, la}, {hb, lb}} {
		if err := x.h.LinkSetUp(x.l); err != nil {
			tb.Fatal(err)
		}
	}
	return la, lb
}

// route adds a route to dst via gw.
func route(tb testing.TB, h *netlink.Handle, dst string, gw string, src string) {
	tb.Helper()
	_, n, err := net.ParseCIDR(dst)
	if err != nil {
		tb.Fatal(err)
	}
	r := &netlink.Route{Dst: n, Gw: net.ParseIP(gw), Src: net.ParseIP(src)}
	if err := h.RouteAdd(r); err != nil {
		tb.Fatalf("route %s via %s: %v", dst, gw, err)
	}
}
