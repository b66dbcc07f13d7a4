package xfrm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"time"

	"github.com/goipsec/ipsec/esp"
)

// This file encodes and decodes the XFRM netlink structures of
// include/uapi/linux/xfrm.h by hand. The layouts are fixed kernel ABI;
// integers are in host byte order except SPIs and ports, which are in
// network order. Doing it here rather than through the unsafe casts of
// vishvananda/netlink/nl lets a fuzz target and host tests cover it, and
// gives access to attributes the library does not handle
// (XFRMA_REPLAY_ESN_VAL without ESN for large windows, XFRM_MSG_NEWAE).

// errMessage reports a malformed message from the kernel.
var errMessage = errors.New("xfrm: malformed netlink message")

var he = binary.NativeEndian

// Netlink message types (XFRM_MSG_*).
const (
	msgNewSA   = 0x10
	msgDelSA   = 0x11
	msgGetSA   = 0x12
	msgAcquire = 0x17
	msgExpire  = 0x18
	msgUpdSA   = 0x1a
	msgNewAE   = 0x1e
)

// Attribute types (XFRMA_*).
const (
	attrAlgAuth      = 1
	attrAlgCrypt     = 2
	attrEncap        = 4
	attrTmpl         = 5
	attrLtimeVal     = 9
	attrReplayVal    = 10
	attrSrcAddr      = 13
	attrAlgAEAD      = 18
	attrAlgAuthTrunc = 20
	attrMark         = 21
	attrReplayESNVal = 23
	attrIfID         = 31
)

// Structure sizes and the offsets of the fields this package reads.
const (
	sizeofSelector     = 56
	sizeofUsersaInfo   = 224
	sizeofUsersaID     = 24
	sizeofUserExpire   = sizeofUsersaInfo + 8
	sizeofUserAcquire  = 280
	sizeofAeventID     = 48
	sizeofLifetimeCur  = 32
	sizeofEncapTmpl    = 24
	sizeofReplayESNHdr = 24
	sizeofReplay       = 12

	offInfoID       = 56
	offInfoSaddr    = 80
	offInfoLft      = 96
	offInfoCurlft   = 160
	offInfoStats    = 192
	offInfoReqID    = 208
	offInfoFamily   = 212
	offInfoMode     = 214
	offInfoWindow   = 215
	offInfoFlags    = 216
	offAcqSel       = 40
	offAcqPolicy    = 96
	offAcqPolicyDir = offAcqPolicy + 160
)

// Constants of the XFRM ABI.
const (
	afInet       = 2
	afInet6      = 10
	protoESP     = 50
	stateFlagESN = 128 // XFRM_STATE_ESN
	// stateFlagAFUnspec keeps a tunnel state's selector family AF_UNSPEC;
	// without it the kernel sets it to the outer family and the state
	// refuses inner packets of the other family (IPv6 in IPv4).
	stateFlagAFUnspec = 32
	udpEncapESPInUDP  = 2 // UDP_ENCAP_ESPINUDP (RFC 3948)
	xfrmInf           = math.MaxUint64
	// maxReplayWindow is the largest window XFRM accepts:
	// XFRMA_REPLAY_ESN_MAX (4096) bytes of bitmap budget divided as in
	// verify_replay, i.e. 128 32-bit words.
	maxReplayWindow = 4096
	// legacyReplayWindow is the largest window of the 32-bit bitmap in
	// struct xfrm_replay_state; larger ones need XFRMA_REPLAY_ESN_VAL.
	legacyReplayWindow = 32
)

func family(a netip.Addr) uint16 {
	if a.Unmap().Is4() {
		return afInet
	}
	return afInet6
}

// putAddr writes a as an xfrm_address_t (IPv4 in the first 4 bytes).
func putAddr(b []byte, a netip.Addr) {
	clear(b[:16])
	a = a.Unmap()
	if a.Is4() {
		v := a.As4()
		copy(b, v[:])
	} else if a.Is6() {
		v := a.As16()
		copy(b, v[:])
	}
}

