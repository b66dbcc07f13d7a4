package isakmp_test

import (
	"bytes"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/goipsec/ipsec/internal/isakmp"
	"github.com/goipsec/ipsec/internal/isakmp/capture"
)

// v1Types walks an unencrypted IKEv1 message the way an IKEv1 codec will:
// the top-level chain, and inside SA payloads (type 1, after DOI and
// situation) the proposal chain (type 2) and each proposal's transform
// chain (type 3), all with the same walker. It returns the payload types
// in tshark's order.
func v1Types(msg []byte, h isakmp.Header) ([]uint8, error) {
	var out []uint8
	err := isakmp.Walk(msg[isakmp.HeaderLen:h.Length], isakmp.HeaderLen, h.NextPayload, nil, func(p isakmp.Payload) error {
		out = append(out, p.Type)
		if p.Type != 1 {
			return nil
		}
		r := isakmp.NewReader(p.Body, p.Offset+4, 1)
		r.Uint32("DOI")
		r.Uint32("situation")
		if r.Empty() {
			return nil
		}
		start := r.Offset()
		return isakmp.Walk(r.Rest(), start, 2, nil, func(pr isakmp.Payload) error {
			out = append(out, pr.Type)
			rr := isakmp.NewReader(pr.Body, pr.Offset+4, 2)
			rr.Uint16("number, protocol")
			spi, _ := rr.Uint8("SPI size")
			n, err := rr.Uint8("transforms")
			if err != nil {
				return err
			}
			if _, err := rr.Bytes(int(spi), "SPI"); err != nil {
				return err
			}
			if n == 0 {
				return nil
			}
			ts := rr.Offset()
			return isakmp.Walk(rr.Rest(), ts, 3, nil, func(tr isakmp.Payload) error {
				out = append(out, tr.Type)
				return nil
			})
		})
	})
	return out, err
}

// TestTsharkIKEv1 compares the payload and substructure types the walker
// finds in the well-formed IKEv1 captures with tshark's dissection.
func TestTsharkIKEv1(t *testing.T) {
	bin, err := exec.LookPath("tshark")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("tshark not found; scripts/test installs it (apt-get install tshark)")
		}
		t.Skip("tshark not found; install it with `apt-get install tshark` to run the cross-check")
	}
	for _, file := range []string{"testdata/ipsec.cap", "testdata/ipsec-ikev1-isakmp-main-mode.pcap",
		"testdata/ipsec-ikev1-isakmp-aggressive-mode.pcap", "testdata/ikev1-certs.pcap"} {
		out, err := exec.Command(bin, "-r", file, "-Y", "isakmp", "-T", "fields", "-E", "occurrence=a",
			"-E", "aggregator=,", "-e", "frame.number", "-e", "isakmp.flags", "-e", "isakmp.typepayload").Output()
		if err != nil {
			t.Fatalf("tshark %s: %v", file, err)
		}
		want := map[int]string{}
		for line := range strings.SplitSeq(strings.TrimRight(string(out), "\n"), "\n") {
			f := strings.Split(line, "\t")
			if len(f) != 3 {
				t.Fatalf("tshark line %q", line)
			}
			n, _ := strconv.Atoi(f[0])
			want[n] = f[2]
		}
		ps, err := capture.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if len(ps) != len(want) {
			t.Errorf("%s: %d messages, tshark %d", file, len(ps), len(want))
		}
		for _, p := range ps {
			h, err := isakmp.ParseHeader(p.Payload)
			if err != nil {
				t.Fatalf("%s frame %d: %v", file, p.Frame, err)
			}
			if h.Flags&1 != 0 {
				if want[p.Frame] != "" {
					t.Errorf("%s frame %d: encrypted, but tshark saw %q", file, p.Frame, want[p.Frame])
				}
				continue
			}
			types, err := v1Types(p.Payload, h)
			if err != nil {
				t.Fatalf("%s frame %d: %v", file, p.Frame, err)
			}
			var got bytes.Buffer
			for i, ty := range types {
				if i > 0 {
					got.WriteByte(',')
				}
				got.WriteString(strconv.Itoa(int(ty)))
			}
			if got.String() != want[p.Frame] {
				t.Errorf("%s frame %d: walker %s, tshark %s", file, p.Frame, got.String(), want[p.Frame])
			}
		}
	}
}
