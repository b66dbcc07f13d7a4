package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
	"kernel.org/pub/linux/libs/security/libcap/psx"
)

// servingCaps are the capabilities the responder keeps once its sockets,
// device and nftables table exist. What it still does then:
//
//   - CAP_NET_ADMIN: the kernel data plane installs and deletes XFRM
//     states and policies over netlink for every CHILD SA (each message
//     is checked against the sender's capabilities); at stop it deletes
//     the dummy device, runs `nft delete table` (nft inherits the
//     capability, see dropPrivileges) and restores the forwarding
//     sysctls (net sysctls are writable with CAP_NET_ADMIN).
//
// Not kept: CAP_NET_BIND_SERVICE (UDP 500 and 4500 and the metrics
// port are bound at start and never re-bound: the transport has no
// rebind and there is no reload), CAP_NET_RAW (the responder's userspace
// data plane sends ESP in UDP on the IKE transport's sockets and opens
// no raw ESP socket), and everything else root has (file access beyond
// the owner's, setuid, module loading, ptrace, ...): closing the TUN
// device removes it without any capability.
var servingCaps = []int{unix.CAP_NET_ADMIN}

// capSet is a capability bit mask (bit n = capability n).
type capSet uint64

func capsOf(caps ...int) capSet {
	var s capSet
	for _, c := range caps {
		s |= 1 << c
	}
	return s
}

func (s capSet) has(c int) bool { return s&(1<<c) != 0 }

// String names the capabilities the way capsh and systemd do.
func (s capSet) String() string {
	var names []string
	for c := 0; c < 64; c++ {
		if s.has(c) {
			names = append(names, capName(c))
		}
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ",")
}

// capNames are the capabilities' names by number (linux/capability.h).
var capNames = []string{
	"cap_chown", "cap_dac_override", "cap_dac_read_search", "cap_fowner", "cap_fsetid", "cap_kill",
	"cap_setgid", "cap_setuid", "cap_setpcap", "cap_linux_immutable", "cap_net_bind_service",
	"cap_net_broadcast", "cap_net_admin", "cap_net_raw", "cap_ipc_lock", "cap_ipc_owner",
	"cap_sys_module", "cap_sys_rawio", "cap_sys_chroot", "cap_sys_ptrace", "cap_sys_pacct",
	"cap_sys_admin", "cap_sys_boot", "cap_sys_nice", "cap_sys_resource", "cap_sys_time",
	"cap_sys_tty_config", "cap_mknod", "cap_lease", "cap_audit_write", "cap_audit_control",
	"cap_setfcap", "cap_mac_override", "cap_mac_admin", "cap_syslog", "cap_wake_alarm",
	"cap_block_suspend", "cap_audit_read", "cap_perfmon", "cap_bpf", "cap_checkpoint_restore",
}

func capName(c int) string {
	if c >= 0 && c < len(capNames) {
		return capNames[c]
	}
	return "cap_" + strconv.Itoa(c)
}

// threadCaps is what /proc/PID/task/TID/status says about one thread.
type threadCaps struct {
	tid                     string
	inh, prm, eff, bnd, amb capSet
	// noNewPrivs is the NoNewPrivs line (kernel 4.10 and later).
	noNewPrivs, hasNoNewPrivs bool
	// uid and gid are the thread's IDs when its real, effective, saved
	// and file system IDs agree, else -1.
	uid, gid int
}

// parseStatusCaps reads the Cap* and NoNewPrivs lines of a
// /proc/PID/status file.
func parseStatusCaps(data []byte) (threadCaps, error) {
	tc := threadCaps{uid: -1, gid: -1}
	seen := 0
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		var dst *capSet
		switch k {
		case "CapInh":
			dst = &tc.inh
		case "CapPrm":
			dst = &tc.prm
		case "CapEff":
			dst = &tc.eff
		case "CapBnd":
			dst = &tc.bnd
		case "CapAmb":
			dst = &tc.amb
		case "NoNewPrivs":
			tc.noNewPrivs, tc.hasNoNewPrivs = v == "1", true
			continue
		case "Uid", "Gid":
			id := sameIDs(v)
			if k == "Uid" {
				tc.uid = id
			} else {
				tc.gid = id
			}
			continue
		default:
			continue
		}
		n, err := strconv.ParseUint(v, 16, 64)
		if err != nil {
			return tc, fmt.Errorf("%s: %q: %v", k, v, err)
		}
		*dst = capSet(n)
		seen++
	}
	if seen < 4 { // CapAmb is missing on kernels before 4.3
		return tc, fmt.Errorf("no capability lines")
	}
	return tc, nil
}

