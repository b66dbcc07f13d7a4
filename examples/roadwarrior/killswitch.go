package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"

	"github.com/goipsec/ipsec/ike"
	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"golang.org/x/sys/unix"
)

// lanPrefixes are what -allow-lan lets out beside the tunnel: the private
// (RFC 1918, RFC 4193), link-local (RFC 3927, RFC 4291) and multicast
// ranges, and IPv4 broadcast, where printers, file servers and service
// discovery live. The uplink's own public subnet is not among them: a
// hotel's network is not trusted just because it is local.
var lanPrefixes = []string{
	"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16", "224.0.0.0/4", "255.255.255.255/32",
	"fc00::/7", "fe80::/10", "ff00::/8",
}

// killSwitch is an nftables table of our own that drops what would leave
// the host outside the tunnel, from start to exit, also while the tunnel
// is down between reconnection attempts. Let through: loopback, the TUN
// device, IKE (UDP to the gateway's port, 500 and 4500) and ESP to the
// gateway's addresses, DHCP and IPv6 neighbour discovery (without them
// the uplink itself would die), and with -allow-lan the lanPrefixes. The
// table is replaced at start (a crashed run may have left it) and deleted
// on exit. It goes to the kernel through netlink: no nft command.
type killSwitch struct {
	conn  *nftables.Conn
	table string // nftables table name in family inet
	log   *slog.Logger
	gws   []netip.Addr     // already in the gateway sets
	sets  [2]*nftables.Set // gateways4, gateways6
}

// killSwitchTable is the table's name for TUN device tun: one per
// instance, and only characters nft accepts in an identifier.
func killSwitchTable(tun string) string {
	var sb strings.Builder
	sb.WriteString("goipsec_rw_")
	for _, r := range tun {
		if r < 0x80 && (r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			sb.WriteRune(r)
		} else {
			sb.WriteByte('_')
		}
	}
	return sb.String()
}

// queueKillSwitch queues on c, for one atomic batch, the replacement of
// the table: declared and deleted first (a crashed run's table goes in
// the same batch), then the gateway sets and the output and forward
// chains (policy drop), as nft would create them from
//
//	table inet TABLE {
//		set gateways4 { type ipv4_addr; }
//		set gateways6 { type ipv6_addr; }
//		chain output {
//			type filter hook output priority filter; policy drop;
//			oifname "lo" accept
//			oifname TUN accept
//			ip daddr @gateways4 udp dport { 500, 4500[, PORT] } accept
//			ip daddr @gateways4 ip protocol esp accept
//			ip6 daddr @gateways6 udp dport { 500, 4500[, PORT] } accept
//			ip6 daddr @gateways6 meta l4proto esp accept
//			udp sport 68 udp dport 67 accept
//			udp sport 546 udp dport 547 accept
//			icmpv6 type { nd-router-solicit, nd-neighbor-solicit, nd-neighbor-advert, mld2-listener-report } accept
//			[ip daddr LAN accept, ip6 daddr LAN accept: one rule per lanPrefixes entry]
//			counter comment "kill switch: outside the tunnel"
//		}
//		chain forward {
//			type filter hook forward priority filter; policy drop;
//			oifname "lo" accept
//			oifname TUN accept
//			iifname TUN accept
//			[the LAN rules]
//			counter comment "kill switch: outside the tunnel"
//		}
//	}
//
// It returns the two gateway sets.
func queueKillSwitch(c *nftables.Conn, table, tun string, port uint16, allowLAN bool) ([2]*nftables.Set, error) {
	t := &nftables.Table{Family: nftables.TableFamilyINet, Name: table}
	c.AddTable(t)
	c.DelTable(t)
	c.AddTable(t)
	gw4 := &nftables.Set{Table: t, Name: "gateways4", KeyType: nftables.TypeIPAddr}
	gw6 := &nftables.Set{Table: t, Name: "gateways6", KeyType: nftables.TypeIP6Addr}
	ports := []uint16{ike.PortIKE, ike.PortNATT}
	if !slices.Contains(ports, port) {
		ports = append(ports, port)
	}
	var portElems []nftables.SetElement
	for _, p := range ports {
		portElems = append(portElems, nftables.SetElement{Key: binary.BigEndian.AppendUint16(nil, p)})
	}
	// Anonymous sets are bound to one rule each: one per rule using it.
	portSet := func() (*nftables.Set, error) {
		s := &nftables.Set{Table: t, Anonymous: true, Constant: true, KeyType: nftables.TypeInetService}
		return s, c.AddSet(s, portElems)
	}
	ndSet := &nftables.Set{Table: t, Anonymous: true, Constant: true, KeyType: nftables.TypeICMP6Type}
	var nd []nftables.SetElement
	for _, typ := range []byte{133, 135, 136, 143} { // nd-router-solicit, nd-neighbor-solicit, nd-neighbor-advert, mld2-listener-report
		nd = append(nd, nftables.SetElement{Key: []byte{typ}})
	}
	for _, s := range []struct {
		set  *nftables.Set
		vals []nftables.SetElement
	}{{gw4, nil}, {gw6, nil}, {ndSet, nd}} {
		if err := c.AddSet(s.set, s.vals); err != nil {
			return [2]*nftables.Set{}, err
		}
	}
	ports4, err := portSet()
	if err != nil {
		return [2]*nftables.Set{}, err
	}
	ports6, err := portSet()
	if err != nil {
		return [2]*nftables.Set{}, err
	}
	policy := nftables.ChainPolicyDrop
	for _, hook := range []string{"output", "forward"} {
		h := nftables.ChainHookOutput
		if hook == "forward" {
			h = nftables.ChainHookForward
		}
		ch := c.AddChain(&nftables.Chain{Name: hook, Table: t, Type: nftables.ChainTypeFilter, Hooknum: h, Priority: nftables.ChainPriorityFilter, Policy: &policy})
		add := func(m nftMatch, comment string) {
			r := &nftables.Rule{Table: t, Chain: ch, Exprs: m}
			if comment != "" {
				r.UserData = userdata.AppendString(nil, userdata.TypeComment, comment)
			}
			c.AddRule(r)
		}
		add(nftMatch{}.IfName(expr.MetaKeyOIFNAME, "lo").Accept(), "")
		add(nftMatch{}.IfName(expr.MetaKeyOIFNAME, tun).Accept(), "")
		if hook == "forward" {
			// Answers from the tunnel to hosts behind us.
			add(nftMatch{}.IfName(expr.MetaKeyIIFNAME, tun).Accept(), "")
		} else {
			add(nftMatch{}.DaddrIn(false, gw4).UDPDportIn(ports4).Accept(), "")
			add(nftMatch{}.DaddrIn(false, gw4).IPProtocol(unix.IPPROTO_ESP).Accept(), "")
			add(nftMatch{}.DaddrIn(true, gw6).UDPDportIn(ports6).Accept(), "")
			add(nftMatch{}.DaddrIn(true, gw6).L4Proto(unix.IPPROTO_ESP).Accept(), "")
			add(nftMatch{}.UDPSport(68).ThenDport(67).Accept(), "")
			add(nftMatch{}.UDPSport(546).ThenDport(547).Accept(), "")
			add(nftMatch{}.ICMPv6TypeIn(ndSet).Accept(), "")
		}
		if allowLAN {
			for _, p := range lanPrefixes {
				add(nftMatch{}.Addr(true, netip.MustParsePrefix(p)).Accept(), "")
			}
		}
		add(nftMatch{}.Counter(), "kill switch: outside the tunnel")
	}
	return [2]*nftables.Set{gw4, gw6}, nil
}

