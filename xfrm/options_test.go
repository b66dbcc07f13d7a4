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
