package wire_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/goipsec/ipsec/ike/wire"
	"github.com/goipsec/ipsec/internal/isakmp/capture"
)

// tsharkFields are the dissector fields compared with our decoding.
var tsharkFields = []string{
	"isakmp.ispi", "isakmp.rspi", "isakmp.exchangetype", "isakmp.flags", "isakmp.messageid",
	"isakmp.typepayload", "isakmp.notify.msgtype",
	"isakmp.tf.type", "isakmp.tf.id.encr", "isakmp.tf.id.prf", "isakmp.tf.id.integ", "isakmp.tf.id.dh",
	"isakmp.tf.id.esn", "isakmp.ike2.attr.key_length", "isakmp.key_exchange.dh_group",
	"isakmp.id.type", "isakmp.auth.method", "isakmp.cert.encoding", "isakmp.certreq.type",
	"isakmp.delete.protoid",
	"isakmp.ts.number", "isakmp.ts.type", "isakmp.ts.protoid", "isakmp.ts.start_port", "isakmp.ts.end_port",
	"isakmp.ts.start_ipv4", "isakmp.ts.end_ipv4", "isakmp.ts.start_ipv6", "isakmp.ts.end_ipv6",
	"isakmp.cfg.type", "isakmp.cfg.attr.type",
}

// needTshark returns the tshark path; in CI (CI=true) a missing tshark
// fails the test, elsewhere it skips.
func needTshark(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("tshark")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("tshark not found; scripts/test installs it (apt-get install tshark)")
		}
		t.Skip("tshark not found; install it with `apt-get install tshark` (or run scripts/test as root) to run the cross-check")
	}
	return p
}

// runTshark dissects file and returns, per frame number, the normalized
// comma-joined value of every field.
func runTshark(t *testing.T, file string, opts ...string) map[int]map[string]string {
	t.Helper()
	args := append([]string{"-r", file, "-Y", "isakmp", "-T", "fields", "-E", "occurrence=a",
		"-E", "aggregator=,", "-E", "separator=/t", "-e", "frame.number"}, opts...)
	for _, f := range tsharkFields {
		args = append(args, "-e", f)
	}
	cmd := exec.Command(needTshark(t), args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark %s: %v\n%s", file, err, stderr.String())
	}
	res := map[int]map[string]string{}
	for line := range strings.SplitSeq(strings.TrimRight(string(out), "\n"), "\n") {
		cols := strings.Split(line, "\t")
		if len(cols) != len(tsharkFields)+1 {
			t.Fatalf("tshark: %d columns in %q", len(cols), line)
		}
		frame, err := strconv.Atoi(cols[0])
		if err != nil {
			t.Fatalf("tshark frame %q", cols[0])
		}
		m := map[string]string{}
		for i, f := range tsharkFields {
			m[f] = normalize(f, cols[i+1])
		}
		res[frame] = m
	}
	return res
}

// normalize turns tshark's hex and decimal numbers into decimal, drops the
// proposal/transform pseudo payload types (2, 3) tshark lists among the
// payloads, and leaves addresses and SPIs alone.
func normalize(field, v string) string {
	if v == "" || field == "isakmp.ispi" || field == "isakmp.rspi" || strings.Contains(field, "ipv") {
		return v
	}
	var out []string
	for x := range strings.SplitSeq(v, ",") {
		n, err := strconv.ParseUint(x, 0, 64)
		if err != nil {
			out = append(out, x)
			continue
		}
		if field == "isakmp.typepayload" && (n == 2 || n == 3) {
			continue
		}
		out = append(out, strconv.FormatUint(n, 10))
	}
	return strings.Join(out, ",")
}

