package main

import (
	"context"
	"fmt"
	"os"
)

// A flag error stops roadwarrior before it opens anything, with one line
// naming the flag and exit status 2.
func Example_badFlag() {
	code := run(context.Background(), []string{"-server", "vpn.example.com", "-auth", "psk", "-psk-file", "/nonexistent/psk"}, os.Stdout, os.Stdout)
	fmt.Println("exit", code)
	// Output:
	// roadwarrior: -psk-file: open /nonexistent/psk: no such file or directory
	// exit 2
}
