package main

import (
	"encoding/base64"
	"encoding/json"
)

// sswanProfile is the strongSwan Android app's profile format (.sswan,
// JSON). Proposals are left to the app, whose defaults the responder
// accepts.
type sswanProfile struct {
	UUID   string      `json:"uuid"`
	Name   string      `json:"name"`
	Type   string      `json:"type"`
	Remote sswanRemote `json:"remote"`
	Local  sswanLocal  `json:"local"`
}

type sswanRemote struct {
	Addr string `json:"addr"`
	ID   string `json:"id"`
	// Cert is the CA certificate, base64 DER, which the app installs
	// with the profile.
	Cert string `json:"cert,omitempty"`
}

type sswanLocal struct {
	EAPID string `json:"eap_id,omitempty"`
	// P12 is the client certificate and key (PKCS#12, base64) of an
	// ikev2-cert profile; the app asks for its password on import. ID
	// is the identity the client sends, which the certificate's SAN
	// holds.
	P12 string `json:"p12,omitempty"`
	ID  string `json:"id,omitempty"`
}

// androidProfile is the .sswan profile for user: IKEv2 with EAP
// (username and password; the app asks for the password), or with the
// client certificate cred when it is not nil (type ikev2-cert, the
// PKCS#12 embedded; the app asks for its password on import).
func androidProfile(sc *serverCert, server, user string, cred *clientCredential) ([]byte, error) {
	p := sswanProfile{
		UUID: uuid4(randReader()), Name: "VPN " + server, Type: "ikev2-eap",
		Remote: sswanRemote{Addr: server, ID: server},
		Local:  sswanLocal{EAPID: user},
	}
	if cred != nil {
		p.Type = "ikev2-cert"
		p.Local = sswanLocal{P12: base64.StdEncoding.EncodeToString(cred.pfx), ID: cred.identity}
	}
	if sc.root != nil {
		p.Remote.Cert = base64.StdEncoding.EncodeToString(sc.root.Raw)
	}
	out, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}
