package main

import (
	"bytes"
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/goipsec/ipsec"
	"github.com/goipsec/ipsec/ikev1"
	"github.com/goipsec/ipsec/internal/testpki"
	"github.com/goipsec/ipsec/proposal"
)

func TestFlagErrorsIKEv1(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	secret := write("group", "s3cret-group\n")
	pw := write("pw", "s3cret-password\n")
	notPEM := write("notpem", "hello\n")
	base := []string{"-server", "192.0.2.1", "-ike", "v1"}
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"bad version", []string{"-server", "192.0.2.1", "-ike", "v3", "-auth", "psk"}, `-ike "v3"`},
		{"group with v2", []string{"-server", "192.0.2.1", "-auth", "psk", "-psk-file", secret, "-group", "g"}, "apply to -ike v1 only"},
		{"no xauth user", append(base, "-auth", "psk", "-group-secret-file", secret, "-password-file", pw), "needs -user and -password-file"},
		{"no password", append(base, "-auth", "psk", "-group-secret-file", secret, "-user", "carol"), "needs -user and -password-file"},
		{"no group secret", append(base, "-auth", "psk", "-group", "g", "-user", "carol", "-password-file", pw), "needs -group-secret-file"},
		{"psk-file with v1", append(base, "-auth", "psk", "-psk-file", secret, "-user", "carol", "-password-file", pw), "-group-secret-file"},
		{"eap with v1", append(base, "-auth", "eap", "-user", "carol", "-password-file", pw), `-auth "eap"`},
		{"group with cert", append(base, "-auth", "cert", "-group", "g", "-user", "carol", "-password-file", pw), "apply to -ike v1 -auth psk only"},
		{"cert without key", append(base, "-auth", "cert", "-cert", notPEM, "-user", "carol", "-password-file", pw), "needs -cert and -key"},
		{"ca with psk", append(base, "-auth", "psk", "-group-secret-file", secret, "-ca", notPEM, "-user", "carol", "-password-file", pw), "do not apply"},
		{"id and group", append(base, "-auth", "psk", "-group", "g", "-group-secret-file", secret, "-id", "x@example.com", "-user", "carol", "-password-file", pw), "-id and -group"},
		{"no auth", append(base, "-user", "carol", "-password-file", pw), "-auth is required"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(context.Background(), c.args, &stdout, &stderr); code != 2 {
				t.Errorf("exit %d, want 2; stderr: %s", code, stderr.String())
			}
			msg := strings.TrimSpace(stderr.String())
			if !strings.Contains(msg, c.want) {
				t.Errorf("error %q does not contain %q", msg, c.want)
			}
			if strings.Contains(msg, "\n") || strings.Contains(msg, "s3cret") {
				t.Errorf("error is not one line without secrets: %q", msg)
			}
		})
	}
}

