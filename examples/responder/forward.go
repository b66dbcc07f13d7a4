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

// nftRuleset masquerades the pools on the uplink and clamps the TCP MSS
// of forwarded connections to the route MTU, since the TUN's MTU is
// below the uplink's and ICMP "too big" is often filtered.
func nftRuleset(uplink, tunName string, pools []netip.Prefix) string {
	var b strings.Builder
	// Declaring and deleting first replaces a table left by a killed
	// instance in the same transaction.
	fmt.Fprintf(&b, "table inet %s\ndelete table inet %s\ntable inet %s {\n", nftTable, nftTable, nftTable)
	b.WriteString("\tchain postrouting {\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n")
	for _, p := range pools {
		fam := "ip"
		if p.Addr().Is6() {
			fam = "ip6"
		}
		fmt.Fprintf(&b, "\t\toifname %q %s saddr %s masquerade\n", uplink, fam, p)
	}
	b.WriteString("\t}\n")
	b.WriteString("\tchain forward {\n\t\ttype filter hook forward priority filter; policy accept;\n")
	if tunName != "" {
		fmt.Fprintf(&b, "\t\tiifname %q tcp flags syn tcp option maxseg size set rt mtu\n", tunName)
		fmt.Fprintf(&b, "\t\toifname %q tcp flags syn tcp option maxseg size set rt mtu\n", tunName)
	} else {
		// The kernel data plane: no device carries the clients' traffic,
		// the pools' addresses identify it.
		for _, p := range pools {
			fam := "ip"
			if p.Addr().Is6() {
				fam = "ip6"
			}
			fmt.Fprintf(&b, "\t\t%s saddr %s tcp flags syn tcp option maxseg size set rt mtu\n", fam, p)
			fmt.Fprintf(&b, "\t\t%s daddr %s tcp flags syn tcp option maxseg size set rt mtu\n", fam, p)
		}
	}
	b.WriteString("\t}\n}\n")
	return b.String()
}

// setUpForwarding turns on IP forwarding for the pools' families and
// installs the masquerade table. undo restores the sysctls it changed
// and deletes the table.
func setUpForwarding(uplink, tunName string, pools []netip.Prefix) (undo func() error, err error) {
	undoFwd, err := enableForwarding(pools)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command("nft", "-f", "-")
	cmd.Stdin = strings.NewReader(nftRuleset(uplink, tunName, pools))
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
// restores the sysctls it changed.
func enableForwarding(pools []netip.Prefix) (undo func() error, err error) {
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
			return nil, err
		}
		if strings.TrimSpace(string(old)) == "1" {
			continue
		}
		if err := os.WriteFile(path, []byte("1\n"), 0o644); err != nil {
			undo()
			return nil, fmt.Errorf("enable forwarding: %w", err)
		}
		restore = append(restore, func() error { return os.WriteFile(path, old, 0o644) })
	}
	return undo, nil
}
