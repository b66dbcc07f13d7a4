package wire

import (
	"encoding/binary"
	"strconv"
	"strings"
)

// strongSwan's short payload names (libcharon payload.c): the encrypted
// payload is "E" and the fragment "EF", as operators see them in charon
// logs.
var payloadShort = map[PayloadType]string{
	PayloadNone: "--", PayloadSA: "SA", PayloadKE: "KE", PayloadIDi: "IDi", PayloadIDr: "IDr",
	PayloadCERT: "CERT", PayloadCERTREQ: "CERTREQ", PayloadAUTH: "AUTH", PayloadNonce: "No",
	PayloadNotify: "N", PayloadDelete: "D", PayloadVendorID: "V", PayloadTSi: "TSi", PayloadTSr: "TSr",
	PayloadSK: "E", PayloadCP: "CP", PayloadEAP: "EAP", PayloadGSPM: "GSPM", PayloadIDg: "IDg",
	PayloadGSA: "GSA", PayloadKD: "KD", PayloadSKF: "EF",
}

// strongSwan's short notify names (libcharon notify_payload.c).
var notifyShort = map[NotifyType]string{
	1: "CRIT", 4: "INVAL_IKE_SPI", 5: "INVAL_MAJOR", 7: "INVAL_SYN", 9: "INVAL_MID", 11: "INVAL_SPI",
	14: "NO_PROP", 17: "INVAL_KE", 24: "AUTH_FAILED", 34: "SINGLE_PAIR", 35: "NO_ADD_SAS",
	36: "INT_ADDR_FAIL", 37: "FAIL_CP_REQ", 38: "TS_UNACCEPT", 39: "INVAL_SEL", 40: "UNACCEPT_ADDR",
	41: "UNEXPECT_NAT", 42: "ASSIGNED_HoA", 43: "TEMP_FAIL", 44: "NO_CHILD_SA", 47: "NO_STATE",
	48: "MAX_QUEUE", 12345: "MS_STATUS",
	16384: "INIT_CONTACT", 16385: "SET_WINSIZE", 16386: "ADD_TS_POSS", 16387: "IPCOMP_SUP",
	16388: "NATD_S_IP", 16389: "NATD_D_IP", 16390: "COOKIE", 16391: "USE_TRANSP", 16392: "HTTP_CERT_LOOK",
	16393: "REKEY_SA", 16394: "ESP_TFC_PAD_N", 16395: "NON_FIRST_FRAG", 16396: "MOBIKE_SUP",
	16397: "ADD_4_ADDR", 16398: "ADD_6_ADDR", 16399: "NO_ADD_ADDR", 16400: "UPD_SA_ADDR", 16401: "COOKIE2",
	16402: "NO_NATS", 16403: "AUTH_LFT", 16404: "MULT_AUTH", 16405: "AUTH_FOLLOWS", 16406: "REDIR_SUP",
	16407: "REDIR", 16408: "REDIR_FROM", 16409: "TKT_LT_OPAK", 16410: "TKT_REQ", 16411: "TKT_ACK",
	16412: "TKT_NACK", 16413: "TKT_OPAK", 16414: "LINK_ID", 16415: "WESP_MODE", 16416: "ROHC_SUP",
	16417: "EAP_ONLY", 16418: "CHDLESS_SUP", 16419: "CRASH_DET", 16420: "MSG_ID_SYN_SUP",
	16421: "RPL_CTR_SYN_SUP", 16422: "MSG_ID_SYN", 16423: "RPL_CTR_SYN", 16424: "SEC_PASSWD",
	16425: "PSK_PST", 16426: "PSK_CFM", 16427: "ERX_SUP", 16428: "IFOM_CAP", 16429: "SENDER_REQ_ID",
	16430: "FRAG_SUP", 16431: "HASH_ALG", 16435: "USE_PPK", 16436: "PPK_ID", 16437: "NO_PPK",
	16438: "IKE_INT_SUP", 16441: "ADD_KE", 16442: "AGGFRAG", 16444: "RES_INFO",
}

