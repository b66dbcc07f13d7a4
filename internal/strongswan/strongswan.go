// Package strongswan runs real strongSwan charon daemons inside test
// network namespaces (internal/testnet), with userspace ESP
// (kernel-libipsec) because the CI kernel has no ESP, or, where the
// kernel has ESP (the test VM, see internal/vmclient), with kernel ESP
// (Options.KernelESP: kernel-netlink alone, as a Linux client runs it:
// raw ESP without a NAT, transport mode possible). It is the project's
// own interop harness: client personas that reproduce what the native
// clients send (profiles/client) and reference responders
// (profiles/server), rendered from swanctl.conf templates.
//
// IKEv1 (ikev1.go): the ikev1-* profiles without XAuth (Main Mode PSK,
// Aggressive Mode PSK with a KEY_ID, Main Mode RSA, and a transport-mode
// variant for udp/1701) protect traffic between two inner networks, with
// variables for addresses, identities, proposals (Apple's stock lists by
// default), DPD and rekey/reauth times. RunV1 runs one of them with a
// client side and a server side given as callbacks, strongSwan's
// (V1StrongSwanClient, V1StrongSwanServer), libreswan's
// (internal/vmclient) or an engine under test, and pings through the
// tunnel.
//
// The templates and the charon set-up follow the interop harness the
// project was seeded with; this package does not read it at run time.
package strongswan

import (
	"bufio"
	"bytes"
	"context"
	"embed"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/goipsec/ipsec/internal/testnet"
)

// CharonPath is where Debian installs the charon daemon.
const CharonPath = "/usr/lib/ipsec/charon"

//go:embed profiles
var profiles embed.FS

// Profile is a rendered persona or responder.
type Profile struct {
	// Name is the profile's file name without extension.
	Name string
	// About is the profile's one-line description.
	About  string
	Server string   // for client profiles: the server profile it pairs with
	Charon []string // extra "key = value" lines for charon's section
	Conf   string   // the rendered swanctl.conf
}

// Profiles lists the profile names of kind "client" or "server".
func Profiles(kind string) []string {
	ents, _ := profiles.ReadDir("profiles/" + kind)
	var out []string
	for _, e := range ents {
		out = append(out, strings.TrimSuffix(e.Name(), ".conf"))
	}
	return out
}

var placeholder = regexp.MustCompile(`@[A-Z0-9_]+@`)

// quote escapes a value for a double-quoted swanctl string.
func quote(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), `"`, `\"`)
}

// Defaults returns the "#@ default" values of a profile template, for
// harnesses that configure another implementation from a profile's
// variables.
func Defaults(kind, name string) (map[string]string, error) {
	raw, err := profiles.ReadFile("profiles/" + kind + "/" + name + ".conf")
	if err != nil {
		return nil, fmt.Errorf("strongswan: no %s profile %q (have %v)", kind, name, Profiles(kind))
	}
	vals := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "#@ default "); ok {
			k, v, _ := strings.Cut(rest, "=")
			vals[k] = v
		}
	}
	return vals, nil
}

// Render fills a profile template. vars overrides the template's
// "#@ default" values; every placeholder must end up set.
func Render(kind, name string, vars map[string]string) (*Profile, error) {
	raw, err := profiles.ReadFile("profiles/" + kind + "/" + name + ".conf")
	if err != nil {
		return nil, fmt.Errorf("strongswan: no %s profile %q (have %v)", kind, name, Profiles(kind))
	}
	p := &Profile{Name: name}
	vals := map[string]string{"PROFILE": name}
	var body strings.Builder
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for sc.Scan() {
		line := sc.Text()
		rest, ok := strings.CutPrefix(line, "#@ ")
		if !ok {
			body.WriteString(line + "\n")
			continue
		}
		key, val, _ := strings.Cut(rest, " ")
		switch key {
		case "about":
			p.About = val
		case "server":
			p.Server = val
		case "charon":
			p.Charon = append(p.Charon, val)
		case "default":
			k, v, _ := strings.Cut(val, "=")
			vals[k] = v
		}
	}
	for k, v := range vars {
		vals[k] = v
	}
	var missing []string
	p.Conf = placeholder.ReplaceAllStringFunc(body.String(), func(m string) string {
		v, ok := vals[strings.Trim(m, "@")]
		if !ok {
			missing = append(missing, m)
			return m
		}
		return quote(v)
	})
	if len(missing) > 0 {
		return nil, fmt.Errorf("strongswan: profile %s/%s: unset %v", kind, name, missing)
	}
	return p, nil
}

