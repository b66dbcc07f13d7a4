package proposal

import "strings"

// This file holds the stock proposals of the native VPN clients as data.
// Sources are cited per profile; where the order or exact content is not
// verified by a capture, the Source says so. The strings use strongSwan
// syntax, so an IKE integrity keyword also stands for its PRF
// ("aes256-sha256-modp2048" = AES_CBC_256/HMAC_SHA2_256_128/
// PRF_HMAC_SHA2_256/MODP_2048, exactly what iOS sends).

// Profile is the proposal set one native client sends.
type Profile struct {
	// Name is the short name proposalcheck accepts, e.g. "ios".
	Name string
	// Description says which client and settings send it.
	Description string
	// Source says where the proposals come from and what is unverified.
	Source string
	// IKEVersion is 2, or 1 for IKEv1 ("Cisco IPSec") clients, whose IKE
	// list is the phase-1 proposals and ESP the Quick Mode proposals.
	IKEVersion int
	// IKE is what the client offers in IKE_SA_INIT (IKEv1: phase 1).
	IKE List
	// ESP is what the client offers for the first CHILD SA in IKE_AUTH
	// (no KE: it keys from the IKE SA), IKEv1: Quick Mode.
	ESP List
	// ESPRekey is what the client offers in a CREATE_CHILD_SA rekey, where
	// a KE transform means the client asks for PFS.
	ESPRekey List
	// RekeyUsesIKEGroup is set when the client's rekey KE is the group
	// negotiated for the IKE SA (iOS); ESPRekey then shows MODP_2048, the
	// group of its first IKE proposal, and RekeyESP substitutes another.
	RekeyUsesIKEGroup bool
	// Advice says what can be changed on the client when its proposals
	// are the problem; empty when nothing is configurable.
	Advice string
}

type profileDef struct {
	name, desc, source string
	version            int
	ike, esp, rekey    string
	advice             string
	rekeyIKEGroup      bool
}

const (
	windowsIKE = "3des-sha1-modp1024, 3des-sha256-modp1024, 3des-sha384-modp1024, " +
		"aes128-sha1-modp1024, aes128-sha256-modp1024, aes128-sha384-modp1024, " +
		"aes192-sha1-modp1024, aes192-sha256-modp1024, aes192-sha384-modp1024, " +
		"aes256-sha1-modp1024, aes256-sha256-modp1024, aes256-sha384-modp1024"
	windowsESP = "aes256-aes128-3des-des-null-sha1"

	// strongSwan's proposal_create_default(PROTO_IKE) and
	// proposal_create_default_aead(PROTO_IKE) with the algorithms of the
	// openssl plugin, KE methods in the rounds of add_supported_ke_methods
	// (ECC >= 128 bit, MODP >= 3072, then MODP_2048); MD5, DES, MODP_1024/
	// 1536 and RFC 5114 groups are never in strongSwan's defaults.
	strongswanKE         = "ecp256-ecp384-ecp521-ecp256bp-ecp384bp-ecp512bp-curve25519-curve448-modp3072-modp4096-modp6144-modp8192-modp2048"
	strongswanPRF        = "prfsha256-prfsha384-prfsha512-prfaesxcbc-prfaescmac-prfsha1"
	strongswanIKEClassic = "aes128-aes192-aes256-aes128ctr-aes192ctr-aes256ctr-3des-sha256-sha384-sha512-aesxcbc-aescmac-sha1-" + strongswanPRF + "-" + strongswanKE
	strongswanIKEAEAD    = "aes128gcm16-aes192gcm16-aes256gcm16-chacha20poly1305-aes128gcm12-aes192gcm12-aes256gcm12-aes128gcm8-aes192gcm8-aes256gcm8-" + strongswanPRF + "-" + strongswanKE

	racoonPSK = "aes256-sha1-modp1024, aes128-sha1-modp1024, aes256-md5-modp1024, aes128-md5-modp1024, " +
		"3des-sha1-modp1024, 3des-md5-modp1024, des-sha1-modp1024, des-md5-modp1024"
	racoonESP = "aes256-sha1, aes128-sha1, 3des-sha1, aes256-md5, aes128-md5, 3des-md5"

	windowsAdvice = "Windows can offer MODP_2048 with the registry value HKLM\\SYSTEM\\CurrentControlSet\\Services\\Rasman\\Parameters\\NegotiateDH2048_AES256 = 1 or 2 " +
		"(profile windows-dh2048), or one strong suite with Set-VpnConnectionIPsecConfiguration (profile windows-gcm)"
	racoonAdvice = "the IKEv1 client's algorithms are fixed; configure the device for IKEv2 (profiles ios, macos) to get SHA-2 and MODP_2048"
)

