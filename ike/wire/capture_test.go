package wire_test

import (
	"bytes"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/goipsec/ipsec/ike/wire"
	"github.com/goipsec/ipsec/internal/isakmp/capture"
)

// ikev2Captures are the IKEv2 captures from ../shared/testdata copied into
// testdata, with the number of IKEv2 messages each holds (counted with
// tshark -Y isakmp).
var ikev2Captures = []struct {
	file string
	n    int
}{
	{"testdata/ikev2_nat_t.pcapng", 30},
	{"testdata/ikev2_notify_redirect.pcap", 4},
	{"testdata/ipsec_client.pcap", 5},
	{"testdata/ikev2-decrypt-aes128ccm12.frames-from-scapy.pcap", 4},
}

// capturedMessages returns every IKEv2 message of a capture.
func capturedMessages(t testing.TB, file string) []capture.Packet {
	t.Helper()
	ps, err := capture.ReadFile(file)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	var out []capture.Packet
	for _, p := range ps {
		if len(p.Payload) > 17 && p.Payload[17]>>4 == 2 {
			out = append(out, p)
		}
	}
	return out
}

// TestCaptures decodes every IKEv2 message in the captures, re-encodes it
// byte for byte and checks that the re-encoding parses to the same value.
func TestCaptures(t *testing.T) {
	for _, c := range ikev2Captures {
		ps := capturedMessages(t, c.file)
		if len(ps) != c.n {
			t.Errorf("%s: %d IKEv2 messages, want %d", c.file, len(ps), c.n)
		}
		for _, p := range ps {
			m, err := wire.Parse(p.Payload)
			if err != nil {
				t.Errorf("%s frame %d: %v", c.file, p.Frame, err)
				continue
			}
			re, err := m.Append(nil)
			if err != nil || !bytes.Equal(re, p.Payload) {
				t.Errorf("%s frame %d: re-encoding differs (%v)", c.file, p.Frame, err)
				continue
			}
			m2, err := wire.Parse(re)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(m, m2, cmpOpts); d != "" {
				t.Errorf("%s frame %d: (-first +second)\n%s", c.file, p.Frame, d)
			}
			if m.Summary() == "" {
				t.Errorf("empty summary")
			}
			for i := range p.Payload {
				if _, err := wire.Parse(p.Payload[:i]); err == nil {
					t.Fatalf("%s frame %d: %d-byte prefix accepted", c.file, p.Frame, i)
				}
			}
		}
	}
}

// TestCaptureSummaries pins the strongSwan-style summaries of the capture
// messages; the expected lines follow charon's format and abbreviations.
func TestCaptureSummaries(t *testing.T) {
	want := map[string][]string{
		"testdata/ikev2_notify_redirect.pcap": {
			"IKE_SA_INIT request 0 [ SA KE No N(NATD_D_IP) N(NATD_S_IP) N(FRAG_SUP) N(REDIR_SUP) N(HASH_ALG) ]",
			"IKE_SA_INIT response 0 [ N(REDIR) ]",
			"IKE_SA_INIT request 0 [ SA KE No N(NATD_D_IP) N(NATD_S_IP) N(FRAG_SUP) N(REDIR_FROM) N(HASH_ALG) ]",
			"IKE_SA_INIT response 0 [ N(NO_PROP) ]",
		},
		"testdata/ipsec_client.pcap": {
			"IKE_SA_INIT request 0 [ SA KE No N(NATD_S_IP) N(NATD_D_IP) V V V V ]",
			"IKE_SA_INIT response 0 [ SA KE No N(NATD_S_IP) N(NATD_D_IP) N(MULT_AUTH) ]",
			"IKE_AUTH request 1 [ E ]",
			"IKE_AUTH request 1 [ E ]",
			"IKE_AUTH request 1 [ E ]",
		},
	}
	for file, lines := range want {
		var got []string
		for _, p := range capturedMessages(t, file) {
			m, err := wire.Parse(p.Payload)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, m.Summary())
		}
		if d := cmp.Diff(lines, got); d != "" {
			t.Errorf("%s (-want +got):\n%s", file, d)
		}
	}
}

// TestCaptureReassembledIPFragments: the Windows client's IKE_AUTH of
// ipsec_client.pcap was sent as IP fragments; the capture reader
// reassembles it and the codec decodes the 3468-byte message.
func TestCaptureReassembledIPFragments(t *testing.T) {
	n := 0
	for _, p := range capturedMessages(t, "testdata/ipsec_client.pcap") {
		if !p.Reassembled {
			continue
		}
		n++
		m, err := wire.Parse(p.Payload)
		if err != nil {
			t.Fatal(err)
		}
		if m.Header.Length != 3468 || m.Header.Exchange != wire.IKE_AUTH {
			t.Errorf("frame %d: %+v", p.Frame, m.Header)
		}
		if _, ok := m.Payloads[len(m.Payloads)-1].(*wire.SK); !ok {
			t.Errorf("frame %d: last payload %T", p.Frame, m.Payloads[len(m.Payloads)-1])
		}
	}
	if n != 3 {
		t.Errorf("%d reassembled IKE_AUTH messages, want 3", n)
	}
}
