package ikev1_test

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/goipsec/ipsec/esp"
	"github.com/goipsec/ipsec/ikev1"
	"github.com/goipsec/ipsec/internal/testnet"
)

// TestKeyLog: the lines WithKeyLogWriter writes let tshark decrypt a
// capture of an in-memory handshake (the Quick Mode's payloads become
// visible), and the two ESP SA lines, in Wireshark's esp_sa format, hold
// the keys the data plane got: tshark decrypts an ESP packet sealed with
// the responder's inbound SA.
func TestKeyLog(t *testing.T) {
	tshark := needTshark(t)
	var kl bytes.Buffer
	p := newHostilePair(t, fastLookup, ikev1.WithKeyLogWriter(&kl))
	tp := newTap(p.net)
	sa, err := dialFrom(p.init, clientAddr, fastClient("client.example", 5, ikev1.MainMode))
	if err != nil {
		t.Fatal(err)
	}
	wait(t, p.gwEv.childUpCh, "responder's ChildUp")
	installed := p.gwDP.SAs()
	ckyI, _ := sa.CookiesForTest()

	var ikeRows, espRows []string
	for _, l := range strings.Split(strings.TrimSpace(kl.String()), "\n") {
		if strings.HasPrefix(l, `"IPv`) {
			espRows = append(espRows, l)
		} else if l != "" {
			ikeRows = append(ikeRows, l)
		}
	}
	if len(ikeRows) != 1 || len(espRows) != 2 {
		t.Fatalf("key log: %d IKEv1 and %d ESP lines, want 1 and 2:\n%s", len(ikeRows), len(espRows), kl.String())
	}
	if got := strings.Split(ikeRows[0], ",")[0]; got != hex.EncodeToString(ckyI[:]) {
		t.Errorf("IKEv1 line names cookie %s, the SA's is %x", got, ckyI)
	}

	// Each ESP line is an SA of the data plane, keys and addresses.
	var inbound *esp.SA
	for _, row := range espRows {
		f, err := csvFields(row)
		if err != nil || len(f) != 8 {
			t.Fatalf("ESP line %q: %d fields, %v", row, len(f), err)
		}
		spi, err := strconv.ParseUint(strings.TrimPrefix(f[3], "0x"), 16, 32)
		if err != nil || f[0] != "IPv4" || f[4] != "AES-CBC [RFC3602]" || f[6] != "HMAC-SHA-256-128 [RFC4868]" {
			t.Fatalf("ESP line %q: fields %q", row, f)
		}
		var match *esp.SA
		for i := range installed {
			if installed[i].SPI == uint32(spi) {
				match = &installed[i]
			}
		}
		if match == nil {
			t.Fatalf("ESP line %q: SPI %08x not in the data plane", row, spi)
		}
		if f[1] != match.Src.Addr().String() || f[2] != match.Dst.Addr().String() {
			t.Errorf("ESP line %q: addresses %s -> %s, the SA's %s -> %s", row, f[1], f[2], match.Src.Addr(), match.Dst.Addr())
		}
		if f[5] != "0x"+hex.EncodeToString(match.EncrKey) || f[7] != "0x"+hex.EncodeToString(match.IntegKey) {
			t.Errorf("ESP line of SPI %08x: keys differ from the installed SA's", spi)
		}
		if match.Dir == esp.DirIn {
			inbound = match
		}
	}
	if inbound == nil {
		t.Fatal("no ESP line for the responder's inbound SA")
	}

	// A capture: the IKE messages as they crossed the network, then one
	// ESP packet (an echo request from the client's inner address).
	tp.mu.Lock()
	var frames []pcapFrame
	for _, pk := range tp.pkts {
		frames = append(frames, pcapFrame{src: pk.from.Addr(), dst: pk.to.Addr(), proto: 17, payload: udp(pk.from.Port(), pk.to.Port(), pk.data)})
	}
	tp.mu.Unlock()
	echo := ipv4(netip.MustParseAddr("10.9.0.5"), netip.MustParseAddr("10.1.0.1"), 1, []byte{8, 0, 0xf7, 0xfe, 0, 1, 0, 0}) // type 8, id 1, seq 0
	frames = append(frames, pcapFrame{src: inbound.Src.Addr(), dst: inbound.Dst.Addr(), proto: 50, payload: sealESP(t, inbound, echo)})
	path := writeFrames(t, frames)

	run := func(filter string, fields ...string) string {
		t.Helper()
		args := []string{"-r", path, "-o", "uat:ikev1_decryption_table:" + ikeRows[0],
			"-o", "esp.enable_encryption_decode:TRUE", "-o", "uat:esp_sa:" + strings.Join(espRows, "\n"),
			"-Y", filter, "-T", "fields", "-E", "occurrence=a", "-E", "aggregator=,"}
		for _, f := range fields {
			args = append(args, "-e", f)
		}
		cmd := exec.Command(tshark, args...)
		cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("tshark -Y %s: %v\n%s", filter, err, stderr.String())
		}
		return strings.TrimSpace(string(out))
	}
	// Quick Mode (exchange 32) decrypted: HASH(8), SA(1) with its
	// proposal (2) and transform (3), Nonce(10), IDci and IDcr (5): the
	// client's host address (ID_IPV4_ADDR, 1) and the gateway's subnet
	// (ID_IPV4_ADDR_SUBNET, 4); then HASH(3) alone.
	qm := run("isakmp.exchangetype == 32", "isakmp.typepayload", "isakmp.id.type")
	want := []string{"8,1,2,3,10,5,5\t1,4", "8,1,2,3,10,5,5\t1,4", "8"}
	var got []string
	for _, l := range strings.Split(qm, "\n") {
		got = append(got, strings.TrimSpace(l))
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("tshark's Quick Mode payloads:\n%s\nwant:\n%s", qm, strings.Join(want, "\n"))
	}
	// Main Mode messages 5 and 6 decrypted: the ID of the client.
	if mm := run("isakmp.exchangetype == 2 && isakmp.id.type", "isakmp.id.type"); !strings.Contains(mm, "2") {
		t.Errorf("tshark did not decrypt Main Mode messages 5 and 6: ID types %q", mm)
	}
	if n := run("icmp.type == 8", "frame.number"); n == "" {
		t.Error("tshark did not decrypt the ESP packet with the key log's esp_sa line")
	}
	t.Logf("tshark decrypted the Quick Mode and the ESP packet with the key log")
}

