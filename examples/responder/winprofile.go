package main

import (
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"strings"
)

// Windows' IPsec settings for the VPN connection, as
// Set-VpnConnectionIPsecConfiguration spells them, and the strongSwan
// proposals they amount to. Without them Windows offers its defaults,
// which need MODP-1024; with them it uses AES-256, SHA2-256 and DH group
// 14, and group 14 for PFS on CHILD SA rekeys.
const (
	winEncryptionMethod    = "AES256"    // IKE encryption
	winIntegrityCheck      = "SHA256"    // IKE integrity and PRF
	winDHGroup             = "Group14"   // IKE key exchange
	winCipherTransform     = "AES256"    // ESP encryption
	winAuthTransform       = "SHA256128" // ESP integrity
	winPFSGroup            = "PFS2048"   // ESP rekey key exchange
	winIKEProposalKeywords = "aes256-sha256-modp2048"
	winESPProposalKeywords = "aes256-sha256-modp2048"
)

// psQuote quotes s as a PowerShell single-quoted string, in which only
// the quote itself is special.
func psQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// windowsScript is a PowerShell script that trusts the CA and creates
// the IKEv2 connection with a cipher suite the responder accepts: with
// EAP-MSCHAPv2 (Windows asks for the password on the first connection),
// or, when cred is set, with the machine certificate cred, which the
// script imports from the PKCS#12 it embeds into LocalMachine\My. The
// PKCS#12 password is the script's -Password parameter or asked for;
// includePassword writes it into the script instead.
func windowsScript(sc *serverCert, server, user string, cred *clientCredential, includePassword bool) []byte {
	var b strings.Builder
	name := "VPN " + server
	if cred != nil {
		fmt.Fprintf(&b, "# goipsec responder: IKEv2 VPN to %s for this computer as %s (machine certificate).\n", server, commentSafe(cred.cert.Subject.String()))
		b.WriteString("# Run in an elevated PowerShell: powershell -ExecutionPolicy Bypass -File <this file>\n")
		b.WriteString("# It asks for the PKCS#12 password unless given as -Password (a SecureString).\n")
		b.WriteString("param(\n    [SecureString]$Password\n)\n")
	} else {
		fmt.Fprintf(&b, "# goipsec responder: IKEv2 VPN to %s for %s.\n", server, commentSafe(user))
		b.WriteString("# Run in an elevated PowerShell: powershell -ExecutionPolicy Bypass -File <this file>\n")
	}
	b.WriteString("$ErrorActionPreference = 'Stop'\n")
	fmt.Fprintf(&b, "$name = %s\n$server = %s\n", psQuote(name), psQuote(server))
	if sc.root != nil {
		b.WriteString("\n# The CA that issued the server certificate, trusted for this computer.\n$ca = @'\n")
		b.Write(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: sc.root.Raw}))
		b.WriteString("'@\n")
		b.WriteString("$caFile = Join-Path $env:TEMP 'goipsec-ca.cer'\n")
		b.WriteString("Set-Content -Path $caFile -Value $ca -Encoding ascii\n")
		b.WriteString("Import-Certificate -FilePath $caFile -CertStoreLocation Cert:\\LocalMachine\\Root | Out-Null\n")
		b.WriteString("Remove-Item $caFile\n")
	}
	auth := "Eap"
	if cred != nil {
		auth = "MachineCertificate"
		b.WriteString("\n# This computer's certificate and key (PKCS#12), for the computer's\n")
		b.WriteString("# store: Windows authenticates with it as its subject DN, choosing it by\n")
		b.WriteString("# the CA the server names in its certificate request.\n")
		if includePassword {
			fmt.Fprintf(&b, "if (-not $Password) { $Password = ConvertTo-SecureString -String %s -AsPlainText -Force }\n", psQuote(cred.password))
		} else {
			b.WriteString("if (-not $Password) { $Password = Read-Host -AsSecureString -Prompt 'PKCS#12 password of the client certificate' }\n")
		}
		b.WriteString("$pfx = [Convert]::FromBase64String(@'\n")
		enc := base64.StdEncoding.EncodeToString(cred.pfx)
		for len(enc) > 76 {
			b.WriteString(enc[:76] + "\n")
			enc = enc[76:]
		}
		b.WriteString(enc + "\n'@)\n")
		b.WriteString("$pfxFile = Join-Path $env:TEMP 'goipsec-client.p12'\n")
		b.WriteString("[IO.File]::WriteAllBytes($pfxFile, $pfx)\n")
		b.WriteString("try {\n    $cert = Import-PfxCertificate -FilePath $pfxFile -CertStoreLocation Cert:\\LocalMachine\\My -Password $Password\n} finally {\n    Remove-Item $pfxFile\n}\n")
		b.WriteString("\n# The connection: IKEv2 with the machine certificate.\n")
	} else {
		b.WriteString("\n# The connection: IKEv2 with EAP-MSCHAPv2 (Windows' default EAP method).\n")
	}
	b.WriteString("if (Get-VpnConnection -Name $name -AllUserConnection -ErrorAction SilentlyContinue) {\n")
	b.WriteString("    Remove-VpnConnection -Name $name -AllUserConnection -Force\n}\n")
	if cred != nil {
		fmt.Fprintf(&b, "Add-VpnConnection -Name $name -ServerAddress $server -TunnelType Ikev2 -AuthenticationMethod %s -EncryptionLevel Required -AllUserConnection\n", auth)
	} else {
		fmt.Fprintf(&b, "Add-VpnConnection -Name $name -ServerAddress $server -TunnelType Ikev2 -AuthenticationMethod %s -EncryptionLevel Required -AllUserConnection -RememberCredential\n", auth)
	}
	fmt.Fprintf(&b, "\n# %s for IKE, %s for ESP: accepted by the server, no MODP-1024.\n", winIKEProposalKeywords, winESPProposalKeywords)
	fmt.Fprintf(&b, "Set-VpnConnectionIPsecConfiguration -ConnectionName $name -AllUserConnection -EncryptionMethod %s -IntegrityCheckMethod %s -DHGroup %s -CipherTransformConstants %s -AuthenticationTransformConstants %s -PfsGroup %s -Force\n",
		winEncryptionMethod, winIntegrityCheck, winDHGroup, winCipherTransform, winAuthTransform, winPFSGroup)
	// Names go in as single-quoted arguments: inside double quotes
	// PowerShell would expand $ and backticks.
	if cred != nil {
		b.WriteString("\nWrite-Host (\"Created '{0}' with the machine certificate {1} ({2}). Connect from the network menu.\" -f $name, $cert.Subject, $cert.Thumbprint)\n")
	} else {
		fmt.Fprintf(&b, "\nWrite-Host (\"Created '{0}'. Connect from the network menu as {1}; Windows asks for the password once.\" -f $name, %s)\n", psQuote(user))
	}
	return []byte(b.String())
}

// commentSafe keeps a name from ending a script comment early.
func commentSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' {
			return ' '
		}
		return r
	}, s)
}
