package testnet

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// NS is a network namespace created by a test.
type NS struct {
	// Name is the namespace's name (ip netns).
	Name string
	t    testing.TB
}

var nsSeq atomic.Uint32

// NewNS creates a namespace named "gi-<tag>-<pid>-<n>" with lo up and
// reverse-path filtering off, and deletes it when the test ends.
func NewNS(t testing.TB, tag string) *NS {
	t.Helper()
	name := fmt.Sprintf("gi-%s-%d-%d", tag, os.Getpid(), nsSeq.Add(1))
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add %s: %v: %s", name, err, out)
	}
	ns := &NS{Name: name, t: t}
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			t.Logf("ip netns del %s: %v: %s", name, err, out)
		}
	})
	ns.Run("ip", "link", "set", "lo", "up")
	ns.Run("sysctl", "-qw", "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0")
	return ns
}

// Command returns a command that runs inside the namespace.
func (ns *NS) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns.Name, name}, args...)...)
}

// Run runs a command inside the namespace and fails the test if it fails.
// It returns the combined output.
func (ns *NS) Run(name string, args ...string) string {
	ns.t.Helper()
	out, err := ns.Try(name, args...)
	if err != nil {
		ns.t.Fatalf("[%s] %s %s: %v\n%s", ns.Name, name, strings.Join(args, " "), err, out)
	}
	return out
}

// Try runs a command inside the namespace with a one-minute bound and
// returns its combined output and error.
func (ns *NS) Try(name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var buf bytes.Buffer
	cmd := ns.Command(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = &buf, &buf
	err := cmd.Run()
	return buf.String(), err
}

// AddAddr assigns an address in CIDR notation to dev (IPv6 without
// duplicate address detection, so it is usable at once).
func (ns *NS) AddAddr(dev, cidr string) {
	ns.t.Helper()
	args := []string{"addr", "add", cidr, "dev", dev}
	if strings.Contains(cidr, ":") {
		args = append(args, "nodad")
	}
	ns.Run("ip", args...)
}

// Do runs f on an OS thread that has entered the namespace, so sockets and
// TUN devices f opens belong to it. They keep working from any goroutine
// afterwards. The thread is not reused by the Go scheduler when f returns.
func (ns *NS) Do(f func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// The thread is left locked on purpose: exiting the goroutine
		// then destroys it instead of returning a thread in the wrong
		// namespace to the scheduler.
		fd, err := unix.Open("/run/netns/"+ns.Name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- fmt.Errorf("open netns %s: %w", ns.Name, err)
			return
		}
		defer unix.Close(fd)
		if err := unix.Unshare(unix.CLONE_FS); err != nil {
			errc <- fmt.Errorf("unshare: %w", err)
			return
		}
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns %s: %w", ns.Name, err)
			return
		}
		errc <- f()
	}()
	return <-errc
}

var linkSeq atomic.Uint32

// Link joins a and b with a veth pair named aIf inside a and bIf inside b,
// both up.
func Link(t testing.TB, a *NS, aIf string, b *NS, bIf string) {
	t.Helper()
	n := linkSeq.Add(1)
	// Temporary names in the root namespace must be unique across
	// concurrent tests and at most 15 bytes.
	t1 := fmt.Sprintf("gv%d%da", os.Getpid()%100000, n)
	t2 := fmt.Sprintf("gv%d%db", os.Getpid()%100000, n)
	steps := [][]string{
		{"link", "add", t1, "type", "veth", "peer", "name", t2},
		{"link", "set", t1, "netns", a.Name},
		{"link", "set", t2, "netns", b.Name},
	}
	for _, s := range steps {
		if out, err := exec.Command("ip", s...).CombinedOutput(); err != nil {
			exec.Command("ip", "link", "del", t1).Run()
			t.Fatalf("ip %s: %v: %s", strings.Join(s, " "), err, out)
		}
	}
	a.Run("ip", "link", "set", t1, "name", aIf)
	b.Run("ip", "link", "set", t2, "name", bIf)
	a.Run("ip", "link", "set", aIf, "up")
	b.Run("ip", "link", "set", bIf, "up")
}