// newKillSwitch installs the table (replacing a stale one) with the
// gateway addresses known so far, all in one batch.
func newKillSwitch(tun string, port uint16, allowLAN bool, gws []netip.Addr, log *slog.Logger) (*killSwitch, error) {
	c, err := nftables.New()
	if err != nil {
		return nil, fmt.Errorf("-kill-switch: nftables: %w", err)
	}
	return installKillSwitch(c, tun, port, allowLAN, gws, log)
}

// installKillSwitch is newKillSwitch on the connection c (tests pass one
// into a namespace).
func installKillSwitch(c *nftables.Conn, tun string, port uint16, allowLAN bool, gws []netip.Addr, log *slog.Logger) (*killSwitch, error) {
	k := &killSwitch{conn: c, table: killSwitchTable(tun), log: log}
	sets, err := queueKillSwitch(c, k.table, tun, port, allowLAN)
	if err == nil {
		k.sets = sets
		for _, gw := range gws {
			k.queueGateway(gw)
		}
		err = c.Flush()
	}
	if err != nil {
		return nil, fmt.Errorf("-kill-switch: nftables table inet %s: %w", k.table, err)
	}
	log.Info("kill switch on: traffic outside the tunnel is dropped", "nft_table", "inet "+k.table, "allow_lan", allowLAN)
	return k, nil
}

// queueGateway queues gw's addition to its family's set; false if it is
// there already.
func (k *killSwitch) queueGateway(gw netip.Addr) (bool, error) {
	gw = gw.Unmap()
	if slices.Contains(k.gws, gw) {
		return false, nil
	}
	set := k.sets[0]
	if gw.Is6() {
		set = k.sets[1]
	}
	if err := k.conn.SetAddElements(set, []nftables.SetElement{{Key: gw.AsSlice()}}); err != nil {
		return false, err
	}
	k.gws = append(k.gws, gw)
	return true, nil
}

// allowGateway lets IKE and ESP to gw out (each address a name resolves
// to, as it comes).
func (k *killSwitch) allowGateway(gw netip.Addr) error {
	added, err := k.queueGateway(gw)
	if err == nil && added {
		err = k.conn.Flush()
		if err != nil {
			k.gws = slices.DeleteFunc(k.gws, func(a netip.Addr) bool { return a == gw.Unmap() })
		}
	}
	if err != nil {
		return fmt.Errorf("kill switch: allow the gateway %v: %w", gw, err)
	}
	return nil
}

// remove deletes the table: traffic flows normally again.
func (k *killSwitch) remove() {
	if err := k.deleteTable(); err != nil {
		k.log.Error("kill switch not removed: delete it with nft delete table inet "+k.table, "err", err)
		return
	}
	k.log.Info("kill switch off")
}

// deleteTable deletes the table if it is there.
func (k *killSwitch) deleteTable() error {
	// Listing first tells "not there" (no error) from a failed delete.
	if _, err := k.conn.ListTableOfFamily(k.table, nftables.TableFamilyINet); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil
		}
		return err
	}
	k.conn.DelTable(&nftables.Table{Family: nftables.TableFamilyINet, Name: k.table})
	return k.conn.Flush()
}
