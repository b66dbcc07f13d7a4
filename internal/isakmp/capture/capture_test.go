package capture

import "testing"

func TestReadIKEv1Captures(t *testing.T) {
	for _, tc := range []struct {
		file string
		min  int
	}{
		{"../testdata/ipsec.cap", 9},
		{"../testdata/ipsec-ikev1-isakmp-main-mode.pcap", 6},
		{"../testdata/ipsec-ikev1-isakmp-aggressive-mode.pcap", 3},
		{"../testdata/ikev1-certs.pcap", 6},
		{"../testdata/ipsec-ikev1-payload-bad-length.pcap", 1},
		{"../testdata/ipsec-ikev1-zero-length.pcap", 1},
	} {
		ps, err := ReadFile(tc.file)
		if err != nil {
			t.Fatalf("%s: %v", tc.file, err)
		}
		if len(ps) < tc.min {
			t.Errorf("%s: %d IKE packets, want at least %d", tc.file, len(ps), tc.min)
		}
		for _, p := range ps {
			if p.Frame < 1 || !p.Src.IsValid() || !p.Dst.IsValid() {
				t.Errorf("%s: bad packet %+v", tc.file, p)
			}
		}
	}
}

func TestReadTruncated(t *testing.T) {
	for _, b := range [][]byte{nil, {0xd4, 0xc3, 0xb2, 0xa1}, {0x0a, 0x0d, 0x0d, 0x0a, 1, 0, 0, 0}, {1, 2, 3, 4, 5}} {
		if _, err := Read(b); err == nil {
			t.Errorf("Read(%x) succeeded", b)
		}
	}
}
