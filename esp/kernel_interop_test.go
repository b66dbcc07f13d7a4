//go:build linux

package esp

import (
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// The kernel interop tests run our engine against the Linux kernel's ESP
// implementation, which the CI host kernel lacks; they run inside a VM:
//
//	CGO_ENABLED=0 GOIPSEC_VMTEST=1 VMTEST_PASSENV=GOIPSEC_VMTEST \
//	  go test -exec "$PWD/scripts/vmtest/run-in-vm" -run TestKernelInterop ./esp
func requireVM(t *testing.T) {
	t.Helper()
	if os.Getenv("GOIPSEC_VMTEST") != "1" {
		// Always a skip, even under CI=true: the host kernel has no ESP.
		t.Skip("kernel ESP interop runs in a VM: CGO_ENABLED=0 GOIPSEC_VMTEST=1 VMTEST_PASSENV=GOIPSEC_VMTEST go test -exec scripts/vmtest/run-in-vm -run TestKernelInterop ./esp")
	}
	if os.Geteuid() != 0 {
		t.Fatal("GOIPSEC_VMTEST=1 but not root")
	}
}

// kernelAlg returns the `ip xfrm state` algorithm arguments for ts with
// the keys the tests derive for spi.
func kernelAlg(ts testSuite, spi uint32) []string {
	ek := "0x" + hex.EncodeToString(keyBytes(ts.encKeyLen, byte(spi)))
	ik := "0x" + hex.EncodeToString(keyBytes(ts.integKeyLen, byte(spi)+100))
	switch ts.name {
	case "aes128gcm16":
		return []string{"aead", "rfc4106(gcm(aes))", ek, "128"}
	case "chacha20poly1305":
		return []string{"aead", "rfc7539esp(chacha20,poly1305)", ek, "128"}
	case "aes256-sha256":
		return []string{"enc", "cbc(aes)", ek, "auth-trunc", "hmac(sha256)", ik, "128"}
	}
	panic("no kernel name for " + ts.name)
}

// kernelEncapSocket opens the UDP socket with UDP_ENCAP_ESPINUDP that the
// kernel needs to receive ESP in UDP on port 4500 (what charon opens).
func kernelEncapSocket(t *testing.T, ns string) {
	t.Helper()
	var c *net.UDPConn
	err := inNetns(ns, func() error {
		var err error
		c, err = net.ListenUDP("udp4", &net.UDPAddr{Port: 4500})
		if err != nil {
			return err
		}
		rc, err := c.SyscallConn()
		if err != nil {
			return err
		}
		var serr error
		if err := rc.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_UDP, unix.UDP_ENCAP, unix.UDP_ENCAP_ESPINUDP)
		}); err != nil {
			return err
		}
		return serr
	})
	if err != nil {
		t.Fatalf("UDP_ENCAP socket: %v", err)
	}
	t.Cleanup(func() { c.Close() })
}