// sameIDs is the ID of a Uid or Gid line ("real effective saved fs")
// when all four agree, else -1.
func sameIDs(v string) int {
	f := strings.Fields(v)
	if len(f) != 4 || f[0] != f[1] || f[0] != f[2] || f[0] != f[3] {
		return -1
	}
	n, err := strconv.Atoi(f[0])
	if err != nil {
		return -1
	}
	return n
}

// processThreadCaps reads every thread of process pid ("self" for this
// one): capabilities are a per-thread property, so a drop done on one
// thread only would leave the others privileged.
func processThreadCaps(pid string) ([]threadCaps, error) {
	dir := filepath.Join("/proc", pid, "task")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []threadCaps
	for _, e := range ents {
		data, err := os.ReadFile(filepath.Join(dir, e.Name(), "status"))
		if os.IsNotExist(err) {
			continue // the thread ended meanwhile
		}
		if err != nil {
			return nil, err
		}
		tc, err := parseStatusCaps(data)
		if err != nil {
			return nil, fmt.Errorf("%s/%s/status: %w", dir, e.Name(), err)
		}
		tc.tid = e.Name()
		out = append(out, tc)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no threads", dir)
	}
	return out, nil
}

// capget returns the calling thread's capability sets.
func capget() (eff, prm, inh capSet, err error) {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var d [2]unix.CapUserData
	if err := unix.Capget(&hdr, &d[0]); err != nil {
		return 0, 0, 0, err
	}
	join := func(lo, hi uint32) capSet { return capSet(uint64(hi)<<32 | uint64(lo)) }
	return join(d[0].Effective, d[1].Effective), join(d[0].Permitted, d[1].Permitted), join(d[0].Inheritable, d[1].Inheritable), nil
}

// allThreads runs a system call on every thread of the process (psx:
// syscall.AllThreadsSyscall without cgo, libpsx's signal round with cgo,
// where AllThreadsSyscall answers ENOTSUP). The arguments after a3 are
// zero, as prctl wants them.
func allThreads(trap, a1, a2, a3 uintptr) error {
	if _, _, e := psx.Syscall6(trap, a1, a2, a3, 0, 0, 0); e != 0 {
		return e
	}
	return nil
}

// runAs is the unprivileged user the responder switches to once set
// up (configuration key user).
type runAs struct {
	name     string
	uid, gid int
}

