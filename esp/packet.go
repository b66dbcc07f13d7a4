package esp

import (
	"encoding/binary"
	"math/rand/v2"

	"github.com/goipsec/ipsec/internal/alg"
)

// ESP framing (RFC 4303 section 2):
//
//	SPI(4) | Sequence Number(4) | IV | payload | TFC pad | Padding | Pad Length(1) | Next Header(1) | ICV
//
// Everything from the IV to the Next Header is what the Crypter encrypts;
// seal and open work in place in the caller's buffer, which has headroom
// for the header and IV in front of the payload and tailroom for padding
// and ICV behind it, so that a packet is never copied.
const (
	espHeaderLen = 8 // SPI + sequence number
	// maxIVLen and maxICVLen bound the per-packet overhead of every
	// transform we support (AES-CBC IV 16; HMAC-SHA2-512-256 ICV 32).
	maxIVLen  = 16
	maxICVLen = 32
	// maxAlign is the largest block size padding aligns to (AES, 16).
	maxAlign = 16
	// Headroom is the space a buffer handed to seal needs in front of the
	// inner packet; Tailroom is what it needs behind it.
	Headroom = 64
	Tailroom = maxAlign + 2 + maxICVLen + 14 // rounded to 64
)

// IP protocol numbers used as ESP next header values.
const (
	protoIPv4   = 4
	protoTCP    = 6
	protoUDP    = 17
	protoIPv6   = 41
	protoICMPv6 = 58
	protoNoNext = 59 // RFC 4303 section 2.6: dummy packet, discard
	protoICMP   = 1
)

// suite is an SA's keyed Crypter with its framing parameters cached, so
// the per-packet path makes no interface calls for them.
type suite struct {
	c      alg.Crypter
	ivLen  int
	icvLen int
	align  int  // padding alignment: max(4, block size) (RFC 4303 section 2.4)
	aead   bool // ESN AAD layout differs (RFC 4106 section 5)
	seqIV  bool // counter-mode IV: the sequence number is a unique IV (RFC 4106 section 3.1)
}

func newSuite(c alg.Crypter) suite {
	s := suite{c: c, ivLen: c.IVLen(), icvLen: c.ICVLen(), align: c.BlockLen(), aead: c.AEAD()}
	if s.align < 4 {
		s.align = 4
	}
	// CBC needs an unpredictable IV (RFC 3602 section 2.3); counter-based
	// modes (CTR, GCM, CCM, ChaCha20-Poly1305, GMAC) only a unique one.
	s.seqIV = c.BlockLen() <= 1 && s.ivLen == 8
	return s
}

// padLen is the number of padding bytes for an inner payload of n bytes.
func (s *suite) padLen(n int) int {
	r := (n + 2) % s.align
	if r == 0 {
		return 0
	}
	return s.align - r
}

// scratch is per-goroutine state for seal and open: AAD assembly for ESN
// and the IV generator. Passing slices of it to the Crypter interface does
// not allocate because it lives on the heap already.
type scratch struct {
	aad [12]byte
	hi  [4]byte
	rng *rand.ChaCha8
}

func newScratch() *scratch {
	var seed [32]byte
	fillRandom(seed[:])
	return &scratch{rng: rand.NewChaCha8(seed)}
}

// seal turns buf[hdr : hdr+n], where hdr = off-espHeaderLen-ivLen, into
// an ESP packet in place and returns it: buf[hdr : hdr+sealedLen(n)].
// The payload starts at buf[off]; cap(buf) must leave room for padding
// and ICV. A nil iv means "generate one" (the sequence number for counter
// modes, random for CBC); tests pass recorded IVs to reproduce packets.
func (s *suite) seal(sc *scratch, buf []byte, off, n int, nh byte, spi uint32, seq uint64, esn bool, iv []byte) ([]byte, error) {
	hdr := off - espHeaderLen - s.ivLen
	pad := s.padLen(n)
	end := off + n + pad + 2
	if hdr < 0 || end+s.icvLen > cap(buf) {
		return nil, ErrNoHeadroom
	}
	buf = buf[:end+s.icvLen]
	binary.BigEndian.PutUint32(buf[hdr:], spi)
	binary.BigEndian.PutUint32(buf[hdr+4:], uint32(seq))
	ivb := buf[hdr+espHeaderLen : off]
	switch {
	case iv != nil:
		copy(ivb, iv)
	case s.seqIV:
		binary.BigEndian.PutUint64(ivb, seq)
	default:
		for i := 0; i < len(ivb); i += 8 {
			var x [8]byte
			binary.LittleEndian.PutUint64(x[:], sc.rng.Uint64())
			copy(ivb[i:], x[:])
		}
	}
	// Padding 1, 2, 3, ... (RFC 4303 section 2.4), then pad length and next header.
	t := buf[off+n : end]
	for i := range pad {
		t[i] = byte(i + 1)
	}
	t[pad] = byte(pad)
	t[pad+1] = nh
	aad, suffix := s.aad(sc, buf[hdr:hdr+espHeaderLen], seq, esn)
	s.c.Seal(buf[off:off], ivb, buf[off:end], aad, suffix)
	return buf[hdr : end+s.icvLen], nil
}

// aad returns the additional authenticated data and ICV suffix for the
// header spiSeq (SPI and low sequence number as on the wire). Without ESN
// that is the header itself; with ESN, AEADs authenticate SPI||seq-hi||
// seq-lo (RFC 4106 section 5, RFC 4543 section 5, RFC 7634 section 2.1)
// while separate integrity appends seq-hi after the payload (RFC 4303
// section 2.2.1).
func (s *suite) aad(sc *scratch, spiSeq []byte, seq uint64, esn bool) (aad, suffix []byte) {
	if !esn {
		return spiSeq, nil
	}
	if s.aead {
		copy(sc.aad[:4], spiSeq[:4])
		binary.BigEndian.PutUint32(sc.aad[4:], uint32(seq>>32))
		copy(sc.aad[8:], spiSeq[4:8])
		return sc.aad[:], nil
	}
	binary.BigEndian.PutUint32(sc.hi[:], uint32(seq>>32))
	return spiSeq, sc.hi[:]
}

// open authenticates and decrypts the ESP packet pkt (starting at the SPI)
// in place, using seq as the full (ESN-inferred) sequence number. It
// returns the payload (inner packet including any TFC padding) and the
// next header value; the payload aliases pkt.
func (s *suite) open(sc *scratch, pkt []byte, seq uint64, esn bool) ([]byte, byte, error) {
	body := espHeaderLen + s.ivLen
	if len(pkt) < body+2+s.icvLen {
		return nil, 0, ErrTruncated
	}
	if s.align > 4 && (len(pkt)-body-s.icvLen)%s.align != 0 {
		return nil, 0, ErrTruncated // a block cipher cannot have produced it
	}
	aad, suffix := s.aad(sc, pkt[:espHeaderLen], seq, esn)
	pt, err := s.c.Open(pkt[body:body], pkt[espHeaderLen:body], pkt[body:], aad, suffix)
	if err != nil {
		return nil, 0, ErrAuth
	}
	padLen := int(pt[len(pt)-2])
	nh := pt[len(pt)-1]
	if padLen+2 > len(pt) {
		return nil, 0, ErrPadding
	}
	return pt[:len(pt)-2-padLen], nh, nil
}