// TestKernelInterop: our engine in namespace A, a kernel SA pair (ip xfrm)
// in namespace B; ping both ways through a tunnel-mode SA pair.
func TestKernelInterop(t *testing.T) {
	requireVM(t)
	requireTool(t, "ip")
	requireTool(t, "ping")
	for _, encap := range []bool{false, true} {
		for _, ts := range testSuites {
			name := ts.name + "/raw-esp"
			if encap {
				name = ts.name + "/udp-encap"
			}
			t.Run(name, func(t *testing.T) {
				nsA, nsB := nsPair(t)
				outA, outB := netip.MustParseAddr("198.51.100.1"), netip.MustParseAddr("198.51.100.2")
				a := startEngine(t, nsA, outA, addrsA)
				// Engine side: SAs and policies as in the namespace tests.
				kb := &nsEngine{ns: nsB, outer: outB}
				installEngineSide(t, a, kb, ts, encap)

				veth := strings.Fields(run(t, "ip", "-n", nsB, "-o", "link", "show", "type", "veth"))[1]
				veth = strings.SplitN(strings.TrimSuffix(veth, ":"), "@", 2)[0]
				run(t, "ip", "-n", nsB, "addr", "add", innerB4.String()+"/32", "dev", "lo")
				run(t, "ip", "-n", nsB, "route", "add", innerA4.String()+"/32", "dev", veth, "src", innerB4.String())
				var encapArgs []string
				if encap {
					kernelEncapSocket(t, nsB)
					encapArgs = []string{"encap", "espinudp", "4500", "4500", "0.0.0.0"}
				}
				for _, s := range []struct {
					spi      uint32
					src, dst netip.Addr
				}{{0x1001, outA, outB}, {0x2002, outB, outA}} {
					args := []string{"ip", "-n", nsB, "xfrm", "state", "add", "src", s.src.String(), "dst", s.dst.String(),
						"proto", "esp", "spi", fmt.Sprintf("0x%x", s.spi), "reqid", "1", "mode", "tunnel"}
					args = append(append(args, kernelAlg(ts, s.spi)...), encapArgs...)
					run(t, args...)
				}
				run(t, "ip", "-n", nsB, "xfrm", "policy", "add", "src", innerB4.String()+"/32", "dst", innerA4.String()+"/32", "dir", "out",
					"tmpl", "src", outB.String(), "dst", outA.String(), "proto", "esp", "reqid", "1", "mode", "tunnel")
				run(t, "ip", "-n", nsB, "xfrm", "policy", "add", "src", innerA4.String()+"/32", "dst", innerB4.String()+"/32", "dir", "in",
					"tmpl", "src", outA.String(), "dst", outB.String(), "proto", "esp", "reqid", "1", "mode", "tunnel")

				ping(t, nsA, innerB4) // engine encrypts first
				ping(t, nsB, innerA4) // kernel encrypts first
				st := run(t, "ip", "-n", nsB, "-s", "xfrm", "state")
				in, err := a.u.SAStats(SAID{SPI: 0x2002, Dir: DirIn})
				if err != nil || in.Packets < 4 { // 2 echo replies + 2 echo requests from the kernel side
					t.Fatalf("engine inbound SA stats %+v %v\nkernel states:\n%s", in, err, st)
				}
				if s := a.u.Stats(); s.InAuth+s.InReplay+s.InTruncated+s.InSelector != 0 {
					t.Fatalf("engine dropped kernel packets: %+v", s)
				}
			})
		}
	}
}

// installEngineSide installs a's half of the SA pair and its policies for
// IPv4 inner traffic to the kernel peer k.
func installEngineSide(t *testing.T, a, k *nsEngine, ts testSuite, encap bool) {
	t.Helper()
	// Reuse installNS with a throwaway engine-less peer: only a's calls matter.
	port := uint16(0)
	if encap {
		port = 4500
	}
	aAP, kAP := netip.AddrPortFrom(a.outer, port), netip.AddrPortFrom(k.outer, port)
	for _, sa := range []*SA{
		{SPI: 0x1001, Dir: DirOut, Src: aAP, Dst: kAP},
		{SPI: 0x2002, Dir: DirIn, Src: kAP, Dst: aAP},
	} {
		sa.Encr, sa.EncrKeyBits, sa.Integ, sa.ReqID = ts.encr, ts.bits, ts.integ, 1
		sa.EncrKey, sa.IntegKey = keyBytes(ts.encKeyLen, byte(sa.SPI)), keyBytes(ts.integKeyLen, byte(sa.SPI)+100)
		if err := a.u.AddSA(t.Context(), sa); err != nil {
			t.Fatal(err)
		}
	}
	l, r := PrefixSelector(netip.MustParsePrefix("192.0.2.1/32")), PrefixSelector(netip.MustParsePrefix("192.0.2.2/32"))
	for _, p := range []Policy{{Dir: DirOut, Src: l, Dst: r, ReqID: 1}, {Dir: DirIn, Src: r, Dst: l, ReqID: 1}} {
		if err := a.u.AddPolicy(t.Context(), p); err != nil {
			t.Fatal(err)
		}
	}
}
