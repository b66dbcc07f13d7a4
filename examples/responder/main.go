package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/goipsec/ipsec/xfrm"
)

// defaultStateDir keeps the demo PKI and the demo user between starts.
const defaultStateDir = "/var/lib/goipsec-responder"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is the whole program: args without the program name. It returns
// the exit status: 0, 1 for a failure, 2 for bad usage.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		switch args[0] {
		case "init":
			return runInit(args[1:], stdout, stderr)
		case "export":
			return runExport(args[1:], stdout, stderr)
		case "status":
			return runStatus(args[1:], stdout, stderr)
		case "terminate":
			return runTerminate(args[1:], stdout, stderr)
		case "lint":
			return runLint(args[1:], stdout, stderr)
		case "help":
			usage(stderr, nil)
			return 0
		default:
			fmt.Fprintf(stderr, "responder: unknown command %q (commands: init, export, status, terminate, lint; without a command it serves)\n", args[0])
			return 2
		}
	}
	fs := flag.NewFlagSet("responder", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o overrides
	configPath := fs.String("config", "", "YAML configuration `file` (default: the built-in configuration; see `responder init`)")
	stateDir := fs.String("state", defaultStateDir, "state `directory` for the demo PKI and the demo user")
	o.register(fs)
	fs.Usage = func() { usage(stderr, fs) }
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "responder: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	cfg, err := loadConfig(*configPath)
	if err != nil {
		fmt.Fprintf(stderr, "responder: config %v\n", err)
		return 1
	}
	o.apply(cfg)
	s, err := cfg.validate(hostAddrs())
	if err != nil {
		where := "built-in configuration"
		if *configPath != "" {
			where = *configPath
		}
		fmt.Fprintf(stderr, "responder: config %s: %v\n", where, err)
		return 1
	}
	if err := checkForwarding(s); err != nil {
		fmt.Fprintf(stderr, "responder: config: %v\n", err)
		return 1
	}
	if s.runAs, err = lookupRunAs(s.user); err != nil {
		fmt.Fprintf(stderr, "responder: config: %v\n", err)
		return 1
	}
	// The kernel data plane is checked before anything is created (the
	// state directory included), so a kernel without ESP fails the start
	// with one line and nothing to undo.
	var kdp *xfrm.DataPlane
	if s.kernel {
		if kdp, err = openKernelDataPlane(newLogger(s, stderr)); err != nil {
			fmt.Fprintf(stderr, "responder: config: %v\n", err)
			return 1
		}
	}
	if err := serve(ctx, s, kdp, *stateDir, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "responder: %v\n", err)
		return 1
	}
	return 0
}

// overrides are the flags that replace configuration values, so the
// default configuration fits a test network or a quick trial.
type overrides struct {
	name, listen, pools, dns, level, tun, masquerade, metrics, dataplane, user string

	isolate bool
}

func (o *overrides) register(fs *flag.FlagSet) {
	fs.StringVar(&o.name, "name", "", "server `name` clients connect to (server.name)")
	fs.StringVar(&o.listen, "listen", "", "comma separated `addresses` to listen on (server.listen)")
	fs.StringVar(&o.pools, "pool", "", "comma separated `CIDRs` for virtual addresses (pools)")
	fs.StringVar(&o.dns, "dns", "", "comma separated DNS server `addresses` pushed to clients (dns)")
	fs.StringVar(&o.level, "log-level", "", "debug, info, warn or error (log.level)")
	fs.StringVar(&o.tun, "tun", "", "TUN device `name` (tun.name)")
	fs.StringVar(&o.masquerade, "masquerade", "", "uplink `interface` to masquerade clients' traffic on (forward.masquerade)")
	fs.StringVar(&o.metrics, "metrics", "", "`address:port` to serve Prometheus metrics on, e.g. 127.0.0.1:9100 (metrics)")
	fs.StringVar(&o.dataplane, "dataplane", "", "userspace or kernel (dataplane)")
	fs.BoolVar(&o.isolate, "isolate-clients", false, "drop traffic between clients (forward.isolate_clients)")
	fs.StringVar(&o.user, "user", "", "unprivileged `user` to run as once set up (user)")
}