func getAddr(b []byte, fam uint16) netip.Addr {
	if fam == afInet {
		return netip.AddrFrom4([4]byte(b[:4]))
	}
	return netip.AddrFrom16([16]byte(b[:16]))
}

// appendAttr appends one netlink attribute, padded to 4 bytes.
func appendAttr(b []byte, typ uint16, data []byte) []byte {
	n := 4 + len(data)
	b = he.AppendUint16(b, uint16(n))
	b = he.AppendUint16(b, typ)
	b = append(b, data...)
	for n%4 != 0 {
		b = append(b, 0)
		n++
	}
	return b
}

func u32(v uint32) []byte { return he.AppendUint32(nil, v) }

// putSelector encodes k into a struct xfrm_selector.
func putSelector(b []byte, k *kselector) {
	putAddr(b[0:], k.dst.Addr())
	putAddr(b[16:], k.src.Addr())
	binary.BigEndian.PutUint16(b[32:], k.dstPort)
	if k.dstPort != 0 {
		b[34], b[35] = 0xff, 0xff
	}
	binary.BigEndian.PutUint16(b[36:], k.srcPort)
	if k.srcPort != 0 {
		b[38], b[39] = 0xff, 0xff
	}
	he.PutUint16(b[40:], family(k.dst.Addr()))
	b[42] = uint8(k.dst.Bits())
	b[43] = uint8(k.src.Bits())
	b[44] = k.proto
}

// getSelector decodes a struct xfrm_selector (56 bytes).
func getSelector(b []byte) (kselector, error) {
	var k kselector
	fam := he.Uint16(b[40:])
	if fam != afInet && fam != afInet6 {
		return k, fmt.Errorf("%w: selector family %d", errMessage, fam)
	}
	d, s := getAddr(b[0:], fam), getAddr(b[16:], fam)
	var err error
	if k.dst, err = d.Prefix(int(b[42])); err != nil {
		return k, fmt.Errorf("%w: selector prefix length %d", errMessage, b[42])
	}
	if k.src, err = s.Prefix(int(b[43])); err != nil {
		return k, fmt.Errorf("%w: selector prefix length %d", errMessage, b[43])
	}
	if binary.BigEndian.Uint16(b[34:]) != 0 {
		k.dstPort = binary.BigEndian.Uint16(b[32:])
	}
	if binary.BigEndian.Uint16(b[38:]) != 0 {
		k.srcPort = binary.BigEndian.Uint16(b[36:])
	}
	k.proto = b[44]
	return k, nil
}

func ceilSeconds(d time.Duration) uint64 {
	if d <= 0 {
		return 0
	}
	return uint64((d + time.Second - 1) / time.Second)
}

func limit(v uint64) uint64 {
	if v == 0 {
		return xfrmInf
	}
	return v
}

// replayWindow resolves esp.SA.ReplayWindow: 0 is the default, negative
// disables the check.
func replayWindow(sa *esp.SA) (int, error) {
	w := sa.ReplayWindow
	switch {
	case w == 0:
		w = esp.DefaultReplayWindow
	case w < 0:
		w = 0
	}
	if w > maxReplayWindow {
		return 0, fmt.Errorf("xfrm: SA 0x%08x: replay window %d above the kernel's maximum of %d", sa.SPI, w, maxReplayWindow)
	}
	return w, nil
}

// stateTags are the ownership tags added to every state.
type stateTags struct {
	ifID                uint32
	markValue, markMask uint32
}

func (t *stateTags) append(b []byte) []byte {
	if t.markMask != 0 {
		m := he.AppendUint32(nil, t.markValue)
		b = appendAttr(b, attrMark, he.AppendUint32(m, t.markMask))
	}
	if t.ifID != 0 {
		b = appendAttr(b, attrIfID, u32(t.ifID))
	}
	return b
}

