package xauth

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/goipsec/ipsec"
)

func fuzzSeeds(f *testing.F) {
	for _, s := range []string{racoonCfgRequest, racoonXAuthReply, racoonXAuthAck, swanXAuthRequest, swanXAuthSetOK, swanCfgReply} {
		f.Add(unhex(f, s))
	}
	f.Add([]byte{3, 0, 0, 0, 0x70, 0x04, 0, 9, 1, 2, 3, 4, 255, 255, 0, 0, 0})
}

// FuzzParse: the codec never panics, fails only with ParseError, and
// re-encodes what it accepts to the same bytes.
func FuzzParse(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Parse(b)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) || !errors.Is(err, ErrMalformed) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		out, err := Append(nil, m)
		if err != nil {
			t.Fatal(err)
		}
		if b[1] == 0 && !bytes.Equal(out, b) { // the reserved octet is not kept
			t.Fatalf("re-encoding %x, input %x", out, b)
		}
		_ = m.String()
	})
}

// FuzzModeConfig: hostile REQUESTs, REPLYs and SETs never panic, and what
// ParseLease accepts re-encodes with Set to a lease that parses the same.
func FuzzModeConfig(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Parse(b)
		if err != nil {
			return
		}
		if m.Type == CfgRequest {
			if _, err := ParseRequest(m); err != nil && !errors.Is(err, ErrMalformed) {
				t.Fatalf("ParseRequest: untyped error %v", err)
			}
			reply, err := Reply(m, fullLease())
			if err == nil {
				if _, err := Append(nil, reply); err != nil {
					t.Fatalf("reply does not encode: %v", err)
				}
			}
			return
		}
		_ = Ack(m)
		l, err := ParseLease(m)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrNoAddress) && !errors.Is(err, ErrProtocol) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		// What a gateway may send a client may not be something we would
		// send (an oversized banner is cut, names may hold '?'); only check
		// that a valid lease survives the round trip.
		if l.Validate() != nil {
			return
		}
		set, err := Set(1, l)
		if err != nil {
			t.Fatalf("Set of a parsed lease: %v", err)
		}
		l2, err := ParseLease(wire(t, set))
		if err != nil || l2.IP4 != l.IP4 || l2.IP6 != l.IP6 || len(l2.SplitInclude) != len(l.SplitInclude) || len(l2.DNS) != len(l.DNS) {
			t.Fatalf("round trip: %+v -> %+v (%v)", l, l2, err)
		}
	})
}

// FuzzServer feeds the gateway a sequence of client messages cut from the
// input (a length octet before each): it never panics, ends within its
// bounds, and never puts the password into an error or result.
func FuzzServer(f *testing.F) {
	f.Add([]byte{byte(len(unhex(f, racoonXAuthReply)))}, unhex(f, racoonXAuthReply))
	f.Add([]byte{11, 8}, append(unhex(f, `02 00 0000 4089 0003 626f62`), unhex(f, racoonXAuthAck)...))
	f.Fuzz(func(t *testing.T, lens, data []byte) {
		users := ipsec.NewUsers(ipsec.User{Name: "alice", Password: ipsec.Secret("secret1")})
		s, err := NewServer(ServerConfig{Users: users, Rand: bytes.NewReader(make([]byte, 64))})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Start(); err != nil {
			t.Fatal(err)
		}
		for _, n := range lens {
			if int(n) > len(data) {
				break
			}
			m, err := Parse(data[:n])
			data = data[n:]
			if err != nil {
				continue
			}
			m.Identifier = s.Pending().Identifier // reach the state machine, not the filter
			_, res, err := s.Process(context.Background(), m)
			for _, e := range []error{err, res.Err} {
				if e != nil && strings.Contains(e.Error(), "secret1") {
					t.Fatalf("password in error %v", e)
				}
			}
			if res.Attempts > DefaultMaxAttempts {
				t.Fatalf("%d attempts", res.Attempts)
			}
			if errors.Is(err, ErrFinished) || s.Pending() == nil {
				return
			}
		}
	})
}

// FuzzClient feeds our initiator a sequence of gateway messages: it never
// panics and answers at most MaxRequests REQUESTs.
func FuzzClient(f *testing.F) {
	f.Add([]byte{11, 8}, append(unhex(f, swanXAuthRequest), unhex(f, swanXAuthSetOK)...))
	f.Add([]byte{12}, unhex(f, `01 00 5678 c088 0000 4089 0000 408a 0000`))
	f.Fuzz(func(t *testing.T, lens, data []byte) {
		c, err := NewClient(ClientConfig{Name: "alice", Password: ipsec.Secret("secret1")})
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range lens {
			if int(n) > len(data) {
				break
			}
			m, err := Parse(data[:n])
			data = data[n:]
			if err != nil {
				continue
			}
			out, res, err := c.Process(m)
			if err != nil && strings.Contains(err.Error(), "secret1") {
				t.Fatalf("password in error %v", err)
			}
			if out != nil {
				if _, err := Append(nil, out); err != nil {
					t.Fatalf("answer does not encode: %v", err)
				}
			}
			if res.Status != StatusContinue && out == nil && err == nil {
				t.Fatal("final status without answer or error")
			}
		}
		if c.requests > DefaultMaxRequests+1 {
			t.Fatalf("answered %d requests", c.requests)
		}
	})
}