func (o *overrides) apply(c *Config) {
	split := func(s string) []string {
		var out []string
		for _, f := range strings.Split(s, ",") {
			if f = strings.TrimSpace(f); f != "" {
				out = append(out, f)
			}
		}
		return out
	}
	if o.name != "" {
		c.Server.Name = o.name
	}
	if o.listen != "" {
		c.Server.Listen = split(o.listen)
	}
	if o.pools != "" {
		c.Pools = split(o.pools)
	}
	if o.dns != "" {
		c.DNS = split(o.dns)
	}
	if o.level != "" {
		c.Log.Level = o.level
	}
	if o.tun != "" {
		c.TUN.Name = o.tun
	}
	if o.masquerade != "" {
		c.Forward.Masquerade = o.masquerade
	}
	if o.metrics != "" {
		c.Metrics = o.metrics
	}
	if o.dataplane != "" {
		c.DataPlane = o.dataplane
	}
	if o.isolate {
		c.Forward.IsolateClients = true
	}
	if o.user != "" {
		c.User = o.user
	}
}

func usage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprint(w, `usage:
  responder [-config FILE] [-state DIR] [flags]   serve (as root)
  responder init [-state DIR] [-name NAME] [-o FILE]   write the commented default configuration and the demo PKI
  `+exportUsage+`
                                                  write a client profile: Apple .mobileconfig (iOS, macOS),
                                                  Windows PowerShell script, strongSwan Android .sswan,
                                                  Linux strongSwan swanctl directory; --auth cert issues
                                                  a client certificate (PKCS#12) from the demo CA (Windows:
                                                  a machine certificate), --auth psk (linux) configures a
                                                  psk_peers entry
  responder status [-state DIR] [-json]           the connected clients (like swanctl --list-sas)
  responder terminate [-state DIR] ID | v1-ID | -user NAME
                                                  end session #ID (#v1-ID: IKEv1) of status, or every session of a user,
                                                  telling the client (like swanctl --terminate)
  responder lint [-config FILE] [-state DIR] [-name NAME] [-listen ADDRS] [-cert FILE]
                                                  check the server certificate against the clients' requirements

`)
	if fs != nil {
		fs.PrintDefaults()
	}
}

// runInit writes the commented default configuration and creates the
// demo PKI and user, so an operator can edit before the first start.
func runInit(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("responder init", flag.ContinueOnError)
	fs.SetOutput(stderr)
	stateDir := fs.String("state", defaultStateDir, "state `directory` for the demo PKI and the demo user")
	name := fs.String("name", "", "server `name` for the certificate (default: host name or first address)")
	out := fs.String("o", "", "configuration `file` to write (default: STATE/responder.yaml)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *out == "" {
		*out = filepath.Join(*stateDir, "responder.yaml")
	}
	if err := os.MkdirAll(*stateDir, 0o700); err != nil {
		fmt.Fprintf(stderr, "responder init: %v\n", err)
		return 1
	}
	f, err := os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		fmt.Fprintf(stderr, "responder init: %v (not overwriting)\n", err)
		return 1
	}
	if _, err := f.Write(defaultConfig); err != nil {
		f.Close()
		fmt.Fprintf(stderr, "responder init: %v\n", err)
		return 1
	}
	if err := f.Close(); err != nil {
		fmt.Fprintf(stderr, "responder init: %v\n", err)
		return 1
	}
	cfg, err := parseConfig(defaultConfig)
	if err != nil {
		fmt.Fprintf(stderr, "responder init: built-in configuration: %v\n", err)
		return 1
	}
	cfg.Server.Name = *name
	s, err := cfg.validate(nil)
	if err != nil {
		fmt.Fprintf(stderr, "responder init: %v\n", err)
		return 1
	}
	srvName, addrs := serverIdentity(s)
	sc, _, err := ensurePKI(*stateDir, srvName, addrs, timeNow())
	if err != nil {
		fmt.Fprintf(stderr, "responder init: %v\n", err)
		return 1
	}
	if _, _, err := ensureDemoUser(*stateDir); err != nil {
		fmt.Fprintf(stderr, "responder init: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "wrote %s\nCA certificate for clients: %s\nserver certificate for %s: %s\ndemo user: %s\nstart with: responder -config %s -state %s\n",
		*out, sc.caFile, srvName, filepath.Join(*stateDir, serverCertFile), filepath.Join(*stateDir, demoUserFile), *out, *stateDir)
	return 0
}
