package main

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/goipsec/ipsec/internal/strongswan"
	"github.com/goipsec/ipsec/internal/testnet"
)

// TestEndToEndRevokedClientCertificate runs the responder as its own
// process with client_certs: a CRL of the demo CA and a revoked-serials
// file. Two macOS certificate personas hold certificates exported by
// `export apple --auth cert`: alice's serial is on the CRL, so her
// IKE_AUTH fails (AUTHENTICATION_FAILED; the responder logs the
// revocation); bob connects and pings through the tunnel. Then bob's
// serial goes into the serials file and the responder gets SIGHUP: bob's
// next connection is refused too. A CRL that breaks on a later reload
// keeps the lists in force.
func TestEndToEndRevokedClientCertificate(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	strongswan.Require(t)
	testnet.Require(t, "ping")
	state, dir := initState(t), t.TempDir() // demo PKI and user; a directory for configuration files
	topo := testnet.New(t, testnet.NoNAT)
	server := testnet.ServerAddr4.String()
	alice := macPersona(t, topo.Client, server, state, "alice@example.com")
	bob := macPersona(t, topo.Client, server, state, "bob@example.com")
	serialOf := func(p persona) *big.Int {
		t.Helper()
		b, _ := pem.Decode(p.files["x509/client.pem"])
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		return c.SerialNumber
	}
	ca, caKey, err := loadPair(filepath.Join(state, caCertFile), filepath.Join(state, caKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	crlPath, serialsPath := filepath.Join(dir, "clients.crl"), filepath.Join(dir, "revoked.txt")
	crl := pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: newCRL(t, ca, caKey, serialOf(alice))})
	if err := os.WriteFile(crlPath, crl, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(serialsPath, []byte("# serial numbers of revoked client certificates\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf("server:\n  name: vpn.example.com\nclient_certs:\n  crl: clients.crl\n  revoked_serials: revoked.txt\npools: [%s, %s]\ndns: [%s]\n",
		testnet.Pool4, testnet.Pool6, testnet.DNS4)
	confPath := filepath.Join(dir, "responder.yaml")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	resp := startResponder(t, topo.Server, "-config", confPath, "-state", state, "-listen", server)

	// refused connects p and expects the gateway to refuse it for why.
	refused := func(p persona, why string) {
		t.Helper()
		cli := startPersona(t, p, resp)
		defer cli.Stop()
		before := strings.Count(resp.Stderr.String(), "authentication failed")
		out, err := cli.Initiate(p.profile, 20*time.Second)
		if err == nil {
			t.Fatalf("a revoked certificate (%s) connected:\n%s", why, out)
		}
		if !strings.Contains(cli.Log(), "AUTHENTICATION_FAILED") {
			t.Errorf("the client did not get AUTHENTICATION_FAILED:\n%s", cli.Log())
		}
		if !waitFor(5*time.Second, func() bool {
			log := resp.Stderr.String()
			return strings.Count(log, "authentication failed") > before && strings.Contains(log, why)
		}) {
			t.Errorf("the responder did not log the refusal (%s):\n%s", why, resp.Stderr.String())
		}
		if st := strongswan.ParseSAs(cli.ListSAs(), p.profile); st.IKEUp {
			t.Errorf("IKE SA up after the refusal: %+v", st)
		}
	}
	refused(alice, "revoked by the CRL")

	cli := startPersona(t, bob, resp)
	if out, err := cli.Initiate(bob.profile, 30*time.Second); err != nil {
		t.Fatalf("bob (not revoked) could not connect: %v\n%s\nclient log:\n%s\nresponder log:\n%s", err, out, cli.Log(), resp.Stderr.String())
	}
	checkPersona(t, bob, cli)
	cli.Stop()

	// Revoke bob by serial; the responder reads the files again on SIGHUP.
	if err := os.WriteFile(serialsPath, []byte(fmt.Sprintf("# bob lost his laptop\n%X\n", serialOf(bob))), 0o600); err != nil {
		t.Fatal(err)
	}
	hup := func() {
		t.Helper()
		n := strings.Count(resp.Stderr.String(), "SIGHUP")
		if err := resp.Cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		if !waitFor(10*time.Second, func() bool { return strings.Count(resp.Stderr.String(), "SIGHUP") > n }) {
			t.Fatalf("no reload logged after SIGHUP:\n%s", resp.Stderr.String())
		}
	}
	hup()
	if !strings.Contains(resp.Stderr.String(), "client certificate revocation reloaded") {
		t.Errorf("reload not confirmed in the log:\n%s", resp.Stderr.String())
	}
	refused(bob, "is in "+fieldSerials)

	// A broken CRL on the next reload: an error naming the key, and the
	// previous lists stay in force.
	if err := os.WriteFile(crlPath, []byte("-----BEGIN X509 CRL-----\nnonsense\n-----END X509 CRL-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	hup()
	if log := resp.Stderr.String(); !strings.Contains(log, "previous lists stay in force") || !strings.Contains(log, fieldCRL) {
		t.Errorf("a broken CRL on reload is not reported with its key:\n%s", log)
	}
	refused(alice, "revoked by the CRL")
	resp.stop(t)
}

// TestEndToEndRequireUser: with client_certs.require_user, a certificate
// of the right CA whose identity is no configured user is refused on the
// wire (AUTHENTICATION_FAILED, the reason in the log); a configured
// user's certificate connects and pings.
func TestEndToEndRequireUser(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	strongswan.Require(t)
	testnet.Require(t, "ping")
	state, dir := initState(t), t.TempDir()
	topo := testnet.New(t, testnet.NoNAT)
	server := testnet.ServerAddr4.String()
	stranger := macPersona(t, topo.Client, server, state, "stranger@example.com")
	bob := macPersona(t, topo.Client, server, state, "bob@example.com")
	conf := fmt.Sprintf("server:\n  name: vpn.example.com\nusers:\n  - {name: bob@example.com, password: \"bob-needs-no-password-0123\"}\nclient_certs:\n  require_user: true\npools: [%s, %s]\ndns: [%s]\n",
		testnet.Pool4, testnet.Pool6, testnet.DNS4)
	confPath := filepath.Join(dir, "responder.yaml")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	resp := startResponder(t, topo.Server, "-config", confPath, "-state", state, "-listen", server)
	cli := startPersona(t, stranger, resp)
	if out, err := cli.Initiate(stranger.profile, 20*time.Second); err == nil {
		t.Fatalf("a certificate of no configured user connected:\n%s", out)
	}
	if !strings.Contains(cli.Log(), "AUTHENTICATION_FAILED") {
		t.Errorf("the client did not get AUTHENTICATION_FAILED:\n%s", cli.Log())
	}
	if !waitFor(5*time.Second, func() bool { return strings.Contains(resp.Stderr.String(), "is not a configured user") }) {
		t.Errorf("the responder did not log why:\n%s", resp.Stderr.String())
	}
	cli.Stop()
	cli = startPersona(t, bob, resp)
	if out, err := cli.Initiate(bob.profile, 30*time.Second); err != nil {
		t.Fatalf("bob (a configured user) could not connect: %v\n%s\n%s", err, out, cli.Log())
	}
	checkPersona(t, bob, cli)
}