// encodeState builds the payload of XFRM_MSG_NEWSA / XFRM_MSG_UPDSA for sa:
// struct xfrm_usersa_info followed by the algorithm, encapsulation,
// replay, mark and interface attributes.
func encodeState(sa *esp.SA, algs []kernelAlg, tags *stateTags) ([]byte, error) {
	window, err := replayWindow(sa)
	if err != nil {
		return nil, err
	}
	b := make([]byte, sizeofUsersaInfo, sizeofUsersaInfo+512)
	fam := family(sa.Dst.Addr())
	if sa.Mode == esp.ModeTransport {
		// Transport mode needs a selector family (any address); tunnel
		// mode leaves it AF_UNSPEC so either inner family may use the SA.
		he.PutUint16(b[40:], fam)
	}
	putAddr(b[offInfoID:], sa.Dst.Addr())
	binary.BigEndian.PutUint32(b[offInfoID+16:], sa.SPI)
	b[offInfoID+20] = protoESP
	putAddr(b[offInfoSaddr:], sa.Src.Addr())
	lft := b[offInfoLft:]
	he.PutUint64(lft[0:], limit(sa.Lifetime.Soft.Bytes))
	he.PutUint64(lft[8:], limit(sa.Lifetime.Hard.Bytes))
	he.PutUint64(lft[16:], limit(sa.Lifetime.Soft.Packets))
	he.PutUint64(lft[24:], limit(sa.Lifetime.Hard.Packets))
	he.PutUint64(lft[32:], ceilSeconds(sa.Lifetime.Soft.Time))
	he.PutUint64(lft[40:], ceilSeconds(sa.Lifetime.Hard.Time))
	he.PutUint32(b[offInfoReqID:], sa.ReqID)
	he.PutUint16(b[offInfoFamily:], fam)
	if sa.Mode == esp.ModeTransport {
		b[offInfoMode] = 0 // XFRM_MODE_TRANSPORT
	} else {
		b[offInfoMode] = 1 // XFRM_MODE_TUNNEL
	}
	useESNAttr := sa.ESN || window > legacyReplayWindow
	if !useESNAttr {
		b[offInfoWindow] = uint8(window)
	}
	if sa.ESN {
		b[offInfoFlags] |= stateFlagESN
	}
	if sa.Mode == esp.ModeTunnel {
		b[offInfoFlags] |= stateFlagAFUnspec
	}
	for _, a := range algs {
		name := make([]byte, 64)
		copy(name, a.name)
		d := he.AppendUint32(name, uint32(8*len(a.key)))
		switch a.kind {
		case kindAEAD:
			d = he.AppendUint32(d, uint32(a.bits))
			b = appendAttr(b, attrAlgAEAD, append(d, a.key...))
		case kindCrypt:
			b = appendAttr(b, attrAlgCrypt, append(d, a.key...))
		case kindAuth:
			d = he.AppendUint32(d, uint32(a.bits))
			b = appendAttr(b, attrAlgAuthTrunc, append(d, a.key...))
		}
		clear(d) // the key copy in d is not needed any more
	}
	if sa.UDPEncap() {
		e := make([]byte, sizeofEncapTmpl)
		he.PutUint16(e[0:], udpEncapESPInUDP)
		binary.BigEndian.PutUint16(e[2:], sa.Src.Port())
		binary.BigEndian.PutUint16(e[4:], sa.Dst.Port())
		b = appendAttr(b, attrEncap, e)
	}
	if useESNAttr {
		words := (window + 31) / 32
		r := make([]byte, sizeofReplayESNHdr+4*words)
		he.PutUint32(r[0:], uint32(words))
		he.PutUint32(r[20:], uint32(window))
		b = appendAttr(b, attrReplayESNVal, r)
	}
	return tags.append(b), nil
}