// ourFields renders our decoding in the same form. Inner payloads of an
// opened SK follow the SK payload, as tshark lists decrypted payloads.
func ourFields(m *wire.Message) map[string]string {
	f := map[string][]string{}
	add := func(k string, v any) { f[k] = append(f[k], fmt.Sprint(v)) }
	h := &m.Header
	add("isakmp.ispi", fmt.Sprintf("%016x", h.SPIi))
	add("isakmp.rspi", fmt.Sprintf("%016x", h.SPIr))
	add("isakmp.exchangetype", uint8(h.Exchange))
	add("isakmp.flags", uint8(h.Flags))
	add("isakmp.messageid", h.MessageID)
	var walk func(ps []wire.Payload)
	walk = func(ps []wire.Payload) {
		for _, p := range ps {
			add("isakmp.typepayload", uint8(p.PayloadType()))
			switch p := p.(type) {
			case *wire.SK:
				walk(p.Payloads)
			case *wire.Notify:
				add("isakmp.notify.msgtype", uint16(p.Type))
			case *wire.SA:
				for _, pr := range p.Proposals {
					for _, tr := range pr.Transforms {
						add("isakmp.tf.type", uint8(tr.Type))
						switch tr.Type {
						case wire.TransformENCR:
							add("isakmp.tf.id.encr", tr.ID)
						case wire.TransformPRF:
							add("isakmp.tf.id.prf", tr.ID)
						case wire.TransformINTEG:
							add("isakmp.tf.id.integ", tr.ID)
						case wire.TransformKE:
							add("isakmp.tf.id.dh", tr.ID)
						case wire.TransformESN:
							add("isakmp.tf.id.esn", tr.ID)
						}
						if kl, ok := tr.KeyLength(); ok {
							add("isakmp.ike2.attr.key_length", kl)
						}
					}
				}
			case *wire.KE:
				add("isakmp.key_exchange.dh_group", uint16(p.Group))
			case *wire.ID:
				add("isakmp.id.type", uint8(p.Type))
			case *wire.Auth:
				add("isakmp.auth.method", uint8(p.Method))
			case *wire.Cert:
				add("isakmp.cert.encoding", uint8(p.Encoding))
			case *wire.CertReq:
				add("isakmp.certreq.type", uint8(p.Encoding))
			case *wire.Delete:
				add("isakmp.delete.protoid", uint8(p.Protocol))
			case *wire.TS:
				add("isakmp.ts.number", len(p.Selectors))
				for _, s := range p.Selectors {
					add("isakmp.ts.type", uint8(s.Type))
					add("isakmp.ts.protoid", s.IPProtocol)
					if s.Type != wire.TS_IPV4_ADDR_RANGE && s.Type != wire.TS_IPV6_ADDR_RANGE {
						continue
					}
					add("isakmp.ts.start_port", s.StartPort)
					add("isakmp.ts.end_port", s.EndPort)
					v := "ipv4"
					if s.Type == wire.TS_IPV6_ADDR_RANGE {
						v = "ipv6"
					}
					add("isakmp.ts.start_"+v, s.StartAddr)
					add("isakmp.ts.end_"+v, s.EndAddr)
				}
			case *wire.CP:
				add("isakmp.cfg.type", uint8(p.Type))
				for _, a := range p.Attributes {
					add("isakmp.cfg.attr.type", uint16(a.Type))
				}
			}
		}
	}
	walk(m.Payloads)
	out := map[string]string{}
	for _, k := range tsharkFields {
		out[k] = strings.Join(f[k], ",")
	}
	return out
}

// tsharkKeys returns the -o option with Wireshark's IKEv2 decryption table
// for the given SAs.
func tsharkKeys(rows ...string) []string {
	return []string{"-o", "uat:ikev2_decryption_table:" + strings.Join(rows, "\n")}
}

// TestTsharkCaptures compares our decoding of every IKEv2 message in the
// captures with tshark's dissection. The AES-CCM fixture's encrypted
// frames are decrypted by both sides (tshark from the key table, we with
// internal/alg), so the inner payloads are compared too.
func TestTsharkCaptures(t *testing.T) {
	needTshark(t)
	for _, c := range ikev2Captures {
		t.Run(filepath.Base(c.file), func(t *testing.T) {
			var opts []string
			fx := loadFixture(t)
			if strings.Contains(c.file, "aes128ccm12") {
				opts = tsharkKeys(fx.tsharkRow())
			}
			ts := runTshark(t, c.file, opts...)
			ps := capturedMessages(t, c.file)
			if len(ts) != len(ps) {
				t.Errorf("tshark dissected %d IKE messages, we found %d", len(ts), len(ps))
			}
			for _, p := range ps {
				m, err := wire.Parse(p.Payload)
				if err != nil {
					t.Fatalf("frame %d: %v", p.Frame, err)
				}
				if strings.Contains(c.file, "aes128ccm12") && m.Header.Exchange != wire.IKE_SA_INIT {
					if _, err := m.Open(fx.crypter(t, m.Header.IsInitiator()), nil); err != nil {
						t.Fatalf("frame %d: open: %v", p.Frame, err)
					}
				}
				want, ok := ts[p.Frame]
				if !ok {
					t.Errorf("frame %d: tshark has no IKE message", p.Frame)
					continue
				}
				if d := cmp.Diff(want, ourFields(m)); d != "" {
					t.Errorf("frame %d (-tshark +ours):\n%s", p.Frame, d)
				}
			}
		})
	}
}

