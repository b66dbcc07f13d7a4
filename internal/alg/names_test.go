package alg

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goipsec/ipsec/proposal"
)

// TestWiresharkNames checks the key-log names against the algorithm
// column values of Wireshark's own decryption test tables.
func TestWiresharkNames(t *testing.T) {
	seen := map[string]bool{}
	for _, f := range []string{"ikev2_decryption_table.csv", "esp_sa.csv"} {
		fh, err := os.Open(filepath.Join("testdata", f))
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			for i, part := range strings.Split(sc.Text(), `"`) {
				if i%2 == 1 {
					seen[part] = true
				}
			}
		}
		fh.Close()
	}
	ike := []struct {
		e    proposal.EncrID
		bits int
	}{{proposal.EncrNULL, 0}, {proposal.Encr3DES, 0}, {proposal.EncrAESCCM12, 128}, {proposal.EncrAESCTR, 128}, {proposal.EncrAESCTR, 192}, {proposal.EncrAESCBC, 256}, {proposal.EncrAESCCM16, 256}, {proposal.EncrAESGCM8, 256}, {proposal.EncrAESGCM16, 256}}
	for _, c := range ike {
		n, ok := WiresharkIKEv2Encryption(c.e, c.bits)
		if !ok || !seen[n] {
			t.Errorf("IKEv2 %d/%d: %q not in Wireshark's table", c.e, c.bits, n)
		}
	}
	for _, i := range []proposal.IntegID{proposal.IntegNone, proposal.IntegHMACSHA1160, proposal.IntegHMACSHA2256128} {
		if n, ok := WiresharkIKEv2Integrity(i); !ok || !seen[n] {
			t.Errorf("IKEv2 integ %d: %q not in Wireshark's table", i, n)
		}
	}
	if n, _ := WiresharkESPEncryption(proposal.EncrAESCBC); !seen[n] {
		t.Errorf("ESP %q not in Wireshark's table", n)
	}
	if n, _ := WiresharkESPIntegrity(proposal.IntegHMACSHA196); !seen[n] {
		t.Errorf("ESP %q not in Wireshark's table", n)
	}
	if _, ok := WiresharkESPEncryption(proposal.EncrAESCCM16); ok {
		t.Error("Wireshark cannot decrypt ESP CCM; want ok = false")
	}
}