// strongSwan's short configuration attribute names (libcharon attributes.c).
var cpAttrShort = map[CPAttrType]string{
	1: "ADDR", 2: "MASK", 3: "DNS", 4: "NBNS", 5: "EXP", 6: "DHCP", 7: "VER", 8: "ADDR6", 9: "MASK6",
	10: "DNS6", 11: "NBNS6", 12: "DHCP6", 13: "SUBNET", 14: "SUP", 15: "SUBNET6", 16: "MIP6HPFX",
	17: "LINK6", 18: "PFX6", 19: "HOA", 20: "PCSCF4", 21: "PCSCF6", 22: "FTTKAT", 23: "EXTSRC4",
	24: "DPD", 25: "DOMAIN", 26: "TA", 23456: "SRV", 23457: "SRV6",
}

var eapCodeShort = map[byte]string{1: "REQ", 2: "RES", 3: "SUCC", 4: "FAIL"}

var eapTypeShort = map[byte]string{
	1: "ID", 2: "NTF", 3: "NAK", 4: "MD5", 5: "OTP", 6: "GTC", 13: "TLS", 18: "SIM", 21: "TTLS",
	23: "AKA", 25: "PEAP", 26: "MSCHAPV2", 33: "MSTLV", 38: "TNC", 54: "PT", 254: "EXP", 255: "XP",
}

// Summary returns the one-line description strongSwan logs for a message:
//
//	IKE_AUTH request 1 [ IDi CERTREQ N(INIT_CONTACT) IDr AUTH CPRQ(ADDR DNS) SA TSi TSr ]
//
// An SK payload is shown as its inner payloads (as charon does after
// decryption, and when generating); one still encrypted shows as E, a fragment as EF(n/total).
func (m *Message) Summary() string {
	var sb strings.Builder
	sb.WriteString(m.Header.Exchange.String())
	if m.Header.IsResponse() {
		sb.WriteString(" response ")
	} else {
		sb.WriteString(" request ")
	}
	sb.WriteString(strconv.FormatUint(uint64(m.Header.MessageID), 10))
	sb.WriteString(" [")
	summarize(&sb, m.Payloads)
	sb.WriteString(" ]")
	return sb.String()
}

func summarize(sb *strings.Builder, ps []Payload) {
	for _, p := range ps {
		if sk, ok := p.(*SK); ok && !sk.Encrypted() {
			summarize(sb, sk.Payloads)
			continue
		}
		sb.WriteByte(' ')
		t := p.PayloadType()
		if s, ok := payloadShort[t]; ok {
			sb.WriteString(s)
		} else {
			sb.WriteString("UNKN(" + strconv.Itoa(int(t)) + ")")
		}
		switch p := p.(type) {
		case *Notify:
			sb.WriteByte('(')
			if s, ok := notifyShort[p.Type]; ok {
				sb.WriteString(s)
			} else {
				sb.WriteString(strconv.Itoa(int(p.Type)))
			}
			if p.Type == MS_STATUS && len(p.Data) == 4 {
				sb.WriteString("(" + strconv.Itoa(int(int32(binary.BigEndian.Uint32(p.Data)))) + ")")
			}
			sb.WriteByte(')')
		case *EAP:
			if len(p.Data) >= 1 {
				sb.WriteByte('/')
				if s, ok := eapCodeShort[p.Data[0]]; ok {
					sb.WriteString(s)
				} else {
					sb.WriteString(strconv.Itoa(int(p.Data[0])))
				}
				if len(p.Data) >= 5 && (p.Data[0] == 1 || p.Data[0] == 2) {
					sb.WriteByte('/')
					if s, ok := eapTypeShort[p.Data[4]]; ok {
						sb.WriteString(s)
					} else {
						sb.WriteString(strconv.Itoa(int(p.Data[4])))
					}
				}
			}
		case *CP:
			switch p.Type {
			case CFG_REQUEST:
				sb.WriteString("RQ")
			case CFG_REPLY:
				sb.WriteString("RP")
			case CFG_SET:
				sb.WriteString("S")
			case CFG_ACK:
				sb.WriteString("A")
			}
			for i, a := range p.Attributes {
				if i == 0 {
					sb.WriteByte('(')
				} else {
					sb.WriteByte(' ')
				}
				if s, ok := cpAttrShort[a.Type]; ok {
					sb.WriteString(s)
				} else {
					sb.WriteString(strconv.Itoa(int(a.Type)))
				}
			}
			if len(p.Attributes) > 0 {
				sb.WriteByte(')')
			}
		case *SKF:
			sb.WriteString("(" + strconv.Itoa(int(p.Number)) + "/" + strconv.Itoa(int(p.Total)) + ")")
		}
	}
}
