package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// A configuration mistake stops the start with one line naming the key,
// before any socket, device or file is created.
func Example() {
	dir, _ := os.MkdirTemp("", "responder-example")
	defer os.RemoveAll(dir)
	cfg := filepath.Join(dir, "responder.yaml")
	os.WriteFile(cfg, []byte("pools:\n  - 198.51.100.0/24\n  - 2001:db8:100::/129\n"), 0o600)
	var out strings.Builder
	code := run(context.Background(), []string{"-config", cfg, "-state", filepath.Join(dir, "state")}, &out, &out)
	fmt.Print(strings.ReplaceAll(out.String(), cfg, "CONFIG"))
	fmt.Println("exit status", code)
	// Output:
	// responder: config CONFIG: pools[1]: bad CIDR "2001:db8:100::/129"
	// exit status 1
}
