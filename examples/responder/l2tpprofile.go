package main

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/goipsec/ipsec"
)

// l2tpPSK is the pre-shared key an L2TP/IPsec client uses: the Main Mode
// key every address gets (group_secret, a psks entry for "*", or the
// demo key). L2TP/IPsec clients use Main Mode with their address as
// identity, so only a key for every address serves all of them.
func l2tpPSK(s *settings, stateDir string) (ipsec.Secret, error) {
	v := s.v1
	switch {
	case v == nil || !v.enabled:
		return nil, errors.New("--type l2tp: IKEv1 is off (ikev1.enabled)")
	case !s.l2tp.enabled:
		return nil, errors.New("--type l2tp: L2TP/IPsec is off (l2tp.enabled)")
	case v.groupSecret != nil:
		return v.groupSecret, nil
	case v.needsDemoPSK():
		psk, _, err := ensureDemoV1PSK(stateDir)
		if err != nil {
			return nil, err
		}
		return ipsec.Secret(psk), nil
	}
	for _, k := range v.byAddr {
		if k.any {
			return k.psk, nil
		}
	}
	return nil, errors.New("--type l2tp: no group_secret and no ikev1.psks entry for every address (peer \"*\"): the profile would need the key of the client's address")
}

// l2tpMobileconfig builds an Apple configuration profile for the built-in
// L2TP client ("L2TP" on macOS and iOS): VPNType L2TP, the machine
// authentication by the shared secret (or a client certificate, with the
// CA of the server's), then PPP with the user's name (and password when
// included), which the server checks with MS-CHAPv2. Keys as in Apple's
// Configuration Profile Reference, com.apple.vpn.managed (PPP, IPSec).
func (p *appleProfile) l2tpMobileconfig(psk []byte) []byte {
	r := p.uuidSource
	if r == nil {
		r = randReader()
	}
	id := "org.goipsec.responder." + p.server + ".l2tp"
	var ipsecDict plistDict
	var content []any
	if p.cert != nil {
		content, ipsecDict = p.ikev1CertPayloads(id, r)
	} else {
		ipsecDict = plistDict{
			{"AuthenticationMethod", "SharedSecret"},
			{"SharedSecret", psk},
		}
	}
	pppDict := plistDict{{"AuthName", p.user}}
	if p.password != "" {
		pppDict = append(pppDict, plistEntry{"AuthPassword", p.password})
	}
	// No MPPE: IPsec encrypts; the server declines CCP.
	pppDict = append(pppDict,
		plistEntry{"CCPEnabled", 0},
		plistEntry{"CommRemoteAddress", p.server},
		plistEntry{"TokenCard", false},
	)
	content = append(content, plistDict{
		{"IPSec", ipsecDict},
		{"IPv4", plistDict{{"OverridePrimary", 1}}},
		{"PPP", pppDict},
		{"PayloadDescription", "L2TP/IPsec VPN to " + p.server},
		{"PayloadDisplayName", "VPN " + p.server + " (L2TP)"},
		{"PayloadIdentifier", id + ".vpn"},
		{"PayloadType", "com.apple.vpn.managed"},
		{"PayloadUUID", uuid4(r)},
		{"PayloadVersion", 1},
		{"UserDefinedName", "VPN " + p.server + " (L2TP)"},
		{"VPNType", "L2TP"},
	})
	return plistDocument(plistDict{
		{"PayloadContent", content},
		{"PayloadDisplayName", "VPN " + p.server + " L2TP (" + p.user + ")"},
		{"PayloadIdentifier", id},
		{"PayloadRemovalDisallowed", false},
		{"PayloadType", "Configuration"},
		{"PayloadUUID", uuid4(r)},
		{"PayloadVersion", 1},
	})
}

