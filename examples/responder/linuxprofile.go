package main

import (
	"encoding/pem"
	"fmt"
	"strings"
)

// linuxConnName is the connection and CHILD SA name in the exported
// swanctl configuration: `swanctl --initiate --child goipsec`.
const linuxConnName = "goipsec"

// Proposals of the Linux profile, in strongSwan's keywords: AES-GCM with
// ECP-256 first, AES-CBC/SHA-256/MODP-2048 as a fallback. The export
// test checks each against the responder's default proposals through
// the proposal package.
const (
	linuxIKEProposals = "aes256gcm16-prfsha256-ecp256, aes256-sha256-modp2048"
	linuxESPProposals = "aes256gcm16, aes256-sha256"
)

// linuxProfile returns the files of a strongSwan (swanctl) client
// configuration, laid out like /etc/swanctl: conf.d/goipsec.conf, the
// CA in x509ca/ and, for certificate authentication, the client's
// certificate in x509/ and its key in private/ (PEM, as swanctl loads
// them without a passphrase prompt) plus the PKCS#12 for other
// clients. With psk, both sides authenticate with the pre-shared key in
// user.Password and user.Name is the peer's identity. The EAP password
// or the PSK is put in only when includePassword is set; otherwise the
// secrets section says where it goes.
func linuxProfile(sc *serverCert, server string, user UserConfig, cred *clientCredential, psk, includePassword bool) (map[string][]byte, error) {
	files := map[string][]byte{}
	q := func(s string) string {
		return `"` + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), `"`, `\"`) + `"`
	}
	var b strings.Builder
	fmt.Fprintf(&b, `# strongSwan client configuration for the goipsec responder %s.
# Install (root): cp -r THIS-DIRECTORY/. /etc/swanctl/
# then: swanctl --load-all && swanctl --initiate --child %s
# (strongswan-swanctl and charon-systemd on Debian/Ubuntu; charon needs
# kernel ESP support, or the kernel-libipsec plugin).
connections {
  %s {
    version = 2
    remote_addrs = %s
    # A virtual IPv4 and IPv6 address, DNS servers through the resolve
    # plugin.
    vips = 0.0.0.0, ::
    proposals = %s
    encap = no
    mobike = yes
    fragmentation = yes
    dpd_delay = 30s
`, server, linuxConnName, linuxConnName, q(server), linuxIKEProposals)
	if cred != nil {
		certName := fileSafe(cred.identity) + ".pem"
		// No send_cert: on strongSwan's default (ifasked) the
		// certificate goes out because the responder's IKE_SA_INIT
		// response carries a CERTREQ for the demo CA.
		fmt.Fprintf(&b, `    local {
      auth = pubkey
      certs = %s
      id = %s
    }
`, certName, q(cred.identity))
		files["x509/"+certName] = pemCert(cred.cert)
		kd, err := marshalPKCS8(cred.key)
		if err != nil {
			return nil, err
		}
		files["private/"+fileSafe(cred.identity)+".key"] = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kd})
		files[fileSafe(cred.identity)+".p12"] = cred.pfx
	} else if psk {
		fmt.Fprintf(&b, `    local {
      auth = psk
      id = %s
    }
`, q(user.Name))
	} else {
		fmt.Fprintf(&b, `    local {
      auth = eap-mschapv2
      eap_id = %s
    }
`, q(user.Name))
	}
	remoteAuth := "pubkey"
	if psk {
		// The server proves itself with the same key to a PSK peer.
		remoteAuth = "psk"
	}
	fmt.Fprintf(&b, `    remote {
      auth = %s
      id = %s
`, remoteAuth, q(server))
	if sc.root != nil && !psk {
		fmt.Fprintf(&b, "      cacerts = goipsec-ca.pem\n")
		files["x509ca/goipsec-ca.pem"] = pemCert(sc.root)
	}
	fmt.Fprintf(&b, `    }
    children {
      %s {
        remote_ts = 0.0.0.0/0, ::/0
        esp_proposals = %s
        dpd_action = restart
      }
    }
  }
}
`, linuxConnName, linuxESPProposals)
	switch {
	case psk && includePassword:
		fmt.Fprintf(&b, "secrets {\n  ike-%s {\n    id-me = %s\n    id-gw = %s\n    secret = %s\n  }\n}\n", linuxConnName, q(user.Name), q(server), q(user.Password))
	case psk:
		fmt.Fprintf(&b, "# The pre-shared key of %s goes here (keep the file mode 0600):\n# secrets {\n#   ike-%s {\n#     id-me = %s\n#     id-gw = %s\n#     secret = \"PRE-SHARED KEY\"\n#   }\n# }\n", user.Name, linuxConnName, q(user.Name), q(server))
	case cred == nil:
		if includePassword {
			fmt.Fprintf(&b, "secrets {\n  eap-%s {\n    id = %s\n    secret = %s\n  }\n}\n", linuxConnName, q(user.Name), q(user.Password))
		} else {
			fmt.Fprintf(&b, "# The password of %s goes here (keep the file mode 0600):\n# secrets {\n#   eap-%s {\n#     id = %s\n#     secret = \"PASSWORD\"\n#   }\n# }\n", user.Name, linuxConnName, q(user.Name))
		}
	}
	files["conf.d/"+linuxConnName+".conf"] = []byte(b.String())
	return files, nil
}
