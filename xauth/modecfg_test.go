package xauth

import (
	"errors"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func fullLease() *Lease {
	return &Lease{
		IP4:           netip.MustParseAddr("10.10.0.7"),
		Netmask4:      netip.MustParseAddr("255.255.0.0"),
		IP6:           netip.MustParseAddr("2001:db8:1::7"),
		DNS:           []netip.Addr{netip.MustParseAddr("192.0.2.53"), netip.MustParseAddr("2001:db8::53")},
		NBNS:          []netip.Addr{netip.MustParseAddr("192.0.2.137")},
		Expiry:        2 * time.Hour,
		AppVersion:    "goipsec 1.0",
		Banner:        "Authorized use only.\nWelcome.",
		DefaultDomain: "corp.example",
		SplitDNS:      []string{"corp.example", "lab.example"},
		SplitInclude:  []netip.Prefix{netip.MustParsePrefix("10.10.0.0/16"), netip.MustParsePrefix("198.51.100.0/24")},
		LocalLAN:      []netip.Prefix{netip.MustParsePrefix("192.168.0.0/16")},
		SavePassword:  true,
		PFS:           true,
		BackupServers: []string{"vpn2.example", "203.0.113.9"},
	}
}

// Push: SET with every field, the client parses it into the same Lease
// and acknowledges every attribute.
func TestPushRoundTrip(t *testing.T) {
	l := fullLease()
	set, err := Set(42, l)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseLease(wire(t, set))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, l) {
		t.Errorf("lease\n%+v, want\n%+v", got, l)
	}
	// Flags go as basic attributes; the split entries are 14 octets.
	for _, a := range set.Attrs {
		switch a.Type {
		case UnitySavePasswd, UnityPFS:
			if !a.TV {
				t.Errorf("%v not basic", a)
			}
		case UnitySplitInclude:
			if len(a.Value) != 28 {
				t.Errorf("split include of %d octets", len(a.Value))
			}
		case InternalIP6Address:
			if len(a.Value) != 16 {
				t.Errorf("IPv6 address of %d octets", len(a.Value))
			}
		}
	}
	ack := Ack(set)
	if err := CheckAck(set, wire(t, ack)); err != nil {
		t.Fatal(err)
	}
	// 16 types: every pushed one but INTERNAL_IP6_NBNS (no IPv6 WINS).
	if ack.Identifier != 42 || len(ack.Attrs) != 16 {
		var types []string
		for _, a := range ack.Attrs {
			types = append(types, AttrName(a.Type))
		}
		t.Errorf("ACK id %d with %d attributes: %v", ack.Identifier, len(ack.Attrs), types)
	}
	for _, bad := range []*Message{nil, {Type: CfgAck, Identifier: 41}, {Type: CfgReply, Identifier: 42}} {
		if err := CheckAck(set, bad); !errors.Is(err, ErrDiscarded) {
			t.Errorf("CheckAck(%v) = %v", bad, err)
		}
	}
}

// Pull: only what was asked, flags even when false, in the order asked.
func TestReplyOnlyWhatWasAsked(t *testing.T) {
	req := NewRequest(5, UnityPFS, InternalIP4Address, InternalIP6DNS, UnitySavePasswd, InternalIP4Address, InternalIP4DHCP)
	l := fullLease()
	l.SavePassword = false
	reply, err := Reply(req, l)
	if err != nil {
		t.Fatal(err)
	}
	var types []uint16
	for _, a := range reply.Attrs {
		types = append(types, a.Type)
	}
	if want := []uint16{UnityPFS, InternalIP4Address, InternalIP6DNS, UnitySavePasswd}; !slices.Equal(types, want) || reply.Identifier != 5 || reply.Type != CfgReply {
		t.Fatalf("reply %v", reply)
	}
	if v, _ := reply.Attrs[3].Uint16(); v != 0 {
		t.Errorf("SAVE_PASSWD %d", v)
	}
	// The client may ask for an address it had.
	req.Attrs[1].Value = []byte{10, 10, 0, 9}
	r, err := ParseRequest(req)
	if err != nil || r.IP4 != netip.MustParseAddr("10.10.0.9") {
		t.Errorf("ParseRequest: %v %v", r, err)
	}
	if _, err := Reply(NewRequest(1, InternalIP4Address), &Lease{DNS: l.DNS}); !errors.Is(err, ErrNoAddress) {
		t.Errorf("Reply without address: %v", err)
	}
	if _, err := Set(1, &Lease{DNS: l.DNS}); !errors.Is(err, ErrNoAddress) {
		t.Errorf("Set without address: %v", err)
	}
	if _, err := ParseRequest(&Message{Type: CfgRequest, Attrs: []Attribute{{Type: InternalIP4Address, Value: []byte{1, 2}}}}); !errors.Is(err, ErrMalformed) {
		t.Errorf("short requested address: %v", err)
	}
}

