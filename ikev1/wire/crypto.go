package wire

import (
	"crypto/cipher"
	"encoding/binary"
	"errors"
	"hash"
	"strconv"
)

// MaxExchangeIVs bounds the number of message IDs (Quick Mode,
// Informational and Transaction exchanges) whose IV a Crypto keeps; the
// least recently confirmed is dropped beyond it.
const MaxExchangeIVs = 16

// ErrDecrypt is wrapped by the errors of Crypto.Open: a body that is not
// a whole number of cipher blocks, or a message without the E flag.
// Whether the key or IV was wrong shows only when the plaintext's HASH is
// checked, which is the engine's job (RFC 2409 section 5).
var ErrDecrypt = errors.New("ikev1/wire: cannot decrypt message")

// Crypto encrypts and decrypts the bodies of IKEv1 messages under the
// ISAKMP SA's key with the IVs of RFC 2409 section 5 and Appendix B:
//
//   - phase 1 (message ID 0) starts with hash(g^xi | g^xr) truncated to the
//     block size, and each message's IV is the last ciphertext block of
//     the previous phase 1 message;
//   - each exchange with a non-zero message ID starts with
//     hash(last phase 1 CBC output block | message ID) truncated, and chains
//     through that exchange's messages the same way.
//
// The body is CBC-encrypted after the header, zero-padded to the block
// size; there is no MAC (the HASH payloads protect integrity). A received
// message moves its exchange's IV forward only when the engine calls the
// confirm function Open returns, after the message's HASH verified, so a
// forged, corrupted or replayed message cannot break the chain (strongSwan
// iv_manager behaves the same). Retransmitted messages must therefore be
// recognised before Open (by their bytes), as their IV has moved on.
//
// A Crypto is not safe for concurrent use; the engine holds it under the
// ISAKMP SA's lock. It keeps keys in its cipher.Block only and never
// prints them.
type Crypto struct {
	block   cipher.Block
	newHash func() hash.Hash
	bs      int
	p1      []byte // current phase 1 IV (message ID 0)
	ivs     []exIV // exchanges with a non-zero message ID, most recent first
}

type exIV struct {
	mid uint32
	iv  []byte
}

// NewCrypto returns a Crypto for an ISAKMP SA whose phase 1 cipher is
// block (keyed with the encryption key derived from SKEYID_e) and whose
// negotiated hash is newHash; gxi and gxr are the initiator's and the
// responder's public Diffie-Hellman values as sent in the KE payloads.
func NewCrypto(block cipher.Block, newHash func() hash.Hash, gxi, gxr []byte) *Crypto {
	c := &Crypto{block: block, newHash: newHash, bs: block.BlockSize()}
	h := newHash()
	h.Write(gxi)
	h.Write(gxr)
	c.p1 = truncIV(h.Sum(nil), c.bs)
	return c
}

// truncIV returns sum truncated to bs bytes; a hash shorter than the block
// size is zero-extended (no negotiable hash is shorter than a cipher
// block, so this only keeps hostile configurations from panicking).
func truncIV(sum []byte, bs int) []byte {
	iv := make([]byte, bs)
	copy(iv, sum)
	return iv
}

// BlockSize returns the cipher's block size.
func (c *Crypto) BlockSize() int { return c.bs }

// IV returns a copy of the IV the next message of exchange mid would use,
// for logging-free diagnostics and tests; it changes no state.
func (c *Crypto) IV(mid uint32) []byte {
	return append([]byte(nil), c.currentIV(mid)...)
}

// currentIV returns the IV for mid without creating state for it.
func (c *Crypto) currentIV(mid uint32) []byte {
	if mid == 0 {
		return c.p1
	}
	for _, e := range c.ivs {
		if e.mid == mid {
			return e.iv
		}
	}
	h := c.newHash()
	h.Write(c.p1)
	var m [4]byte
	binary.BigEndian.PutUint32(m[:], mid)
	h.Write(m[:])
	return truncIV(h.Sum(nil), c.bs)
}

