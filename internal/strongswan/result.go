package strongswan

import (
	"fmt"
	"net/netip"
	"regexp"
	"sort"
	"strings"
)

// Users renders a swanctl secrets section with EAP and XAuth secrets for
// each user, as the server profiles expect them appended.
func Users(users map[string]string) string {
	names := make([]string, 0, len(users))
	for n := range users {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString("secrets {\n")
	for i, n := range names {
		for _, kind := range []string{"eap", "xauth"} {
			fmt.Fprintf(&b, "  %s-user%d {\n    id = \"%s\"\n    secret = \"%s\"\n  }\n", kind, i+1, quote(n), quote(users[n]))
		}
	}
	b.WriteString("}\n")
	return b.String()
}

// SAState summarizes `swanctl --list-sas` for one connection.
type SAState struct {
	// IKEUp and ChildUp report an established IKE SA and an installed CHILD SA.
	IKEUp, ChildUp bool
	// VIPs are the virtual IPs the client got.
	VIPs []netip.Addr
	// IKEAlg and ESPAlg are the negotiated algorithms as swanctl prints them.
	IKEAlg, ESPAlg string
}

var vipRE = regexp.MustCompile(`(?m)^  local .*\] \[(.*)\]$`)

// ParseSAs reads the state of connection name from `swanctl --list-sas`.
func ParseSAs(out, name string) SAState {
	var s SAState
	lines := strings.Split(out, "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, name+": ") && strings.Contains(l, "ESTABLISHED") {
			s.IKEUp = true
			for _, next := range lines[i+1 : min(i+5, len(lines))] {
				f := strings.TrimSpace(next)
				if strings.Contains(f, "/") && !strings.Contains(f, " ") {
					s.IKEAlg = f
					break
				}
			}
		}
		if strings.HasPrefix(l, "  "+name+": #") && strings.Contains(l, "INSTALLED") {
			s.ChildUp = true
			if _, alg, ok := strings.Cut(l, "INSTALLED, "); ok {
				s.ESPAlg = alg
			}
		}
	}
	if m := vipRE.FindStringSubmatch(out); m != nil {
		for _, f := range strings.Fields(m[1]) {
			if a, err := netip.ParseAddr(f); err == nil {
				s.VIPs = append(s.VIPs, a)
			}
		}
	}
	return s
}

// VIP returns the virtual address of the wanted family, if any.
func (s SAState) VIP(v6 bool) (netip.Addr, bool) {
	for _, a := range s.VIPs {
		if a.Is6() == v6 {
			return a, true
		}
	}
	return netip.Addr{}, false
}
