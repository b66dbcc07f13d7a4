package testnet

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// InCI reports whether the tests run under CI (CI=true), where a missing
// prerequisite is a failure rather than a reason to skip.
func InCI() bool { return os.Getenv("CI") == "true" }

// Require checks that the test runs as root and that each named tool is on
// PATH. When a prerequisite is missing it fails the test under CI and skips
// it elsewhere, saying how to enable it.
func Require(t testing.TB, tools ...string) {
	t.Helper()
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root")
	}
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if len(missing) == 0 {
		return
	}
	msg := "missing prerequisites: " + strings.Join(missing, ", ") +
		" (run ./scripts/test as root, which installs them with apt)"
	if InCI() {
		t.Fatal(msg)
	}
	t.Skip(msg)
}