var profileDefs = []profileDef{
	{
		name: "ios", version: 2,
		desc:   "iOS 16/17 built-in IKEv2, manual configuration in Settings",
		source: "strongSwan docs interop/ios.adoc (\"as of iOS 16.5\"); CLIENTS.md section 1; the rekey list carries the IKE group (MODP_2048 when that was chosen)",
		ike:    "aes256-sha256-modp2048, aes256-sha256-ecp256, aes256-sha256-modp1536, aes128-sha1-modp1024, 3des-sha1-modp1024",
		esp:    "aes256-sha256, aes256-sha256, aes256-sha256, aes128-sha1, 3des-sha1",
		rekey:  "aes256-sha256-modp2048, aes256-sha256",
		// "the DH group in the first proposal is presumably the one
		// selected for IKE" (strongSwan interop/ios.adoc)
		rekeyIKEGroup: true,
	},
	{
		name: "macos", version: 2,
		desc:   "macOS 13/14 built-in IKEv2, manual configuration",
		source: "strongSwan docs interop/ios.adoc (\"as of macOS 13.4\"); CLIENTS.md section 1; no PFS on rekey",
		ike:    "aes256-sha256-modp2048",
		esp:    "aes256-sha256",
		rekey:  "aes256-sha256",
	},
	{
		name: "windows", version: 2,
		desc:   "Windows 10 built-in IKEv2 (Agile VPN) with default settings",
		source: "captures/ipsec_client.pcap frame 1 and strongSwan docs windowsClients.adoc via CLIENTS.md section 2; no PFS on rekey",
		ike:    windowsIKE,
		esp:    windowsESP,
		rekey:  windowsESP,
		advice: windowsAdvice,
	},
	{
		name: "windows11", version: 2,
		desc:   "Windows 11 built-in IKEv2 with default settings (Windows 10 list plus AES-GCM)",
		source: "CLIENTS.md section 2 (strongSwan windowsClients.adoc); the GCM additions are shown as one proposal there, their exact split and order on the wire are unverified",
		ike:    windowsIKE + ", aes128gcm16-aes256gcm16-prfsha1-prfsha256-prfsha384-modp1024",
		esp:    windowsESP,
		rekey:  windowsESP,
		advice: windowsAdvice,
	},
	{
		name: "windows-gcm", version: 2,
		desc: "Windows 10/11 after Set-VpnConnectionIPsecConfiguration -EncryptionMethod GCMAES256 -IntegrityCheckMethod SHA256 " +
			"-DHGroup ECP384 -CipherTransformConstants GCMAES256 -AuthenticationTransformConstants GCMAES256 -PfsGroup ECP384",
		source: "Microsoft Learn set-vpnconnectionipsecconfiguration (one IKE and one ESP proposal, PfsGroup used on rekey); CLIENTS.md section 2; enum spellings unverified",
		ike:    "aes256gcm16-prfsha256-ecp384",
		esp:    "aes256gcm16",
		rekey:  "aes256gcm16-ecp384",
	},
	{
		name: "windows-dh2048", version: 2,
		desc:   "Windows 10/11 with registry Rasman\\Parameters\\NegotiateDH2048_AES256 = 2 (enforce AES-256 and MODP-2048)",
		source: "strongSwan docs windowsClients.adoc via CLIENTS.md section 2; value 1 offers this in addition to the defaults",
		ike:    "aes256-sha1-sha256-sha384-modp2048",
		esp:    windowsESP,
		rekey:  windowsESP,
	},
	{
		name: "android", version: 2,
		desc:   "strongSwan VPN client for Android with default proposals",
		source: "strongSwan android_service.c @3b902ea (proposal_create_default + _aead for IKE, four hard-coded ESP proposals with and without KE); KE order within the list depends on the crypto plugins and is approximate",
		ike:    strongswanIKEClassic + ", " + strongswanIKEAEAD,
		// IKE_AUTH strips KE, which makes the 4 ESP proposals 2 distinct ones.
		esp: "aes256gcm16-aes128gcm16-chacha20poly1305, aes256-aes192-aes128-sha384-sha256-sha512-sha1",
		rekey: "aes256gcm16-aes128gcm16-chacha20poly1305-curve25519-ecp384-ecp521-modp3072-modp4096-ecp256-modp8192, " +
			"aes256-aes192-aes128-sha384-sha256-sha512-sha1-curve25519-ecp384-ecp521-modp3072-modp4096-ecp256-modp2048-modp8192, " +
			"aes256gcm16-aes128gcm16-chacha20poly1305, aes256-aes192-aes128-sha384-sha256-sha512-sha1",
	},
	{
		name: "linux", version: 2,
		desc:   "Linux NetworkManager-strongswan (charon-nm, strongSwan 5.9+) with default proposals",
		source: "strongSwan proposal.c proposal_create_default/_aead; nm_service.c uses the defaults; ESP AEAD first, KE optional (NONE) on rekey",
		ike:    strongswanIKEClassic + ", " + strongswanIKEAEAD,
		esp:    "aes128gcm16-aes192gcm16-aes256gcm16, aes128-aes192-aes256-sha256-sha384-sha512-sha1-aesxcbc",
		rekey: "aes128gcm16-aes192gcm16-aes256gcm16-" + strongswanKE + "-modpnone, " +
			"aes128-aes192-aes256-sha256-sha384-sha512-sha1-aesxcbc-" + strongswanKE + "-modpnone",
	},
	{
		name: "ios-ikev1", version: 1,
		desc:   "iOS/macOS IKEv1 \"Cisco IPSec\" (racoon), group PSK + XAuth, Aggressive Mode",
		source: "Apple open source ipsec_utils.c IPSecCreateCiscoDefaultConfiguration (DH group 2 only); Quick Mode list and whether recent iOS still offers DES are unverified",
		ike:    racoonPSK,
		esp:    racoonESP,
		rekey:  racoonESP,
		advice: racoonAdvice,
	},
	{
		name: "ios-ikev1-cert", version: 1,
		desc:   "iOS/macOS IKEv1 \"Cisco IPSec\" (racoon) with certificate + XAuth, Main Mode",
		source: "Apple open source ipsec_utils.c: certificate auth adds AES-256/SHA1 and AES-256/MD5 with DH group 5 first; Quick Mode list unverified",
		ike:    "aes256-sha1-modp1536, aes256-md5-modp1536, " + racoonPSK,
		esp:    racoonESP,
		rekey:  racoonESP,
		advice: racoonAdvice,
	},
}

