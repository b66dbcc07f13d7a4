package radius

import "fmt"

// Type is a RADIUS attribute type (IANA "RADIUS Attribute Types").
type Type uint8

// Attribute types the package uses (RFC 2865, 2866, 2868, 2869, 3162,
// 3579, 5176, 6911).
const (
	TypeUserName               Type = 1
	TypeUserPassword           Type = 2
	TypeCHAPPassword           Type = 3
	TypeNASIPAddress           Type = 4
	TypeNASPort                Type = 5
	TypeServiceType            Type = 6
	TypeFramedProtocol         Type = 7
	TypeFramedIPAddress        Type = 8
	TypeFramedIPNetmask        Type = 9
	TypeFilterID               Type = 11
	TypeFramedMTU              Type = 12
	TypeReplyMessage           Type = 18
	TypeState                  Type = 24
	TypeClass                  Type = 25
	TypeVendorSpecific         Type = 26
	TypeSessionTimeout         Type = 27
	TypeIdleTimeout            Type = 28
	TypeTerminationAction      Type = 29
	TypeCalledStationID        Type = 30
	TypeCallingStationID       Type = 31
	TypeNASIdentifier          Type = 32
	TypeProxyState             Type = 33
	TypeAcctStatusType         Type = 40
	TypeAcctDelayTime          Type = 41
	TypeAcctInputOctets        Type = 42
	TypeAcctOutputOctets       Type = 43
	TypeAcctSessionID          Type = 44
	TypeAcctAuthentic          Type = 45
	TypeAcctSessionTime        Type = 46
	TypeAcctInputPackets       Type = 47
	TypeAcctOutputPackets      Type = 48
	TypeAcctTerminateCause     Type = 49
	TypeAcctMultiSessionID     Type = 50
	TypeAcctInputGigawords     Type = 52
	TypeAcctOutputGigawords    Type = 53
	TypeEventTimestamp         Type = 55
	TypeCHAPChallenge          Type = 60
	TypeNASPortType            Type = 61
	TypeTunnelType             Type = 64
	TypeTunnelMediumType       Type = 65
	TypeTunnelPassword         Type = 69
	TypeEAPMessage             Type = 79
	TypeMessageAuthenticator   Type = 80
	TypeAcctInterimInterval    Type = 85
	TypeNASPortID              Type = 87
	TypeFramedPool             Type = 88
	TypeNASIPv6Address         Type = 95
	TypeFramedInterfaceID      Type = 96
	TypeFramedIPv6Prefix       Type = 97
	TypeErrorCause             Type = 101
	TypeFramedIPv6Address      Type = 168
	TypeFramedIPv6Pool         Type = 100
	TypeDelegatedIPv6Prefix    Type = 123
	TypeAcctTunnelConnection   Type = 68
	TypeFramedIPv6Route        Type = 99
	TypeLoginIPHost            Type = 14
	TypeLoginService           Type = 15
	TypeCallbackNumber         Type = 19
	TypeFramedRoute            Type = 22
	TypeAcctLinkCount          Type = 51
	TypePortLimit              Type = 62
	TypeConnectInfo            Type = 77
	TypeNASFilterRule          Type = 92
	TypeOriginatingLineInfo    Type = 94
	TypeTunnelPrivateGroupID   Type = 81
	TypeTunnelAssignmentID     Type = 82
	TypeTunnelPreference       Type = 83
	TypeTunnelClientEndpoint   Type = 66
	TypeTunnelServerEndpoint   Type = 67
	TypeChargeableUserIdentity Type = 89
)

var typeNames = map[Type]string{
	TypeUserName: "User-Name", TypeUserPassword: "User-Password", TypeCHAPPassword: "CHAP-Password",
	TypeNASIPAddress: "NAS-IP-Address", TypeNASPort: "NAS-Port", TypeServiceType: "Service-Type",
	TypeFramedProtocol: "Framed-Protocol", TypeFramedIPAddress: "Framed-IP-Address",
	TypeFramedIPNetmask: "Framed-IP-Netmask", TypeFilterID: "Filter-Id", TypeFramedMTU: "Framed-MTU",
	TypeReplyMessage: "Reply-Message", TypeState: "State", TypeClass: "Class",
	TypeVendorSpecific: "Vendor-Specific", TypeSessionTimeout: "Session-Timeout",
	TypeIdleTimeout: "Idle-Timeout", TypeTerminationAction: "Termination-Action",
	TypeCalledStationID: "Called-Station-Id", TypeCallingStationID: "Calling-Station-Id",
	TypeNASIdentifier: "NAS-Identifier", TypeProxyState: "Proxy-State",
	TypeAcctStatusType: "Acct-Status-Type", TypeAcctDelayTime: "Acct-Delay-Time",
	TypeAcctInputOctets: "Acct-Input-Octets", TypeAcctOutputOctets: "Acct-Output-Octets",
	TypeAcctSessionID: "Acct-Session-Id", TypeAcctAuthentic: "Acct-Authentic",
	TypeAcctSessionTime: "Acct-Session-Time", TypeAcctInputPackets: "Acct-Input-Packets",
	TypeAcctOutputPackets: "Acct-Output-Packets", TypeAcctTerminateCause: "Acct-Terminate-Cause",
	TypeAcctMultiSessionID: "Acct-Multi-Session-Id", TypeAcctInputGigawords: "Acct-Input-Gigawords",
	TypeAcctOutputGigawords: "Acct-Output-Gigawords", TypeEventTimestamp: "Event-Timestamp",
	TypeCHAPChallenge: "CHAP-Challenge", TypeNASPortType: "NAS-Port-Type",
	TypeTunnelType: "Tunnel-Type", TypeTunnelMediumType: "Tunnel-Medium-Type",
	TypeTunnelPassword: "Tunnel-Password", TypeEAPMessage: "EAP-Message",
	TypeMessageAuthenticator: "Message-Authenticator", TypeAcctInterimInterval: "Acct-Interim-Interval",
	TypeNASPortID: "NAS-Port-Id", TypeFramedPool: "Framed-Pool", TypeNASIPv6Address: "NAS-IPv6-Address",
	TypeFramedInterfaceID: "Framed-Interface-Id", TypeFramedIPv6Prefix: "Framed-IPv6-Prefix",
	TypeErrorCause: "Error-Cause", TypeFramedIPv6Address: "Framed-IPv6-Address",
	TypeFramedIPv6Pool: "Framed-IPv6-Pool", TypeDelegatedIPv6Prefix: "Delegated-IPv6-Prefix",
	TypeAcctTunnelConnection: "Acct-Tunnel-Connection", TypeFramedIPv6Route: "Framed-IPv6-Route",
	TypeLoginIPHost: "Login-IP-Host", TypeLoginService: "Login-Service",
	TypeCallbackNumber: "Callback-Number", TypeFramedRoute: "Framed-Route",
	TypeAcctLinkCount: "Acct-Link-Count", TypePortLimit: "Port-Limit", TypeConnectInfo: "Connect-Info",
	TypeNASFilterRule: "NAS-Filter-Rule", TypeOriginatingLineInfo: "Originating-Line-Info",
	TypeTunnelPrivateGroupID: "Tunnel-Private-Group-Id", TypeTunnelAssignmentID: "Tunnel-Assignment-Id",
	TypeTunnelPreference: "Tunnel-Preference", TypeTunnelClientEndpoint: "Tunnel-Client-Endpoint",
	TypeTunnelServerEndpoint: "Tunnel-Server-Endpoint", TypeChargeableUserIdentity: "Chargeable-User-Identity",
}