// needTshark returns tshark's path; without it the test fails in CI and
// is skipped elsewhere.
func needTshark(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("tshark")
	if err == nil {
		return path
	}
	msg := "tshark not installed (apt-get install tshark)"
	if testnet.InCI() {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// csvFields splits a line of quoted, comma-separated fields.
func csvFields(line string) ([]string, error) {
	var out []string
	for _, f := range strings.Split(line, ",") {
		s, err := strconv.Unquote(f)
		if err != nil {
			return nil, fmt.Errorf("field %s: %w", f, err)
		}
		out = append(out, s)
	}
	return out, nil
}

// sealESP encrypts an inner IPv4 packet for a tunnel-mode AES-CBC +
// HMAC-SHA2-256-128 SA (RFC 4303, RFC 3602, RFC 4868), sequence number 1.
func sealESP(t *testing.T, sa *esp.SA, inner []byte) []byte {
	t.Helper()
	block, err := aes.NewCipher(sa.EncrKey)
	if err != nil {
		t.Fatal(err)
	}
	pt := append([]byte(nil), inner...)
	for i := 1; (len(pt)+2)%16 != 0; i++ {
		pt = append(pt, byte(i))
	}
	pt = append(pt, byte(len(pt)-len(inner)), 4) // pad length, next header IPv4
	b := binary.BigEndian.AppendUint32(nil, sa.SPI)
	b = binary.BigEndian.AppendUint32(b, 1)
	iv := bytes.Repeat([]byte{0x17}, 16)
	b = append(b, iv...)
	ct := make([]byte, len(pt))
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(ct, pt)
	b = append(b, ct...)
	mac := hmac.New(sha256.New, sa.IntegKey)
	mac.Write(b)
	return append(b, mac.Sum(nil)[:16]...)
}

type pcapFrame struct {
	src, dst netip.Addr
	proto    byte
	payload  []byte
}

func udp(sport, dport uint16, data []byte) []byte {
	b := binary.BigEndian.AppendUint16(nil, sport)
	b = binary.BigEndian.AppendUint16(b, dport)
	b = binary.BigEndian.AppendUint16(b, uint16(8+len(data)))
	b = append(b, 0, 0)
	return append(b, data...)
}

func ipv4(src, dst netip.Addr, proto byte, payload []byte) []byte {
	n := 20 + len(payload)
	ip := []byte{0x45, 0, byte(n >> 8), byte(n), 0, 1, 0, 0, 64, proto, 0, 0}
	ip = append(ip, src.AsSlice()...)
	ip = append(ip, dst.AsSlice()...)
	var sum uint32
	for j := 0; j < 20; j += 2 {
		sum += uint32(ip[j])<<8 | uint32(ip[j+1])
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	binary.BigEndian.PutUint16(ip[10:], ^uint16(sum))
	return append(ip, payload...)
}

// writeFrames writes raw IPv4 packets (link type 101) to a pcap file.
func writeFrames(t *testing.T, frames []pcapFrame) string {
	t.Helper()
	var b []byte
	for _, v := range []uint32{0xa1b2c3d4, 2 | 4<<16, 0, 0, 65535, 101} {
		b = binary.LittleEndian.AppendUint32(b, v)
	}
	for i, f := range frames {
		pkt := ipv4(f.src, f.dst, f.proto, f.payload)
		for _, v := range []uint32{uint32(i + 1), 0, uint32(len(pkt)), uint32(len(pkt))} {
			b = binary.LittleEndian.AppendUint32(b, v)
		}
		b = append(b, pkt...)
	}
	path := filepath.Join(t.TempDir(), "ikev1.pcap")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
