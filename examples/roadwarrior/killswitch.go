package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os/exec"
	"slices"
	"strings"
	"time"

	"github.com/goipsec/ipsec/ike"
)

// nftTimeout bounds one nft command.
const nftTimeout = 10 * time.Second

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
// on exit.
type killSwitch struct {
	table string // nftables table name in family inet
	log   *slog.Logger
	gws   []netip.Addr // already in the gateway sets
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

// killSwitchRules is the nft script that creates the table.
func killSwitchRules(table, tun string, port uint16, allowLAN bool) string {
	ports := []uint16{ike.PortIKE, ike.PortNATT}
	if !slices.Contains(ports, port) {
		ports = append(ports, port)
	}
	ps := make([]string, len(ports))
	for i, p := range ports {
		ps[i] = fmt.Sprint(p)
	}
	portSet := "{ " + strings.Join(ps, ", ") + " }"
	var lan4, lan6 []string
	for _, p := range lanPrefixes {
		if strings.Contains(p, ":") {
			lan6 = append(lan6, p)
		} else {
			lan4 = append(lan4, p)
		}
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "table inet %s {\n", table)
	sb.WriteString("\tset gateways4 { type ipv4_addr; }\n")
	sb.WriteString("\tset gateways6 { type ipv6_addr; }\n")
	for _, hook := range []string{"output", "forward"} {
		fmt.Fprintf(&sb, "\tchain %s {\n\t\ttype filter hook %s priority filter; policy drop;\n", hook, hook)
		fmt.Fprintf(&sb, "\t\toifname \"lo\" accept\n\t\toifname %q accept\n", tun)
		if hook == "forward" {
			// Answers from the tunnel to hosts behind us.
			fmt.Fprintf(&sb, "\t\tiifname %q accept\n", tun)
		} else {
			fmt.Fprintf(&sb, "\t\tip daddr @gateways4 udp dport %s accept\n", portSet)
			sb.WriteString("\t\tip daddr @gateways4 ip protocol esp accept\n")
			fmt.Fprintf(&sb, "\t\tip6 daddr @gateways6 udp dport %s accept\n", portSet)
			sb.WriteString("\t\tip6 daddr @gateways6 meta l4proto esp accept\n")
			sb.WriteString("\t\tudp sport 68 udp dport 67 accept\n")
			sb.WriteString("\t\tudp sport 546 udp dport 547 accept\n")
			sb.WriteString("\t\ticmpv6 type { nd-router-solicit, nd-neighbor-solicit, nd-neighbor-advert, mld2-listener-report } accept\n")
		}
		if allowLAN {
			fmt.Fprintf(&sb, "\t\tip daddr { %s } accept\n", strings.Join(lan4, ", "))
			fmt.Fprintf(&sb, "\t\tip6 daddr { %s } accept\n", strings.Join(lan6, ", "))
		}
		sb.WriteString("\t\tcounter comment \"kill switch: outside the tunnel\"\n\t}\n")
	}
	sb.WriteString("}\n")
	return sb.String()
}

// newKillSwitch installs the table (replacing a stale one) with the
// gateway addresses known so far.
func newKillSwitch(ctx context.Context, tun string, port uint16, allowLAN bool, gws []netip.Addr, log *slog.Logger) (*killSwitch, error) {
	if _, err := exec.LookPath("nft"); err != nil {
		return nil, errors.New("-kill-switch needs the nft command (nftables) in PATH")
	}
	k := &killSwitch{table: killSwitchTable(tun), log: log}
	k.deleteTable(ctx) // left behind by a run that was killed
	if err := nft(ctx, killSwitchRules(k.table, tun, port, allowLAN)); err != nil {
		return nil, fmt.Errorf("-kill-switch: %w", err)
	}
	for _, gw := range gws {
		if err := k.allowGateway(ctx, gw); err != nil {
			k.remove()
			return nil, err
		}
	}
	log.Info("kill switch on: traffic outside the tunnel is dropped", "nft_table", "inet "+k.table, "allow_lan", allowLAN)
	return k, nil
}

// allowGateway lets IKE and ESP to gw out (each address a name resolves
// to, as it comes).
func (k *killSwitch) allowGateway(ctx context.Context, gw netip.Addr) error {
	gw = gw.Unmap()
	if slices.Contains(k.gws, gw) {
		return nil
	}
	set := "gateways4"
	if gw.Is6() {
		set = "gateways6"
	}
	if err := nft(ctx, fmt.Sprintf("add element inet %s %s { %s }\n", k.table, set, gw)); err != nil {
		return fmt.Errorf("kill switch: allow the gateway %v: %w", gw, err)
	}
	k.gws = append(k.gws, gw)
	return nil
}

// remove deletes the table: traffic flows normally again.
func (k *killSwitch) remove() {
	ctx, cancel := context.WithTimeout(context.Background(), nftTimeout)
	defer cancel()
	if err := k.deleteTable(ctx); err != nil {
		k.log.Error("kill switch not removed: delete it with nft delete table inet "+k.table, "err", err)
		return
	}
	k.log.Info("kill switch off")
}

func (k *killSwitch) deleteTable(ctx context.Context) error {
	// Listing first tells "not there" (no error) from a failed delete.
	if nft(ctx, "list table inet "+k.table+"\n") != nil {
		return nil
	}
	return nft(ctx, "delete table inet "+k.table+"\n")
}

// nft runs an nft script given on standard input.
func nft(ctx context.Context, script string) error {
	ctx, cancel := context.WithTimeout(ctx, nftTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(script)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		msg := strings.Join(strings.Fields(out.String()), " ")
		return fmt.Errorf("nft: %v: %s", err, msg)
	}
	return nil
}
