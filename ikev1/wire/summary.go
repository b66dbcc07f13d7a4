package wire

import (
	"strconv"
	"strings"
)

// strongSwan's short payload names (libcharon payload.c); the draft
// NAT-D and NAT-OA numbers print like the RFC ones, as in charon logs.
var payloadShort = map[PayloadType]string{
	PayloadNone: "--", PayloadSA: "SA", PayloadProposal: "PROP", PayloadTransform: "TRANS",
	PayloadKE: "KE", PayloadID: "ID", PayloadCERT: "CERT", PayloadCR: "CERTREQ", PayloadHASH: "HASH",
	PayloadSIG: "SIG", PayloadNonce: "No", PayloadNotify: "N", PayloadDelete: "D",
	PayloadVendorID: "V", PayloadAttributes: "CP", PayloadNATD: "NAT-D", PayloadNATOA: "NAT-OA",
	PayloadNATDDraft: "NAT-D", PayloadNATOADraft: "NAT-OA", PayloadFragment: "FRAG",
}

// strongSwan's short notify names (libcharon notify_payload.c). charon
// shares one table between IKEv1 and IKEv2, so IKEv1's INVALID-PAYLOAD-TYPE
// (1) prints as IKEv2's CRIT, and so on.
var notifyShort = map[NotifyType]string{
	1: "CRIT", 4: "INVAL_IKE_SPI", 5: "INVAL_MAJOR", 7: "INVAL_SYN", 9: "INVAL_MID", 11: "INVAL_SPI",
	13: "ATTR_UNSUP", 14: "NO_PROP", 16: "PLD_MAL", 17: "INVAL_KE", 18: "INVAL_ID", 19: "INVAL_CERTEN",
	20: "INVAL_CERT", 21: "CERT_UNSUP", 22: "INVAL_CA", 23: "INVAL_HASH", 24: "AUTH_FAILED",
	16384: "INIT_CONTACT", 24578: "INITIAL_CONTACT", 36136: "DPD", 36137: "DPD_ACK", 40501: "UNITY_LB",
}

// strongSwan's short configuration attribute names (libcharon attributes.c).
var cfgAttrShort = map[uint16]string{
	1: "ADDR", 2: "MASK", 3: "DNS", 4: "NBNS", 5: "EXP", 6: "DHCP", 7: "VER", 8: "ADDR6", 9: "MASK6",
	10: "DNS6", 11: "NBNS6", 12: "DHCP6", 13: "SUBNET", 14: "SUP", 15: "SUBNET6",
	16520: "X_TYPE", 16521: "X_USER", 16522: "X_PWD", 16523: "X_CODE", 16524: "X_MSG",
	16525: "X_CHALL", 16526: "X_DOMAIN", 16527: "X_STATUS", 16528: "X_PIN", 16529: "X_ANSWER",
	28672: "U_BANNER", 28673: "U_SAVEPWD", 28674: "U_DEFDOM", 28675: "U_SPLITDNS", 28676: "U_SPLITINC",
	28677: "U_NATTPORT", 28678: "U_LOCALLAN", 28679: "U_PFS", 28680: "U_FWTYPE", 28681: "U_BKPSRV",
	28682: "U_DDNSHOST",
}

// Summary returns the one-line description charon logs for a message:
//
//	ID_PROT request 0 [ SA V V V ]
//	TRANSACTION request 1234 [ HASH CPRQ(X_USER X_PWD) ]
//
// "request" or "response" comes from m.Response (IKEv1 has no flag for
// it). A message whose body is still encrypted shows as [ E ].
func (m *Message) Summary() string {
	var sb strings.Builder
	sb.WriteString(m.Exchange.String())
	if m.Response {
		sb.WriteString(" response ")
	} else {
		sb.WriteString(" request ")
	}
	sb.WriteString(strconv.FormatUint(uint64(m.MessageID), 10))
	sb.WriteString(" [")
	if m.Payloads == nil && m.Encrypted != nil {
		sb.WriteString(" E")
	}
	for _, p := range m.Payloads {
		sb.WriteByte(' ')
		t := p.Type()
		if s, ok := payloadShort[t]; ok {
			sb.WriteString(s)
		} else {
			sb.WriteString("UNKN(" + strconv.Itoa(int(t)) + ")")
		}
		switch p := p.(type) {
		case *Notify:
			sb.WriteByte('(')
			if s, ok := notifyShort[p.NotifyType]; ok {
				sb.WriteString(s)
			} else {
				sb.WriteString(strconv.Itoa(int(p.NotifyType)))
			}
			sb.WriteByte(')')
		case *Attributes:
			for i, a := range p.Attrs {
				if i == 0 {
					switch p.CfgType {
					case CFG_REQUEST:
						sb.WriteString("RQ(")
					case CFG_REPLY:
						sb.WriteString("RP(")
					case CFG_SET:
						sb.WriteString("S(")
					case CFG_ACK:
						sb.WriteString("A(")
					default:
						sb.WriteString("(")
					}
				} else {
					sb.WriteByte(' ')
				}
				if s, ok := cfgAttrShort[a.Type]; ok {
					sb.WriteString(s)
				} else {
					sb.WriteString(strconv.Itoa(int(a.Type)))
				}
			}
			if len(p.Attrs) > 0 {
				sb.WriteByte(')')
			}
		}
	}
	sb.WriteString(" ]")
	return sb.String()
}