func TestParseLeaseStrict(t *testing.T) {
	addr := Attribute{Type: InternalIP4Address, Value: []byte{10, 0, 0, 1}}
	for _, tc := range []struct {
		name  string
		attrs []Attribute
		want  error
	}{
		{"short address", []Attribute{{Type: InternalIP4Address, Value: []byte{10, 0, 0}}}, ErrMalformed},
		{"long DNS", []Attribute{addr, {Type: InternalIP4DNS, Value: make([]byte, 5)}}, ErrMalformed},
		{"IPv6 DNS of 4", []Attribute{addr, {Type: InternalIP6DNS, Value: make([]byte, 4)}}, ErrMalformed},
		{"expiry of 2", []Attribute{addr, {Type: InternalAddressExpiry, Value: make([]byte, 2)}}, ErrMalformed},
		{"split of 7", []Attribute{addr, {Type: UnitySplitInclude, Value: make([]byte, 7)}}, ErrMalformed},
		{"split of 14+3", []Attribute{addr, {Type: UnitySplitInclude, Value: make([]byte, 17)}}, ErrMalformed},
		{"split mask", []Attribute{addr, {Type: UnitySplitInclude, Value: []byte{10, 0, 0, 0, 255, 0, 255, 0}}}, ErrMalformed},
		{"netmask", []Attribute{addr, {Type: InternalIP4Netmask, Value: []byte{255, 0, 255, 0}}}, ErrMalformed},
		{"flag of 3", []Attribute{addr, {Type: UnityPFS, Value: make([]byte, 3)}}, ErrMalformed},
		{"no address", []Attribute{{Type: InternalIP4Address}, {Type: InternalIP4DNS, Value: []byte{192, 0, 2, 1}}}, ErrNoAddress},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ParseLease(&Message{Type: CfgReply, Attrs: tc.attrs}); !errors.Is(err, tc.want) {
				t.Errorf("err %v, want %v", err, tc.want)
			}
		})
	}
	if _, err := ParseLease(&Message{Type: CfgRequest}); !errors.Is(err, ErrProtocol) {
		t.Errorf("REQUEST parsed as lease: %v", err)
	}
	// Lenient where strongSwan is: a last split entry without padding,
	// flags as two-octet variable attributes, a 17-octet IPv6 address,
	// hostile text cleaned.
	l, err := ParseLease(&Message{Type: CfgReply, Attrs: []Attribute{
		{Type: InternalIP6Address, Value: append(netip.MustParseAddr("2001:db8::2").AsSlice(), 64)},
		{Type: UnitySplitInclude, Value: []byte{10, 1, 0, 0, 255, 255, 0, 0, 0, 0, 0, 0, 0, 0, 10, 2, 0, 0, 255, 255, 255, 0}},
		{Type: UnitySavePasswd, Value: []byte{0, 1}},
		{Type: UnityBanner, Value: []byte("a\x1b[2Jb")},
		{Type: UnitySplitDNSName, Value: []byte("a.example, b.example")},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if l.IP6 != netip.MustParseAddr("2001:db8::2") || !l.SavePassword || strings.ContainsRune(l.Banner, 0x1b) ||
		!slices.Equal(l.SplitInclude, []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16"), netip.MustParsePrefix("10.2.0.0/24")}) ||
		!slices.Equal(l.SplitDNS, []string{"a.example", "b.example"}) {
		t.Errorf("lease %+v", l)
	}
}

func TestLeaseValidate(t *testing.T) {
	for name, mod := range map[string]func(*Lease){
		"IP4 is v6":      func(l *Lease) { l.IP4 = netip.MustParseAddr("2001:db8::1") },
		"mask":           func(l *Lease) { l.Netmask4 = netip.MustParseAddr("255.0.255.0") },
		"IP6 is v4":      func(l *Lease) { l.IP6 = netip.MustParseAddr("192.0.2.1") },
		"bad DNS":        func(l *Lease) { l.DNS = []netip.Addr{{}} },
		"expiry":         func(l *Lease) { l.Expiry = -time.Second },
		"domain":         func(l *Lease) { l.DefaultDomain = strings.Repeat("a", MaxDomainLen+1) },
		"banner":         func(l *Lease) { l.Banner = strings.Repeat("a", MaxBannerLen+1) },
		"version":        func(l *Lease) { l.AppVersion = strings.Repeat("a", MaxVersionLen+1) },
		"split dns":      func(l *Lease) { l.SplitDNS = []string{"a,b"} },
		"backup":         func(l *Lease) { l.BackupServers = []string{""} },
		"split v6":       func(l *Lease) { l.SplitInclude = []netip.Prefix{netip.MustParsePrefix("2001:db8::/32")} },
		"local lan zero": func(l *Lease) { l.LocalLAN = []netip.Prefix{{}} },
		"many nets":      func(l *Lease) { l.SplitInclude = make([]netip.Prefix, MaxSplitNetworks+1) },
	} {
		l := fullLease()
		mod(l)
		if err := l.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
		if _, err := Set(1, l); err == nil {
			t.Errorf("%s: Set accepted", name)
		}
	}
	if err := fullLease().Validate(); err != nil {
		t.Error(err)
	}
	if err := (&Lease{}).Validate(); err != nil {
		t.Error(err)
	}
}

func TestAppendErrors(t *testing.T) {
	for _, a := range []Attribute{
		{Type: 0x8000, Value: []byte{}},
		{Type: 1, TV: true, Value: []byte{1}},
		{Type: 1, Value: make([]byte, 0x10000)},
	} {
		if _, err := Append(nil, &Message{Type: CfgSet, Attrs: []Attribute{a}}); err == nil {
			t.Errorf("%v encoded", a)
		}
	}
	if _, err := Parse([]byte{9, 0, 0, 0}); !errors.Is(err, ErrMalformed) {
		t.Errorf("CFG type 9: %v", err)
	}
	many := make([]byte, 4, 4+4*(MaxAttributes+1))
	many[0] = byte(CfgRequest)
	for range MaxAttributes + 1 {
		many = append(many, 0, 1, 0, 0)
	}
	if _, err := Parse(many); !errors.Is(err, ErrMalformed) {
		t.Errorf("%d attributes: %v", MaxAttributes+1, err)
	}
}

// Messages the engine builds by hand may break the codec's invariants
// (a TV attribute whose value is not two octets); nothing may panic.
func TestHandBuiltMessagesDoNotPanic(t *testing.T) {
	odd := []Attribute{
		{Type: UnitySavePasswd, TV: true}, {Type: UnityPFS, TV: true, Value: []byte{1}},
		{Type: XAuthType, TV: true}, {Type: XAuthStatus, TV: true, Value: []byte{1, 2, 3}},
		{Type: InternalIP4Address, TV: true}, {Type: XAuthUserName, TV: true},
	}
	for _, typ := range []CfgType{CfgRequest, CfgReply, CfgSet, CfgAck} {
		m := &Message{Type: typ, Attrs: odd}
		_, _ = ParseLease(m)
		_, _ = ParseRequest(m)
		_, _ = Reply(m, fullLease())
		_ = Ack(m)
		c, _ := NewClient(ClientConfig{Name: "a"})
		_, _, _ = c.Process(m)
		s, _ := NewServer(ServerConfig{Users: testUsers()})
		req, _ := s.Start()
		m.Identifier = req.Identifier
		_, _, _ = s.Process(t.Context(), m)
	}
}