var profiles = buildProfiles()

func buildProfiles() []Profile {
	out := make([]Profile, 0, len(profileDefs))
	for _, d := range profileDefs {
		out = append(out, Profile{
			Name: d.name, Description: d.desc, Source: d.source, IKEVersion: d.version,
			IKE:      mustParse(d.ike, ProtoIKE),
			ESP:      mustParse(d.esp, ProtoESP),
			ESPRekey: mustParse(d.rekey, ProtoESP),
			Advice:   d.advice,

			RekeyUsesIKEGroup: d.rekeyIKEGroup,
		})
	}
	return out
}

// mustParse is for the package's own constant strings, which the tests
// parse; a typo there is a programming error caught at init.
func mustParse(s string, proto Protocol) List {
	l, err := Parse(s, proto)
	if err != nil {
		panic(err)
	}
	return l
}

// Profiles returns copies of all client profiles.
func Profiles() []Profile {
	out := make([]Profile, len(profiles))
	for i, p := range profiles {
		out[i] = p.clone()
	}
	return out
}

// LookupProfile returns a copy of the profile with the given name.
func LookupProfile(name string) (Profile, bool) {
	for _, p := range profiles {
		if p.Name == name {
			return p.clone(), true
		}
	}
	return Profile{}, false
}

// RekeyESP returns the client's CHILD rekey proposals for an IKE SA that
// negotiated ikeGroup: for clients that reuse the IKE group (iOS) every KE
// transform other than NONE becomes ikeGroup; other clients' lists are
// returned unchanged.
func (p Profile) RekeyESP(ikeGroup KEID) List {
	l := p.ESPRekey.Clone()
	if !p.RekeyUsesIKEGroup {
		return l
	}
	for i := range l {
		for j, id := range l[i].KE {
			if id != KENone {
				l[i].KE[j] = ikeGroup
			}
		}
	}
	return l
}

func (p Profile) clone() Profile {
	p.IKE, p.ESP, p.ESPRekey = p.IKE.Clone(), p.ESP.Clone(), p.ESPRekey.Clone()
	return p
}

// identifyProfile returns the names of the profiles with a list (IKE, ESP
// or rekey) equal to l, ignoring SPIs and numbers, and the advice of the
// first one, or "".
func identifyProfile(l List) (names, advice string) {
	if len(l) == 0 {
		return "", ""
	}
	s := l.String()
	var found []string
	for _, p := range profiles {
		for _, pl := range []List{p.IKE, p.ESP, p.ESPRekey} {
			if len(pl) > 0 && pl[0].Protocol == l[0].Protocol && pl.String() == s {
				found = append(found, p.Name)
				if advice == "" {
					advice = p.Advice
				}
				break
			}
		}
	}
	return strings.Join(found, ", "), advice
}