// encodeSAID builds struct xfrm_usersa_id (GETSA, DELSA).
func encodeSAID(dst netip.Addr, spi uint32, tags *stateTags) []byte {
	b := make([]byte, sizeofUsersaID, sizeofUsersaID+32)
	putAddr(b, dst)
	binary.BigEndian.PutUint32(b[16:], spi)
	he.PutUint16(b[20:], family(dst))
	b[22] = protoESP
	return tags.append(b)
}

// encodeNewAE builds XFRM_MSG_NEWAE setting the replay state and current
// lifetime (counters, add time) of an SA, copied from another.
func encodeNewAE(dst, src netip.Addr, spi, reqid uint32, tags *stateTags, st *saInfo) []byte {
	b := make([]byte, sizeofAeventID, sizeofAeventID+600)
	putAddr(b, dst)
	binary.BigEndian.PutUint32(b[16:], spi)
	he.PutUint16(b[20:], family(dst))
	b[22] = protoESP
	putAddr(b[24:], src)
	he.PutUint32(b[44:], reqid)
	if st.replayESN != nil {
		b = appendAttr(b, attrReplayESNVal, st.replayESN)
	} else if st.replay != nil {
		b = appendAttr(b, attrReplayVal, st.replay)
	}
	b = appendAttr(b, attrLtimeVal, st.curlft[:])
	return tags.append(b)
}

// saInfo is what this package reads from a struct xfrm_usersa_info and
// its attributes.
type saInfo struct {
	dst, src                  netip.Addr
	spi                       uint32
	reqid                     uint32
	ifID                      uint32
	markValue                 uint32
	markMask                  uint32
	hasMark                   bool
	bytes                     uint64
	packets                   uint64
	addTime                   uint64
	useTime                   uint64
	replayFail, integrityFail uint32
	curlft                    [sizeofLifetimeCur]byte
	// raw replay attributes, kept to copy them to a replacement state
	replayESN []byte
	replay    []byte
	esn       bool
	oseq, seq uint64
}

// parseAttrs walks netlink attributes and calls f for each.
func parseAttrs(b []byte, f func(typ uint16, data []byte)) error {
	for len(b) > 0 {
		if len(b) < 4 {
			return fmt.Errorf("%w: truncated attribute header", errMessage)
		}
		n := int(he.Uint16(b))
		if n < 4 || n > len(b) {
			return fmt.Errorf("%w: attribute length %d", errMessage, n)
		}
		f(he.Uint16(b[2:])&0x3fff, b[4:n])
		n = (n + 3) &^ 3
		if n > len(b) {
			n = len(b)
		}
		b = b[n:]
	}
	return nil
}

// parseSAInfo decodes struct xfrm_usersa_info plus attributes (the body
// of XFRM_MSG_NEWSA replies; the attributes start at attrOff).
func parseSAInfo(b []byte, attrOff int) (*saInfo, error) {
	if len(b) < sizeofUsersaInfo || attrOff > len(b) {
		return nil, fmt.Errorf("%w: %d-byte SA info", errMessage, len(b))
	}
	fam := he.Uint16(b[offInfoFamily:])
	if fam != afInet && fam != afInet6 {
		return nil, fmt.Errorf("%w: SA family %d", errMessage, fam)
	}
	st := &saInfo{
		dst:           getAddr(b[offInfoID:], fam),
		spi:           binary.BigEndian.Uint32(b[offInfoID+16:]),
		src:           getAddr(b[offInfoSaddr:], fam),
		reqid:         he.Uint32(b[offInfoReqID:]),
		bytes:         he.Uint64(b[offInfoCurlft:]),
		packets:       he.Uint64(b[offInfoCurlft+8:]),
		addTime:       he.Uint64(b[offInfoCurlft+16:]),
		useTime:       he.Uint64(b[offInfoCurlft+24:]),
		replayFail:    he.Uint32(b[offInfoStats+4:]),
		integrityFail: he.Uint32(b[offInfoStats+8:]),
		esn:           b[offInfoFlags]&stateFlagESN != 0,
	}
	copy(st.curlft[:], b[offInfoCurlft:])
	err := parseAttrs(b[attrOff:], func(typ uint16, d []byte) {
		switch typ {
		case attrReplayESNVal:
			if len(d) >= sizeofReplayESNHdr {
				st.replayESN = append([]byte(nil), d...)
				st.oseq = uint64(he.Uint32(d[4:])) | uint64(he.Uint32(d[12:]))<<32
				st.seq = uint64(he.Uint32(d[8:])) | uint64(he.Uint32(d[16:]))<<32
			}
		case attrReplayVal:
			if len(d) >= sizeofReplay && st.replayESN == nil {
				st.replay = append([]byte(nil), d[:sizeofReplay]...)
				st.oseq = uint64(he.Uint32(d[0:]))
				st.seq = uint64(he.Uint32(d[4:]))
			}
		case attrIfID:
			if len(d) >= 4 {
				st.ifID = he.Uint32(d)
			}
		case attrMark:
			if len(d) >= 8 {
				st.markValue, st.markMask, st.hasMark = he.Uint32(d), he.Uint32(d[4:]), true
			}
		}
	})
	if err != nil {
		return nil, err
	}
	return st, nil
}