// lookupRunAs resolves the configured user, by name or number, before
// anything starts. root (uid 0) means no switch.
func lookupRunAs(name string) (*runAs, error) {
	if name == "" {
		return nil, nil
	}
	u, err := user.Lookup(name)
	if err != nil {
		if _, nerr := strconv.Atoi(name); nerr == nil {
			u, err = user.LookupId(name)
		}
	}
	if err != nil {
		return nil, fieldErr("user", "%q: %v", name, err)
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err1 != nil || err2 != nil || uid < 0 || gid < 0 {
		return nil, fieldErr("user", "%q: uid %q, gid %q", name, u.Uid, u.Gid)
	}
	if uid == 0 {
		return nil, nil
	}
	return &runAs{name: u.Username, uid: uid, gid: gid}, nil
}

// dropPrivileges reduces every thread of the process to the
// capabilities in keep (those it holds), so that a bug exploited after
// the start cannot act as root:
//
//  1. the bounding set loses everything else (PR_CAPBSET_DROP, when we
//     hold CAP_SETPCAP; under systemd the unit's CapabilityBoundingSet
//     has done it), so no later execve can regain a capability;
//  2. with as, the process becomes that user (groups: its primary group
//     only), keeping its permitted capabilities through the switch
//     (PR_SET_KEEPCAPS);
//  3. capset sets the permitted and effective sets to keep, and the
//     inheritable set to its part of keep (all of keep after a user
//     switch), which clears every other ambient capability;
//  4. after a user switch, keep is raised in the ambient set, so that
//     programs run as that user (nft at stop) get it too;
//  5. PR_SET_NO_NEW_PRIVS: no execve grants more than the caller holds
//     (no setuid binary, no file capabilities, and a root execve gets
//     no more than the permitted set).
//
// Programs it starts afterwards (nft at stop) thus run with what it
// kept: as root because root's execve grants the bounding set, clamped
// to our permitted set by no_new_privs; as another user through the
// ambient set.
//
// Every step is one system call on all threads (Go's own Setresuid and
// friends are), and the result is read back from
// /proc/self/task/*/status for every thread. It returns the set kept.
func dropPrivileges(keep []int, as *runAs) (capSet, error) {
	want := capsOf(keep...)
	eff, prm, inh, err := capget()
	if err != nil {
		return 0, fmt.Errorf("capget: %w", err)
	}
	want &= prm
	if as != nil {
		if err := allThreads(unix.SYS_PRCTL, unix.PR_SET_KEEPCAPS, 1, 0); err != nil {
			return 0, fmt.Errorf("keepcaps: %w", err)
		}
	}
	dropBounding := eff.has(unix.CAP_SETPCAP)
	if dropBounding {
		last, err := lastCap()
		if err != nil {
			return 0, err
		}
		for c := 0; c <= last; c++ {
			if want.has(c) {
				continue
			}
			if err := allThreads(unix.SYS_PRCTL, unix.PR_CAPBSET_DROP, uintptr(c), 0); err != nil {
				return 0, fmt.Errorf("dropping %s from the bounding set: %w", capName(c), err)
			}
		}
	}
	newInh := inh & want
	if as != nil {
		if err := syscall.Setgroups([]int{as.gid}); err != nil {
			return 0, fmt.Errorf("user %s: setgroups: %w", as.name, err)
		}
		if err := syscall.Setresgid(as.gid, as.gid, as.gid); err != nil {
			return 0, fmt.Errorf("user %s: setresgid: %w", as.name, err)
		}
		if err := syscall.Setresuid(as.uid, as.uid, as.uid); err != nil {
			return 0, fmt.Errorf("user %s: setresuid: %w", as.name, err)
		}
		newInh = want
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var d [2]unix.CapUserData
	for i := range d {
		shift := 32 * i
		d[i].Effective = uint32(want >> shift)
		d[i].Permitted = uint32(want >> shift)
		d[i].Inheritable = uint32(newInh >> shift)
	}
	if err := allThreads(unix.SYS_CAPSET, uintptr(unsafe.Pointer(&hdr)), uintptr(unsafe.Pointer(&d[0])), 0); err != nil {
		return 0, fmt.Errorf("capset: %w", err)
	}
	if as != nil {
		for c := 0; c < 64; c++ {
			if !want.has(c) {
				continue
			}
			if err := allThreads(unix.SYS_PRCTL, unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_RAISE, uintptr(c)); err != nil {
				return 0, fmt.Errorf("ambient %s: %w", capName(c), err)
			}
		}
		if err := allThreads(unix.SYS_PRCTL, unix.PR_SET_KEEPCAPS, 0, 0); err != nil {
			return 0, fmt.Errorf("keepcaps: %w", err)
		}
	}
	if err := allThreads(unix.SYS_PRCTL, unix.PR_SET_NO_NEW_PRIVS, 1, 0); err != nil {
		return 0, fmt.Errorf("no_new_privs: %w", err)
	}
	threads, err := processThreadCaps("self")
	if err != nil {
		return 0, fmt.Errorf("checking the drop: %w", err)
	}
	for _, tc := range threads {
		extra := (tc.eff | tc.prm | tc.inh | tc.amb) &^ want
		if dropBounding {
			extra |= tc.bnd &^ want
		}
		if extra != 0 || tc.hasNoNewPrivs && !tc.noNewPrivs {
			return 0, fmt.Errorf("thread %s still holds %s (no_new_privs %v) after the drop", tc.tid, extra, tc.noNewPrivs)
		}
		if as != nil && (tc.uid != as.uid || tc.gid != as.gid) {
			return 0, fmt.Errorf("thread %s runs as uid %d gid %d after switching to %s", tc.tid, tc.uid, tc.gid, as.name)
		}
	}
	return want, nil
}

// lastCap is the highest capability number this kernel knows.
func lastCap() (int, error) {
	b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap")
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || n < 0 || n > 63 {
		return 0, fmt.Errorf("cap_last_cap %q", b)
	}
	return n, nil
}
