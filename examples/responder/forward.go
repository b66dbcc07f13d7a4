package main

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
)

// nftTable is the responder's own nftables table: everything it adds
// lives there, so removing the table removes all of it and touches no
// one else's rules.
const nftTable = "goipsec_responder"

// Forwarding sysctls, per family.
const (
	sysctlForward4 = "/proc/sys/net/ipv4/ip_forward"
	sysctlForward6 = "/proc/sys/net/ipv6/conf/all/forwarding"
)

// checkMasquerade verifies, before anything starts, that the uplink
// exists and nft is installed.
func checkMasquerade(uplink string) error {
	if uplink == "" {
		return nil
	}
	if _, err := net.InterfaceByName(uplink); err != nil {
		return fieldErr("forward.masquerade", "no interface %q on this host", uplink)
	}
	if _, err := exec.LookPath("nft"); err != nil {
		return fieldErr("forward.masquerade", "masquerading needs nft (apt install nftables)")
	}
	return nil
}

// checkForwarding verifies, before anything starts, what the forwarding
// set-up needs: the uplink for masquerading, and nft wherever the
// responder installs its table (needsTable).
func checkForwarding(s *settings) error {
	if err := checkMasquerade(s.masquerade); err != nil {
		return err
	}
	if _, err := exec.LookPath("nft"); err != nil {
		switch {
		case s.kernel:
			return fieldErr("dataplane", "kernel: the IP forwarding it turns on is confined to the pools with nftables: needs nft (apt install nftables)")
		case s.isolate:
			return fieldErr("forward.isolate_clients", "needs nft (apt install nftables)")
		}
	}
	return nil
}

// forwardRules is what the responder's nftables table does with the
// traffic the host forwards.
type forwardRules struct {
	// uplink is the interface the pools are masqueraded on; "" for none.
	uplink string
	// device is the TUN device carrying the clients' traffic; "" with the
	// kernel data plane, where the pools' addresses identify it.
	device string
	pools  []netip.Prefix
	// pppDevice is the TUN device of the L2TP/IPsec clients' packets; ""
	// without L2TP.
	pppDevice string
	// l2tpOnlyIPsec drops L2TP datagrams (udp/1701) that did not arrive
	// through IPsec: the kernel data plane's L2TP socket would take them.
	l2tpOnlyIPsec bool
	// isolate drops traffic from one client to another (pool to pool).
	isolate bool
	// confine4 and confine6 drop every other forwarded packet of the
	// family: set for the families whose forwarding the responder turned
	// on itself, so turning it on opens forwarding for the pools' traffic
	// only. A host that forwarded before keeps forwarding what it did.
	confine4, confine6 bool
}

// nftRuleset is the responder's table: masquerading of the pools on the
// uplink, TCP MSS clamping of forwarded connections to the route MTU
// (the tunnel's MTU is below the uplink's and ICMP "too big" is often
// filtered), and a forward filter that passes traffic from and to the
// pools only (and, with isolate, not between two clients). In nftables
// a packet must be accepted by every base chain on its hook, so the
// filter cannot let through what another table drops; it only adds
// drops: client to client with isolate, and everything not from or to a
// pool in a family the responder turned forwarding on for.
func nftRuleset(f forwardRules) string {
	var b strings.Builder
	// Declaring and deleting first replaces a table left by a killed
	// instance in the same transaction.
	fmt.Fprintf(&b, "table inet %s\ndelete table inet %s\ntable inet %s {\n", nftTable, nftTable, nftTable)
	fam := func(p netip.Prefix) string {
		if p.Addr().Is6() {
			return "ip6"
		}
		return "ip"
	}
	if f.uplink != "" {
		b.WriteString("\tchain postrouting {\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n")
		for _, p := range f.pools {
			fmt.Fprintf(&b, "\t\toifname %q %s saddr %s masquerade\n", f.uplink, fam(p), p)
		}
		b.WriteString("\t}\n")
	}
	if f.l2tpOnlyIPsec {
		// L2TP carries PPP with the users' credentials: never in the clear.
		b.WriteString("\tchain input {\n\t\ttype filter hook input priority filter; policy accept;\n")
		b.WriteString("\t\tudp dport 1701 meta secpath missing counter drop comment \"L2TP only through IPsec\"\n")
		b.WriteString("\t}\n")
	}
	b.WriteString("\tchain forward {\n\t\ttype filter hook forward priority filter; policy accept;\n")
	if f.device != "" {
		for _, dev := range []string{f.device, f.pppDevice} {
			if dev == "" {
				continue
			}
			fmt.Fprintf(&b, "\t\tiifname %q tcp flags syn tcp option maxseg size set rt mtu\n", dev)
			fmt.Fprintf(&b, "\t\toifname %q tcp flags syn tcp option maxseg size set rt mtu\n", dev)
		}
	} else {
		// The kernel data plane: no device carries the clients' traffic,
		// the pools' addresses identify it.
		for _, p := range f.pools {
			fmt.Fprintf(&b, "\t\t%s saddr %s tcp flags syn tcp option maxseg size set rt mtu\n", fam(p), p)
			fmt.Fprintf(&b, "\t\t%s daddr %s tcp flags syn tcp option maxseg size set rt mtu\n", fam(p), p)
		}
	}
	for _, p := range f.pools {
		if f.isolate {
			fmt.Fprintf(&b, "\t\t%s saddr %s %s daddr %s counter drop comment \"isolate_clients\"\n", fam(p), p, fam(p), p)
		}
		fmt.Fprintf(&b, "\t\t%s saddr %s accept\n", fam(p), p)
		fmt.Fprintf(&b, "\t\t%s daddr %s accept\n", fam(p), p)
	}
	if f.confine4 {
		b.WriteString("\t\tmeta nfproto ipv4 counter drop comment \"not the pools' traffic\"\n")
	}
	if f.confine6 {
		b.WriteString("\t\tmeta nfproto ipv6 counter drop comment \"not the pools' traffic\"\n")
	}
	b.WriteString("\t}\n}\n")
	return b.String()
}

