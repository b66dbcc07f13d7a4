//go:build !unix

package ike_test

// cpuSeconds is the process's CPU time where getrusage exists; elsewhere
// BenchmarkIdleSA reports no idle CPU.
func cpuSeconds() float64 { return 0 }