// plugins is charon's explicit plugin list: kernel-libipsec before
// kernel-netlink gives userspace ESP on a TUN device.
const plugins = "random nonce aes sha1 sha2 md5 gmp hmac mgf1 ccm ctr xcbc cmac pem pkcs1 pkcs8 pkcs12 x509 revocation constraints pubkey openssl gcm curve25519 chapoly kdf eap-identity eap-mschapv2 eap-md5 eap-gtc eap-tls xauth-generic unity attr resolve vici kernel-libipsec kernel-netlink socket-default counters"

// kernelPlugins is the same list without kernel-libipsec: kernel-netlink
// installs the SAs and policies in the kernel's XFRM, raw ESP or
// ESP-in-UDP as NAT detection (or encap = yes) says.
var kernelPlugins = strings.Replace(plugins, " kernel-libipsec", "", 1)

// Options change how Start runs charon. The zero value is the userspace
// ESP set-up every host-side test uses.
type Options struct {
	// KernelESP loads kernel-netlink without kernel-libipsec, so the SAs
	// go into the kernel (XFRM) as on a Linux client: raw ESP when no NAT
	// is detected, transport mode possible. It needs a kernel with ESP
	// (the test VM; see internal/vmclient).
	KernelESP bool
	// Prefix runs the charon and swanctl of a strongSwan installed under
	// this prefix (the strongSwan 6 build of scripts/build-strongswan6,
	// see Require6) with the plugins that build has, instead of
	// Debian's packages.
	Prefix string
}

// Charon is a running charon daemon in a namespace.
type Charon struct {
	// Dir is the daemon's working directory (configuration, sockets, logs).
	Dir     string
	ns      *testnet.NS
	cmd     *exec.Cmd
	t       testing.TB
	swanctl string // the swanctl binary
}

// Files to place into the swanctl directory, e.g. "x509ca/ca.pem".
type Files map[string][]byte

