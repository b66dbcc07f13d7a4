//go:build !linux

package main

// capSet is a capability bit mask; capabilities are Linux's.
type capSet uint64

// String names the set.
func (capSet) String() string { return "none (not Linux)" }

// servingCaps: no capabilities outside Linux.
var servingCaps []int

// runAs is the user to switch to; Linux only.
type runAs struct{}

// lookupRunAs refuses a user outside Linux.
func lookupRunAs(name string) (*runAs, error) {
	if name == "" {
		return nil, nil
	}
	return nil, fieldErr("user", "switching users is implemented on Linux only")
}

// dropPrivileges does nothing outside Linux, which has no capabilities;
// the responder's data planes and forwarding run on Linux only.
func dropPrivileges([]int, *runAs) (capSet, error) { return 0, nil }