// String returns the IANA name ("User-Name").
func (t Type) String() string {
	if s, ok := typeNames[t]; ok {
		return s
	}
	return fmt.Sprintf("Attr-%d", uint8(t))
}

// fixedLen are the value lengths Parse enforces, for attributes whose
// values the package interprets as integers or addresses.
var fixedLen = map[Type]int{
	TypeNASIPAddress: 4, TypeNASPort: 4, TypeServiceType: 4, TypeFramedProtocol: 4,
	TypeFramedIPAddress: 4, TypeFramedIPNetmask: 4, TypeFramedMTU: 4, TypeSessionTimeout: 4,
	TypeIdleTimeout: 4, TypeTerminationAction: 4, TypeAcctStatusType: 4, TypeAcctDelayTime: 4,
	TypeAcctInputOctets: 4, TypeAcctOutputOctets: 4, TypeAcctAuthentic: 4, TypeAcctSessionTime: 4,
	TypeAcctInputPackets: 4, TypeAcctOutputPackets: 4, TypeAcctTerminateCause: 4,
	TypeAcctInputGigawords: 4, TypeAcctOutputGigawords: 4, TypeEventTimestamp: 4,
	TypeNASPortType: 4, TypeMessageAuthenticator: 16, TypeAcctInterimInterval: 4,
	TypeNASIPv6Address: 16, TypeErrorCause: 4, TypeFramedIPv6Address: 16, TypeFramedInterfaceID: 8,
	TypeCHAPPassword: 17,
}

// VendorMicrosoft is Microsoft's SMI Private Enterprise Number (RFC 2548).
const VendorMicrosoft uint32 = 311

// Microsoft vendor-specific attribute types (RFC 2548 section 2).
const (
	MSCHAPResponse      uint8 = 1
	MSCHAPError         uint8 = 2
	MSMPPEEncryptPolicy uint8 = 7
	MSMPPEEncryptTypes  uint8 = 8
	MSCHAPChallenge     uint8 = 11
	MSMPPESendKey       uint8 = 16
	MSMPPERecvKey       uint8 = 17
	MSCHAP2Response     uint8 = 25
	MSCHAP2Success      uint8 = 26
)

// Values of the integer attributes the package sends.
const (
	// ServiceTypeFramed is Service-Type Framed-User (RFC 2865 5.6).
	ServiceTypeFramed uint32 = 2
	// FramedProtocolPPP is Framed-Protocol PPP (RFC 2865 5.7).
	FramedProtocolPPP uint32 = 1
	// NASPortTypeVirtual is NAS-Port-Type Virtual (RFC 2865 5.41).
	NASPortTypeVirtual uint32 = 5
)

// ErrorCause is an Error-Cause value of RFC 5176 section 3.5.
type ErrorCause uint32

// Error-Cause values the DAE server sends.
const (
	ErrorCauseResidualContextRemoved ErrorCause = 201
	ErrorCauseUnsupportedAttribute   ErrorCause = 401
	ErrorCauseMissingAttribute       ErrorCause = 402
	ErrorCauseNASIdentMismatch       ErrorCause = 403
	ErrorCauseInvalidRequest         ErrorCause = 404
	ErrorCauseUnsupportedService     ErrorCause = 405
	ErrorCauseUnsupportedExtension   ErrorCause = 406
	ErrorCauseInvalidAttributeValue  ErrorCause = 407
	ErrorCauseAdminProhibited        ErrorCause = 501
	ErrorCauseSessionNotFound        ErrorCause = 503
	ErrorCauseSessionNotRemovable    ErrorCause = 504
	ErrorCauseResourcesUnavailable   ErrorCause = 506
)
