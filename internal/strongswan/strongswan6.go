package strongswan

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/goipsec/ipsec/internal/testnet"
)

// plugins6 are the plugins of the strongSwan 6 build (scripts/build-strongswan6):
// OpenSSL for the classic algorithms, "ml" for ML-KEM (Debian 12's OpenSSL
// 3.0 has none), userspace ESP.
const plugins6 = "random nonce openssl ml pem pkcs1 pkcs8 x509 pubkey constraints kdf drbg attr resolve vici kernel-libipsec kernel-netlink socket-default counters"

// Prefix6 is where scripts/build-strongswan6 installs strongSwan 6
// (STRONGSWAN6_PREFIX overrides it).
func Prefix6() string {
	if p := os.Getenv("STRONGSWAN6_PREFIX"); p != "" {
		return p
	}
	return "/var/cache/goipsec-strongswan6/strongswan-6.0.1"
}

// built6 reports whether prefix holds a charon with the ml plugin.
func built6(prefix string) bool {
	for _, f := range []string{"libexec/ipsec/charon", "sbin/swanctl", "lib/ipsec/plugins/libstrongswan-ml.so"} {
		if _, err := os.Stat(filepath.Join(prefix, f)); err != nil {
			return false
		}
	}
	return true
}

// Require6 returns the prefix of the strongSwan 6 build for
// Options.Prefix. Without it the test is skipped with the command that
// builds it, except under CI (CI=true), where the build is run now (a
// few minutes, once: it is cached under /var/cache) and a failure fails
// the test.
func Require6(t testing.TB) string {
	t.Helper()
	testnet.Require(t, "ip")
	prefix := Prefix6()
	if built6(prefix) {
		return prefix
	}
	script := findScript("scripts/build-strongswan6")
	if !testnet.InCI() {
		t.Skipf("strongSwan 6 missing at %s: build it once with %s (as root)", prefix, script)
	}
	if script == "" {
		t.Fatalf("strongSwan 6 missing at %s and scripts/build-strongswan6 not found", prefix)
	}
	out, err := exec.Command(script).CombinedOutput()
	if err != nil || !built6(prefix) {
		t.Fatalf("%s: %v\n%s", script, err, out)
	}
	return prefix
}

// findScript looks for rel in the working directory and its parents (the
// module root holds scripts/).
func findScript(rel string) string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for range 8 {
		p := filepath.Join(dir, rel)
		if _, err := os.Stat(p); err == nil {
			return p
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	return ""
}