// needsTable reports whether the responder installs its nftables table:
// to masquerade, to confine the forwarding it turns on (the kernel data
// plane and masquerade turn it on), or to isolate the clients.
func needsTable(masquerade string, kernel, isolate bool) bool {
	return masquerade != "" || kernel || isolate
}

// setUpForwarding turns on IP forwarding for the pools' families when
// enable is set, and installs the table; f's confine flags are set here
// for the families it turned on. undo deletes the table and restores
// the sysctls it changed.
func setUpForwarding(f forwardRules, enable bool) (undo func() error, err error) {
	undoFwd := func() error { return nil }
	if enable {
		var on4, on6 bool
		undoFwd, on4, on6, err = enableForwarding(f.pools)
		if err != nil {
			return nil, err
		}
		f.confine4, f.confine6 = on4, on6
	}
	cmd := exec.Command("nft", "-f", "-")
	cmd.Stdin = strings.NewReader(nftRuleset(f))
	if out, err := cmd.CombinedOutput(); err != nil {
		undoFwd()
		return nil, fmt.Errorf("nft: %v: %s", err, bytes.TrimSpace(out))
	}
	return func() error {
		var first error
		if out, err := exec.Command("nft", "delete", "table", "inet", nftTable).CombinedOutput(); err != nil {
			first = fmt.Errorf("nft delete table: %v: %s", err, bytes.TrimSpace(out))
		}
		if err := undoFwd(); err != nil && first == nil {
			first = err
		}
		return first
	}, nil
}

// enableForwarding turns on IP forwarding for the pools' families; undo
// restores the sysctls it changed, and on4 and on6 report which it
// changed (forwarding was off).
func enableForwarding(pools []netip.Prefix) (undo func() error, on4, on6 bool, err error) {
	var restore []func() error
	undo = func() error {
		var first error
		for i := len(restore) - 1; i >= 0; i-- {
			if err := restore[i](); err != nil && first == nil {
				first = err
			}
		}
		return first
	}
	for _, p := range pools {
		path := sysctlForward4
		if p.Addr().Is6() {
			path = sysctlForward6
		}
		old, err := os.ReadFile(path)
		if err != nil {
			undo()
			return nil, false, false, err
		}
		if strings.TrimSpace(string(old)) == "1" {
			continue
		}
		if err := os.WriteFile(path, []byte("1\n"), 0o644); err != nil {
			undo()
			return nil, false, false, fmt.Errorf("enable forwarding: %w", err)
		}
		restore = append(restore, func() error { return os.WriteFile(path, old, 0o644) })
		if p.Addr().Is6() {
			on6 = true
		} else {
			on4 = true
		}
	}
	return undo, on4, on6, nil
}
