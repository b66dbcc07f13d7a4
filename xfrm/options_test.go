package xfrm

import (
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netns"
)

func TestOptionsValidate(t *testing.T) {
	cases := []struct {
		name string
		opts []Option
		err  string // substring naming the option; "" = valid
	}{
		{"defaults", nil, ""},
		{"if_id and range", []Option{WithIfID(7), WithReqIDRange(1000, 1999), WithRemoveStale()}, ""},
		{"mark", []Option{WithMark(0x100, 0xff00), WithRemoveStale()}, ""},
		{"mark outside mask", []Option{WithMark(0x1ff, 0xff00)}, "WithMark"},
		{"if_id range", []Option{WithIfID(7), WithIfIDRange(100, 199), WithRemoveStale()}, ""},
		{"if_id range alone tags", []Option{WithIfIDRange(100, 199), WithRemoveStale()}, ""},
		{"if_id range inverted", []Option{WithIfIDRange(9, 3)}, "WithIfIDRange"},
		{"if_id range with zero", []Option{WithIfIDRange(0, 3)}, "WithIfIDRange"},
		{"range inverted", []Option{WithReqIDRange(10, 5)}, "WithReqIDRange"},
		{"range with zero", []Option{WithReqIDRange(0, 5)}, "WithReqIDRange"},
		{"stale without tag", []Option{WithRemoveStale()}, "WithRemoveStale"},
		{"event buffer", []Option{WithEventBuffer(0)}, "WithEventBuffer"},
		{"nil logger", []Option{WithLogger(nil)}, "WithLogger"},
		{"keepalive interval", []Option{WithNATKeepalive(nil, -time.Second)}, "WithNATKeepalive"},
		{"closed netns", []Option{WithNetNS(netns.None())}, "WithNetNS"},
	}
	for _, c := range cases {
		cfg := defaultConfig()
		for _, o := range c.opts {
			o(&cfg)
		}
		err := cfg.validate()
		switch {
		case c.err == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%s: %v, want an error naming %s", c.name, err, c.err)
		}
	}
	cfg := defaultConfig()
	WithReqIDRange(10, 20)(&cfg)
	if cfg.reqIDAllowed(9) || !cfg.reqIDAllowed(10) || !cfg.reqIDAllowed(20) || cfg.reqIDAllowed(21) {
		t.Error("reqIDAllowed does not follow the range")
	}
}

func TestIfIDOwnership(t *testing.T) {
	type want struct {
		id                   uint32
		allowed, owns, stale bool
	}
	cases := []struct {
		name string
		opts []Option
		ids  []want
	}{
		{"no if_id", nil, []want{
			{0, true, true, false}, {1, false, false, false},
		}},
		{"default only", []Option{WithIfID(7)}, []want{
			{0, true, false, false}, {7, true, true, true}, {8, false, false, false},
		}},
		{"default and range", []Option{WithIfID(7), WithIfIDRange(100, 102)}, []want{
			{0, true, false, false}, {7, true, true, true}, {99, false, false, false},
			{100, true, true, true}, {102, true, true, true}, {103, false, false, false},
		}},
		// Without a default interface, untagged state is the machine's,
		// not ours, unless a mark or request ID range says otherwise.
		{"range only", []Option{WithIfIDRange(100, 102)}, []want{
			{0, true, true, false}, {101, true, true, true}, {7, false, false, false},
		}},
		{"range and mark", []Option{WithIfIDRange(100, 102), WithMark(1, 1)}, []want{
			{0, true, true, true}, {101, true, true, true},
		}},
	}
	for _, c := range cases {
		cfg := defaultConfig()
		for _, o := range c.opts {
			o(&cfg)
		}
		for _, w := range c.ids {
			if got := cfg.ifIDAllowed(w.id); got != w.allowed {
				t.Errorf("%s: ifIDAllowed(%d) = %t, want %t", c.name, w.id, got, w.allowed)
			}
			if got := cfg.ownsIfID(w.id); got != w.owns {
				t.Errorf("%s: ownsIfID(%d) = %t, want %t", c.name, w.id, got, w.owns)
			}
			if got := cfg.ownsStaleIfID(w.id); got != w.stale {
				t.Errorf("%s: ownsStaleIfID(%d) = %t, want %t", c.name, w.id, got, w.stale)
			}
		}
	}
	cfg := defaultConfig()
	WithIfID(7)(&cfg)
	if cfg.effIfID(0) != 7 || cfg.effIfID(100) != 100 {
		t.Errorf("effIfID: %d, %d, want 7 (the default) and 100", cfg.effIfID(0), cfg.effIfID(100))
	}
}