// windowsL2TPScript is a PowerShell script that adds the built-in L2TP/IPsec
// connection of Windows 10/11 to the server: Add-VpnConnection -TunnelType
// L2tp with the pre-shared key (or the machine certificate), MS-CHAPv2 for
// the user, encryption required (IPsec provides it). Windows refuses a
// server behind a NAT (error 809) unless the PolicyAgent registry value
// AssumeUDPEncapsulationContextOnSendRule is 2: the script sets it when
// behindNAT says the server is behind one, and says a reboot is needed.
func windowsL2TPScript(server, user string, psk []byte, cred *clientCredential, includePassword, behindNAT bool) []byte {
	var b strings.Builder
	name := "VPN " + server + " (L2TP)"
	fmt.Fprintf(&b, "# goipsec responder: L2TP/IPsec VPN to %s for %s.\n", server, commentSafe(user))
	b.WriteString("# Run in an elevated PowerShell: powershell -ExecutionPolicy Bypass -File <this file>\n")
	if cred != nil {
		b.WriteString("# It asks for the PKCS#12 password unless given as -Password (a SecureString).\n")
		b.WriteString("param(\n    [SecureString]$Password\n)\n")
	}
	b.WriteString("$ErrorActionPreference = 'Stop'\n")
	fmt.Fprintf(&b, "$name = %s\n$server = %s\n", psQuote(name), psQuote(server))
	if cred != nil {
		b.WriteString("\n# This computer's certificate and key (PKCS#12) for IPsec (Main Mode\n# with RSA signatures), in the computer's store.\n")
		if includePassword {
			fmt.Fprintf(&b, "if (-not $Password) { $Password = ConvertTo-SecureString -String %s -AsPlainText -Force }\n", psQuote(cred.password))
		} else {
			b.WriteString("if (-not $Password) { $Password = Read-Host -AsSecureString 'PKCS#12 password' }\n")
		}
		fmt.Fprintf(&b, "$p12 = [Convert]::FromBase64String(%s)\n", psQuote(base64.StdEncoding.EncodeToString(cred.pfx)))
		b.WriteString("$p12File = Join-Path $env:TEMP 'goipsec-client.p12'\n")
		b.WriteString("[IO.File]::WriteAllBytes($p12File, $p12)\n")
		b.WriteString("Import-PfxCertificate -FilePath $p12File -CertStoreLocation Cert:\\LocalMachine\\My -Password $Password | Out-Null\n")
		b.WriteString("Remove-Item $p12File\n")
	}
	b.WriteString("\n# The connection: L2TP over IPsec transport mode, the user logs in with\n# MS-CHAPv2; IPsec encrypts, so no MPPE is needed.\n")
	b.WriteString("Get-VpnConnection -Name $name -ErrorAction SilentlyContinue | Remove-VpnConnection -Force\n")
	if cred != nil {
		b.WriteString("Add-VpnConnection -Name $name -ServerAddress $server -TunnelType L2tp -AuthenticationMethod MSChapv2 -EncryptionLevel Required -RememberCredential -Force\n")
	} else {
		fmt.Fprintf(&b, "$psk = %s\n", psQuote(string(psk)))
		b.WriteString("Add-VpnConnection -Name $name -ServerAddress $server -TunnelType L2tp -L2tpPsk $psk -AuthenticationMethod MSChapv2 -EncryptionLevel Required -RememberCredential -Force\n")
	}
	if behindNAT {
		b.WriteString("\n# The server is behind a NAT: Windows refuses that (error 809) unless told\n# to expect UDP encapsulation on both sides. Takes effect after a reboot.\n")
	} else {
		b.WriteString("\n# If the server is behind a NAT (a private address forwarded from a public\n# one), Windows refuses it (error 809) until this value is 2 and the PC\n# rebooted; remove the comment sign to set it.\n# ")
	}
	b.WriteString("Set-ItemProperty -Path 'HKLM:\\SYSTEM\\CurrentControlSet\\Services\\PolicyAgent' -Name AssumeUDPEncapsulationContextOnSendRule -Type DWord -Value 2\n")
	if behindNAT {
		b.WriteString("Write-Host 'Reboot this PC once before connecting (AssumeUDPEncapsulationContextOnSendRule).'\n")
	}
	fmt.Fprintf(&b, "Write-Host \"Added $name. Connect from the network menu with the user name %s and its password.\"\n", strings.ReplaceAll(psQuote(user), "\"", "`\""))
	return []byte(b.String())
}

// behindNAT guesses whether Windows clients will see the server behind a
// NAT: its name is not one of its own addresses while every IPv4 address
// it listens on is private (a cloud VM or a home server with a port
// forward). Windows then needs AssumeUDPEncapsulationContextOnSendRule.
func behindNAT(s *settings) bool {
	name, addrs := serverIdentity(s)
	if a, err := netip.ParseAddr(name); err == nil && !a.IsPrivate() {
		return false
	}
	v4 := 0
	for _, a := range addrs {
		if !a.Is4() {
			continue
		}
		v4++
		if !a.IsPrivate() {
			return false
		}
	}
	return v4 > 0
}