// writePcap writes IKE messages as raw IPv4/UDP datagrams (link type 101)
// from 192.0.2.1:500 to 192.0.2.2:500.
func writePcap(t *testing.T, msgs [][]byte) string {
	t.Helper()
	var b []byte
	b = binary.LittleEndian.AppendUint32(b, 0xa1b2c3d4)
	b = binary.LittleEndian.AppendUint16(b, 2)
	b = binary.LittleEndian.AppendUint16(b, 4)
	b = binary.LittleEndian.AppendUint32(b, 0)
	b = binary.LittleEndian.AppendUint32(b, 0)
	b = binary.LittleEndian.AppendUint32(b, 65535)
	b = binary.LittleEndian.AppendUint32(b, 101)
	for i, m := range msgs {
		n := 20 + 8 + len(m)
		b = binary.LittleEndian.AppendUint32(b, uint32(i+1))
		b = binary.LittleEndian.AppendUint32(b, 0)
		b = binary.LittleEndian.AppendUint32(b, uint32(n))
		b = binary.LittleEndian.AppendUint32(b, uint32(n))
		ip := []byte{0x45, 0, byte(n >> 8), byte(n), 0, byte(i), 0, 0, 64, 17, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2}
		var sum uint32
		for j := 0; j < 20; j += 2 {
			sum += uint32(ip[j])<<8 | uint32(ip[j+1])
		}
		for sum > 0xffff {
			sum = sum&0xffff + sum>>16
		}
		binary.BigEndian.PutUint16(ip[10:], ^uint16(sum))
		b = append(b, ip...)
		b = append(b, 1, 0xf4, 1, 0xf4, byte((n-20)>>8), byte(n-20), 0, 0)
		b = append(b, m...)
	}
	path := filepath.Join(t.TempDir(), "encoded.pcap")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	// Our own reader must agree on what we wrote.
	ps, err := capture.ReadFile(path)
	if err != nil || len(ps) != len(msgs) {
		t.Fatalf("capture.ReadFile: %d packets, %v", len(ps), err)
	}
	return path
}

// TestTsharkEncoded encodes messages with every payload type, including an
// SK payload sealed with AES-GCM-16, and lets tshark dissect (and decrypt)
// them: an independent check of the encoder, padding, AAD and lengths.
func TestTsharkEncoded(t *testing.T) {
	needTshark(t)
	key := unhex("000102030405060708090a0b0c0d0e0f 10111213")
	gcm := newGCM(key)
	msgs := sampleMessages()
	var raw [][]byte
	for _, m := range msgs {
		var b []byte
		var err error
		if _, ok := m.Payloads[len(m.Payloads)-1].(*wire.SK); ok {
			b, err = m.AppendSealed(nil, gcm, &zeroRand{})
		} else {
			b, err = m.Append(nil)
		}
		if err != nil {
			t.Fatal(err)
		}
		raw = append(raw, b)
	}
	file := writePcap(t, raw)
	row := fmt.Sprintf("%016x,%016x,%x,%x,\"AES-GCM-128 with 16 octet ICV [RFC5282]\",,,\"NONE [RFC4306]\"",
		msgs[1].Header.SPIi, msgs[1].Header.SPIr, key, key)
	ts := runTshark(t, file, tsharkKeys(row)...)
	for i, b := range raw {
		m, err := wire.Parse(b)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := m.Payloads[len(m.Payloads)-1].(*wire.SK); ok {
			if _, err := m.Open(gcm, nil); err != nil {
				t.Fatal(err)
			}
		}
		if d := cmp.Diff(ts[i+1], ourFields(m)); d != "" {
			t.Errorf("message %d %s (-tshark +ours):\n%s", i+1, m.Summary(), d)
		}
		if !slices.Contains(strings.Split(ts[i+1]["isakmp.typepayload"], ","), "41") && i == 0 {
			t.Errorf("tshark saw no notify in message 1")
		}
	}
}