// advance makes last the IV of exchange mid, creating its state (most
// recent first, the oldest dropped beyond MaxExchangeIVs).
func (c *Crypto) advance(mid uint32, last []byte) {
	if mid == 0 {
		c.p1 = last
		return
	}
	for i, e := range c.ivs {
		if e.mid == mid {
			copy(c.ivs[1:i+1], c.ivs[:i])
			c.ivs[0] = exIV{mid: mid, iv: last}
			return
		}
	}
	if len(c.ivs) >= MaxExchangeIVs {
		c.ivs = c.ivs[:MaxExchangeIVs-1]
	}
	c.ivs = append(c.ivs, exIV{})
	copy(c.ivs[1:], c.ivs)
	c.ivs[0] = exIV{mid: mid, iv: last}
}

// Forget drops the IV state of exchange mid (the exchange is complete or
// abandoned). Forgetting message ID 0 does nothing: the phase 1 IV seeds
// every later exchange.
func (c *Crypto) Forget(mid uint32) {
	for i, e := range c.ivs {
		if e.mid == mid {
			c.ivs = append(c.ivs[:i], c.ivs[i+1:]...)
			return
		}
	}
}

// Seal encrypts plainMsg, an unencrypted message as Message.Append
// produces it (header and plaintext payloads), and appends the result to
// dst: the header with FlagEncryption set and Length updated, then the
// body zero-padded to the block size (1 to BlockSize bytes of padding, as
// strongSwan sends) and CBC-encrypted with the IV of the message's
// exchange. The IV of that exchange moves forward at once: a sent message
// is final (retransmissions resend its bytes). dst and plainMsg must not
// overlap.
func (c *Crypto) Seal(dst, plainMsg []byte) ([]byte, error) {
	h, err := ParseHeader(plainMsg)
	if err != nil {
		return dst, err
	}
	body := plainMsg[HeaderLen:]
	pad := c.bs - len(body)%c.bs
	total := HeaderLen + len(body) + pad
	if total > 65535 {
		return dst, &EncodeError{Payload: h.Next, Reason: "encrypted message of " + strconv.Itoa(total) + " bytes exceeds 65535"}
	}
	start := len(dst)
	dst = append(dst, plainMsg[:HeaderLen]...)
	dst[start+19] |= byte(FlagEncryption)
	binary.BigEndian.PutUint32(dst[start+24:], uint32(total))
	dst = append(dst, body...)
	for range pad {
		dst = append(dst, 0)
	}
	ct := dst[start+HeaderLen:]
	cipher.NewCBCEncrypter(c.block, c.currentIV(h.MessageID)).CryptBlocks(ct, ct)
	c.advance(h.MessageID, append([]byte(nil), ct[len(ct)-c.bs:]...))
	return dst, nil
}

// Open decrypts the body of msg (parsed with the E flag set) with the IV
// of its exchange and returns the plaintext body, padding included, for
// ParsePayloads(msg.Next, body). The plaintext is a new buffer. confirm
// moves the exchange's IV forward to msg's last ciphertext block; call it
// only once the message's HASH verified (and the message is not a
// retransmission). Open itself changes no state.
func (c *Crypto) Open(msg *Message) (plaintextBody []byte, confirm func(), err error) {
	if !msg.IsEncrypted() || msg.Encrypted == nil {
		return nil, nil, &ParseError{Offset: 19, Reason: "message is not encrypted", Err: ErrDecrypt}
	}
	ct := msg.Encrypted
	if len(ct) == 0 || len(ct)%c.bs != 0 {
		return nil, nil, &ParseError{Offset: HeaderLen, Reason: "encrypted body of " + strconv.Itoa(len(ct)) + " bytes is not a multiple of the block size " + strconv.Itoa(c.bs), Err: ErrDecrypt}
	}
	pt := make([]byte, len(ct))
	cipher.NewCBCDecrypter(c.block, c.currentIV(msg.MessageID)).CryptBlocks(pt, ct)
	last := append([]byte(nil), ct[len(ct)-c.bs:]...)
	mid := msg.MessageID
	return pt, func() { c.advance(mid, last) }, nil
}
