// Package testnet builds small networks of Linux network namespaces for the
// project's tests: a client and a server joined by a veth pair, optionally
// with a NAT router between them, all on documentation address ranges
// (RFC 5737, RFC 3849). Everything a test creates is removed by t.Cleanup,
// and processes are stopped by the PID the test started.
//
// Tests that use it need root and iproute2. Require reports a missing
// prerequisite as a failure when CI=true and as a skip otherwise, as the
// project's test policy says.
package testnet
