//go:build !linux

package main

// capSet is a capability bit mask; capabilities are Linux's.
type capSet uint64

// String names the set.
func (capSet) String() string { return "none (not Linux)" }

// servingCaps: no capabilities outside Linux.
var servingCaps []int

// dropPrivileges does nothing outside Linux, which has no capabilities;
// the responder's data planes and forwarding run on Linux only.
func dropPrivileges([]int) (capSet, error) { return 0, nil }
