package main

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
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
// exists.
func checkMasquerade(uplink string) error {
	if uplink == "" {
		return nil
	}
	if _, err := net.InterfaceByName(uplink); err != nil {
		return fieldErr("forward.masquerade", "no interface %q on this host", uplink)
	}
	return nil
}

// checkForwarding verifies, before anything starts, what the forwarding
// set-up needs: the uplink for masquerading. The table goes to the
// kernel through netlink, so no nft command is needed.
func checkForwarding(s *settings) error {
	return checkMasquerade(s.masquerade)
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

// forwardChains is the responder's table: masquerading of the pools on
// the uplink, TCP MSS clamping of forwarded connections to the route MTU
// (the tunnel's MTU is below the uplink's and ICMP "too big" is often
// filtered), and a forward filter that passes traffic from and to the
// pools only (and, with isolate, not between two clients). In nftables
// a packet must be accepted by every base chain on its hook, so the
// filter cannot let through what another table drops; it only adds
// drops: client to client with isolate, and everything not from or to a
// pool in a family the responder turned forwarding on for. Every chain's
// policy is accept.
func forwardChains(f forwardRules) []nftChain {
	var chains []nftChain
	if f.uplink != "" {
		post := nftChain{name: "postrouting", typ: nftables.ChainTypeNAT, hook: nftables.ChainHookPostrouting, priority: nftables.ChainPriorityNATSource}
		for _, p := range f.pools {
			// oifname UPLINK ip saddr POOL masquerade
			post.rules = append(post.rules, nftRule{exprs: nftMatch{}.IfName(expr.MetaKeyOIFNAME, f.uplink).Addr(false, p).Masquerade()})
		}
		chains = append(chains, post)
	}
	if f.l2tpOnlyIPsec {
		// L2TP carries PPP with the users' credentials: never in the clear.
		// udp dport 1701 meta secpath missing counter drop
		chains = append(chains, nftChain{name: "input", typ: nftables.ChainTypeFilter, hook: nftables.ChainHookInput, priority: nftables.ChainPriorityFilter,
			rules: []nftRule{{exprs: nftMatch{}.UDPDport(1701).NoSecpath().Counter().Drop(), comment: "L2TP only through IPsec"}}})
	}
	fwd := nftChain{name: "forward", typ: nftables.ChainTypeFilter, hook: nftables.ChainHookForward, priority: nftables.ChainPriorityFilter}
	add := func(m nftMatch, comment string) { fwd.rules = append(fwd.rules, nftRule{exprs: m, comment: comment}) }
	if f.device != "" {
		for _, dev := range []string{f.device, f.pppDevice} {
			if dev == "" {
				continue
			}
			// iifname DEV tcp flags syn tcp option maxseg size set rt mtu, and oifname
			add(nftMatch{}.IfName(expr.MetaKeyIIFNAME, dev).ClampMSS(), "")
			add(nftMatch{}.IfName(expr.MetaKeyOIFNAME, dev).ClampMSS(), "")
		}
	} else {
		// The kernel data plane: no device carries the clients' traffic,
		// the pools' addresses identify it.
		for _, p := range f.pools {
			add(nftMatch{}.Addr(false, p).ClampMSS(), "")
			add(nftMatch{}.Addr(true, p).ClampMSS(), "")
		}
	}
	for _, p := range f.pools {
		if f.isolate {
			// ip saddr POOL ip daddr POOL counter drop
			add(nftMatch{}.Addr(false, p).Addr(true, p).Counter().Drop(), "isolate_clients")
		}
		add(nftMatch{}.Addr(false, p).Accept(), "")
		add(nftMatch{}.Addr(true, p).Accept(), "")
	}
	if f.confine4 {
		add(nftMatch{}.NFProto(false).Counter().Drop(), "not the pools' traffic")
	}
	if f.confine6 {
		add(nftMatch{}.NFProto(true).Counter().Drop(), "not the pools' traffic")
	}
	return append(chains, fwd)
}

// applyForwardTable replaces the responder's table through c in one
// atomic batch.
func applyForwardTable(c *nftables.Conn, f forwardRules) error {
	queueTable(c, nftTable, forwardChains(f))
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nftables: table inet %s: %w", nftTable, err)
	}
	return nil
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
	c, err := nftables.New()
	if err == nil {
		err = applyForwardTable(c, f)
	}
	if err != nil {
		undoFwd()
		return nil, err
	}
	return func() error {
		first := deleteTable(c, nftTable)
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