// Require checks the strongSwan packages (and root) the way
// testnet.Require does.
func Require(t testing.TB) {
	t.Helper()
	testnet.Require(t, "ip", "swanctl")
	if _, err := os.Stat(CharonPath); err != nil {
		msg := "strongSwan charon missing (run ./scripts/test as root to install strongswan-charon)"
		if testnet.InCI() {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
}

// Start writes the configuration and starts charon in ns with a private
// /run (charon's pid file is fixed), then loads the swanctl
// configuration. The daemon is stopped, by its PID, when the test ends.
func Start(t testing.TB, ns *testnet.NS, p *Profile, extraConf string, files Files) *Charon {
	t.Helper()
	return StartWith(t, ns, p, extraConf, files, Options{})
}

// StartWith is Start with options.
func StartWith(t testing.TB, ns *testnet.NS, p *Profile, extraConf string, files Files, opt Options) *Charon {
	t.Helper()
	charonPath, swanctl := CharonPath, "swanctl"
	if opt.Prefix != "" {
		testnet.Require(t, "ip")
		charonPath, swanctl = filepath.Join(opt.Prefix, "libexec/ipsec/charon"), filepath.Join(opt.Prefix, "sbin/swanctl")
	} else {
		Require(t)
	}
	dir := t.TempDir()
	c := &Charon{Dir: dir, ns: ns, t: t, swanctl: swanctl}
	for _, d := range []string{"run", "swanctl/x509", "swanctl/x509ca", "swanctl/private"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, "swanctl", name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	load := plugins
	if opt.KernelESP {
		load = kernelPlugins
	}
	if opt.Prefix != "" {
		load = plugins6
	}
	extra := ""
	for _, l := range p.Charon {
		extra += "  " + l + "\n"
	}
	conf := fmt.Sprintf(`charon {
  load = %s
  port = 500
  port_nat_t = 4500
  retransmit_tries = 3
  retransmit_timeout = 2.0
  retransmit_base = 1.4
%s  plugins {
    vici { socket = unix://%[3]s/charon.vici }
    resolve { file = %[3]s/resolv.conf }
  }
  filelog {
    charon {
      path = %[3]s/charon.log
      time_format = %%T
      ike_name = yes
      append = no
      flush_line = yes
      default = 1
      ike = 2
      cfg = 2
      knl = 2
      enc = 1
      net = 1
    }
  }
  syslog {
    daemon { default = -1 }
  }
}
`, load, extra, dir)
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("strongswan.conf", conf)
	write("swanctl/swanctl.conf", p.Conf+extraConf)
	write("resolv.conf", "")

	stdout, err := os.Create(filepath.Join(dir, "charon.stdout"))
	if err != nil {
		t.Fatal(err)
	}
	defer stdout.Close()
	c.cmd = exec.Command("ip", "netns", "exec", ns.Name, "sh", "-c", `mount --bind "$1" /run && exec "$2"`, "sh", filepath.Join(dir, "run"), charonPath)
	c.cmd.Env = append(os.Environ(), "STRONGSWAN_CONF="+filepath.Join(dir, "strongswan.conf"))
	c.cmd.Stdout, c.cmd.Stderr = stdout, stdout
	if err := c.cmd.Start(); err != nil {
		t.Fatalf("start charon: %v", err)
	}
	t.Cleanup(c.Stop)
	exited := make(chan struct{})
	cmd := c.cmd
	go func() { cmd.Wait(); close(exited) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(dir, "charon.vici")); err == nil {
			break
		}
		select {
		case <-exited:
			out, _ := os.ReadFile(filepath.Join(dir, "charon.stdout"))
			t.Fatalf("charon exited at start: %s", out)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("charon did not open its vici socket in 10s; log:\n%s", c.Log())
		}
	}
	// The socket file appears at bind(), a moment before charon listens
	// on it: a refused connection right after start is retried.
	for {
		out, err := c.Swanctl(30*time.Second, "--load-all", "--noprompt")
		if err == nil {
			break
		}
		if !strings.Contains(out, "Connection refused") || time.Now().After(deadline) {
			t.Fatalf("swanctl --load-all: %v\n%s", err, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return c
}

// Swanctl runs swanctl against this daemon.
func (c *Charon) Swanctl(timeout time.Duration, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.swanctl, append(slices.Clone(args), "--uri", "unix://"+c.Dir+"/charon.vici")...)
	cmd.Env = append(os.Environ(), "SWANCTL_DIR="+c.Dir+"/swanctl", "STRONGSWAN_CONF="+c.Dir+"/strongswan.conf")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// Initiate brings up the named CHILD SA (and its IKE SA).
func (c *Charon) Initiate(child string, timeout time.Duration) (string, error) {
	return c.Swanctl(timeout+5*time.Second, "--initiate", "--child", child, "--timeout", fmt.Sprint(int(timeout.Seconds())))
}

// ListSAs returns `swanctl --list-sas`.
func (c *Charon) ListSAs() string {
	out, _ := c.Swanctl(10*time.Second, "--list-sas")
	return out
}

// Log returns charon's log so far.
func (c *Charon) Log() string {
	b, _ := os.ReadFile(filepath.Join(c.Dir, "charon.log"))
	return string(b)
}

// Resolv returns the DNS servers charon's resolve plugin received.
func (c *Charon) Resolv() string {
	b, _ := os.ReadFile(filepath.Join(c.Dir, "resolv.conf"))
	return string(b)
}

// Stop terminates charon (SIGTERM, then SIGKILL after 5 s) and, when the
// test failed, logs charon's log for diagnosis.
func (c *Charon) Stop() {
	if c.cmd == nil || c.cmd.Process == nil {
		return
	}
	p := c.cmd.Process
	c.cmd = nil
	// The process started is "ip netns exec", which execs sh, which execs
	// charon: the PID is charon's own.
	_ = p.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		for range 100 {
			if p.Signal(syscall.Signal(0)) != nil {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		close(done)
	}()
	<-done
	_ = p.Kill()
	if c.t.Failed() {
		c.t.Logf("charon log (%s):\n%s", c.Dir, tail(c.Log(), 200))
	}
}

func tail(s string, lines int) string {
	ls := strings.Split(s, "\n")
	if len(ls) > lines {
		ls = ls[len(ls)-lines:]
	}
	return strings.Join(ls, "\n")
}

// Kill ends charon with SIGKILL: the peer gets no Delete, as when a phone
// loses its network or a laptop's lid closes.
func (c *Charon) Kill() {
	if c.cmd == nil || c.cmd.Process == nil {
		return
	}
	p := c.cmd.Process
	c.cmd = nil
	_ = p.Kill()
	for range 100 {
		if p.Signal(syscall.Signal(0)) != nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}