// expireMsg is a decoded XFRM_MSG_EXPIRE.
type expireMsg struct {
	sa   *saInfo
	hard bool
}

func parseExpire(b []byte) (*expireMsg, error) {
	if len(b) < sizeofUserExpire {
		return nil, fmt.Errorf("%w: %d-byte expire", errMessage, len(b))
	}
	st, err := parseSAInfo(b, sizeofUserExpire)
	if err != nil {
		return nil, err
	}
	return &expireMsg{sa: st, hard: b[sizeofUsersaInfo] != 0}, nil
}

// acquireMsg is a decoded XFRM_MSG_ACQUIRE.
type acquireMsg struct {
	packet    kselector // the flow that triggered it
	policy    kselector // the selector of the policy it matched
	policyDir uint8
	ifID      uint32
	markValue uint32
	hasMark   bool
}

func parseAcquire(b []byte) (*acquireMsg, error) {
	if len(b) < sizeofUserAcquire {
		return nil, fmt.Errorf("%w: %d-byte acquire", errMessage, len(b))
	}
	m := &acquireMsg{policyDir: b[offAcqPolicyDir]}
	var err error
	if m.packet, err = getSelector(b[offAcqSel:]); err != nil {
		return nil, err
	}
	if m.policy, err = getSelector(b[offAcqPolicy:]); err != nil {
		return nil, err
	}
	err = parseAttrs(b[sizeofUserAcquire:], func(typ uint16, d []byte) {
		switch typ {
		case attrIfID:
			if len(d) >= 4 {
				m.ifID = he.Uint32(d)
			}
		case attrMark:
			if len(d) >= 8 {
				m.markValue, m.hasMark = he.Uint32(d), true
			}
		}
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

// sizeofUserpolicyInfo is the size of struct xfrm_userpolicy_info.
const sizeofUserpolicyInfo = 168

// bypassPolicy encodes a struct xfrm_userpolicy_info for a per-socket
// policy (IP_XFRM_POLICY) in direction dir that allows everything without
// transformation: a selector of family fam matching all (the kernel
// insists on a family; a zero-length prefix also matches the IPv4 traffic
// of a dual-stack IPv6 socket), action XFRM_POLICY_ALLOW, no templates,
// infinite lifetime.
func bypassPolicy(dir uint8, fam uint16) []byte {
	b := make([]byte, sizeofUserpolicyInfo)
	he.PutUint16(b[40:], fam)
	lft := b[sizeofSelector:]
	for i := range 4 { // soft/hard byte and packet limits
		he.PutUint64(lft[8*i:], xfrmInf)
	}
	b[sizeofSelector+64+32+8] = dir
	return b
}
