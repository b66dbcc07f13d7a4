package main

import (
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
// the IKEv2 EAP-MSCHAPv2 connection with a cipher suite the responder
// accepts. Windows asks for the password on the first connection.
func windowsScript(sc *serverCert, server, user string) []byte {
	var b strings.Builder
	name := "VPN " + server
	fmt.Fprintf(&b, "# goipsec responder: IKEv2 VPN to %s for %s.\n", server, user)
	b.WriteString("# Run in an elevated PowerShell: powershell -ExecutionPolicy Bypass -File <this file>\n")
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
	b.WriteString("\n# The connection: IKEv2 with EAP-MSCHAPv2 (Windows' default EAP method).\n")
	b.WriteString("if (Get-VpnConnection -Name $name -AllUserConnection -ErrorAction SilentlyContinue) {\n")
	b.WriteString("    Remove-VpnConnection -Name $name -AllUserConnection -Force\n}\n")
	b.WriteString("Add-VpnConnection -Name $name -ServerAddress $server -TunnelType Ikev2 -AuthenticationMethod Eap -EncryptionLevel Required -AllUserConnection -RememberCredential\n")
	fmt.Fprintf(&b, "\n# %s for IKE, %s for ESP: accepted by the server, no MODP-1024.\n", winIKEProposalKeywords, winESPProposalKeywords)
	fmt.Fprintf(&b, "Set-VpnConnectionIPsecConfiguration -ConnectionName $name -AllUserConnection -EncryptionMethod %s -IntegrityCheckMethod %s -DHGroup %s -CipherTransformConstants %s -AuthenticationTransformConstants %s -PfsGroup %s -Force\n",
		winEncryptionMethod, winIntegrityCheck, winDHGroup, winCipherTransform, winAuthTransform, winPFSGroup)
	// The user name goes in as a single-quoted argument: inside double
	// quotes PowerShell would expand $ and backticks.
	fmt.Fprintf(&b, "\nWrite-Host (\"Created '{0}'. Connect from the network menu as {1}; Windows asks for the password once.\" -f $name, %s)\n", psQuote(user))
	return []byte(b.String())
}