func TestValidateIKEv1(t *testing.T) {
	dir := t.TempDir()
	secret, pw := filepath.Join(dir, "group"), filepath.Join(dir, "pw")
	for name, content := range map[string]string{secret: "group-secret\n", pw: "xauth-password\r\n"} {
		if err := os.WriteFile(name, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	base := options{server: "vpn.example.com", ikeVersion: "v1", auth: "psk", groupSecretFile: secret, user: "carol",
		passwordFile: pw, tun: "rw0", logLevel: "info", dialTimeout: time.Second, maxBackoff: time.Minute, rtTimeout: time.Second, rtTries: 2, dpd: 30 * time.Second}

	t.Run("aggressive with group", func(t *testing.T) {
		o := base
		o.group = "Sales"
		s, err := o.validate()
		if err != nil {
			t.Fatal(err)
		}
		p := s.v1
		if s.peer != nil || p == nil {
			t.Fatalf("IKEv2 peer %v, IKEv1 peer %v: want only IKEv1", s.peer, p)
		}
		if p.Mode != ikev1.AggressiveMode || p.Auth != ikev1.AuthPSK || string(p.PSK) != "group-secret" {
			t.Errorf("mode %v auth %v psk %q", p.Mode, p.Auth, p.PSK)
		}
		if !p.LocalID.Equal(ipsec.KeyID([]byte("Sales"))) {
			t.Errorf("local ID %v, want KEY_ID Sales", p.LocalID)
		}
		if !p.RemoteID.Equal(ipsec.FQDN("vpn.example.com")) {
			t.Errorf("remote ID %v, want the server name", p.RemoteID)
		}
		if p.XAuth == nil || p.XAuth.User != "carol" || string(p.XAuth.Password) != "xauth-password" {
			t.Errorf("XAuth %+v", p.XAuth)
		}
		if len(p.Proposals) == 0 {
			t.Fatal("no proposals")
		}
		g := p.Proposals[0].KE
		for _, pr := range p.Proposals {
			if len(pr.KE) != 1 || len(g) != 1 || pr.KE[0] != g[0] {
				t.Errorf("Aggressive Mode proposals mix DH groups: %v", p.Proposals)
				break
			}
		}
		if p.DPDDelay != 30*time.Second {
			t.Errorf("DPD delay %v, want -dpd's 30s", p.DPDDelay)
		}
	})
	t.Run("main mode without group", func(t *testing.T) {
		o := base
		o.server = "192.0.2.1"
		s, err := o.validate()
		if err != nil {
			t.Fatal(err)
		}
		p := s.v1
		if p.Mode != ikev1.MainMode || !p.LocalID.IsZero() || !p.RemoteID.IsZero() || p.Proposals != nil {
			t.Errorf("mode %v local %v remote %v proposals %v: want Main Mode, our address, any gateway ID, the defaults", p.Mode, p.LocalID, p.RemoteID, p.Proposals)
		}
	})
	t.Run("dpd off", func(t *testing.T) {
		o := base
		o.dpd = 0
		s, err := o.validate()
		if err != nil {
			t.Fatal(err)
		}
		if s.v1.DPDDelay >= 0 {
			t.Errorf("-dpd 0 gives DPD delay %v, want negative (off)", s.v1.DPDDelay)
		}
	})
	t.Run("certificate", func(t *testing.T) {
		pki, err := testpki.New(testpki.ECDSAP256, "carol@example.com", "vpn.example.com")
		if err != nil {
			t.Fatal(err)
		}
		if err := pki.WriteFiles(dir); err != nil {
			t.Fatal(err)
		}
		o := base
		o.auth, o.groupSecretFile = "cert", ""
		o.certFile, o.keyFile, o.caFile = filepath.Join(dir, "client.pem"), filepath.Join(dir, "client.key"), filepath.Join(dir, "ca.pem")
		s, err := o.validate()
		if err != nil {
			t.Fatal(err)
		}
		p := s.v1
		if p.Auth != ikev1.AuthPubkey || p.Mode != ikev1.MainMode || len(p.Certificates) == 0 || p.Key == nil || p.CAs == nil {
			t.Errorf("auth %v mode %v certs %d key %v CAs %v", p.Auth, p.Mode, len(p.Certificates), p.Key != nil, p.CAs != nil)
		}
		if !p.LocalID.Equal(ipsec.Email("carol@example.com")) {
			t.Errorf("local ID %v, want the certificate's e-mail", p.LocalID)
		}
		if p.XAuth == nil || p.XAuth.User != "carol" {
			t.Errorf("XAuth %+v", p.XAuth)
		}
	})
}

func TestOneGroup(t *testing.T) {
	l, err := proposal.Parse("aes256-sha256-modp2048, aes256-sha1-modp1024, aes128-sha1-modp2048-modp1024, 3des-sha1-ecp256", proposal.ProtoIKE)
	if err != nil {
		t.Fatal(err)
	}
	got := oneGroup(l)
	if s := got.String(); s != "aes256-sha256-modp2048, aes128-sha1-modp2048" {
		t.Errorf("oneGroup = %q", s)
	}
	for i, p := range got {
		if int(p.Number) != i+1 {
			t.Errorf("proposal %d numbered %d", i, p.Number)
		}
	}
	if l.String() != "aes256-sha256-modp2048, aes256-sha1-modp1024, aes128-sha1-modp2048-modp1024, 3des-sha1-ecp256" {
		t.Errorf("oneGroup changed its argument: %v", l)
	}
}

func TestV1Retransmissions(t *testing.T) {
	got := v1Retransmissions(time.Second, 3)
	want := []time.Duration{time.Second, 1800 * time.Millisecond, 3240 * time.Millisecond, 5832 * time.Millisecond}
	if len(got) != len(want) {
		t.Fatalf("waits %v, want %v", got, want)
	}
	for i := range want {
		if d := got[i] - want[i]; d > time.Millisecond || d < -time.Millisecond {
			t.Errorf("wait %d = %v, want %v", i, got[i], want[i])
		}
	}
}

func TestEverything(t *testing.T) {
	for _, c := range []struct {
		dsts []string
		want bool
	}{
		{[]string{"0.0.0.0/0", "::/0"}, true},
		{[]string{"0.0.0.0/0"}, true},
		{[]string{"0.0.0.0/0", "198.51.100.0/24"}, false},
		{nil, false},
	} {
		var ps []netip.Prefix
		for _, d := range c.dsts {
			ps = append(ps, netip.MustParsePrefix(d))
		}
		if got := everything(ps); got != c.want {
			t.Errorf("everything(%v) = %v, want %v", c.dsts, got, c.want)
		}
	}
}
