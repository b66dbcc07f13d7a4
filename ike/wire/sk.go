package wire

import (
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/goipsec/ipsec/internal/isakmp"
)

// Crypter seals and opens SK payloads. It is the subset of
// internal/alg.Crypter the codec needs, so an alg.Crypter satisfies it
// as is, and the codec stays free of crypto imports (DESIGN.md section 1).
//
// For IKEv2 the codec passes aad = IKE header || SK (or SKF) payload header
// up to the IV, and an empty icvSuffix (RFC 7296 section 3.14, RFC 5282
// section 5.1, RFC 7383 section 2.5). Seal must be usable in place
// (dst = plaintext[:0]) like crypto/cipher.AEAD.
type Crypter interface {
	// IVLen returns the length of the IV in front of the ciphertext.
	IVLen() int
	// ICVLen returns the length of the integrity checksum after it.
	ICVLen() int
	// BlockLen returns the block size the plaintext is padded to.
	BlockLen() int
	// Seal appends the encryption of plaintext and its ICV over aad to dst.
	Seal(dst, iv, plaintext, aad, icvSuffix []byte) []byte
	// Open appends the decryption of ciphertextAndICV to dst after checking
	// its ICV over aad; it fails on a mismatch.
	Open(dst, iv, ciphertextAndICV, aad, icvSuffix []byte) ([]byte, error)
}

// SK is the Encrypted and Authenticated payload (RFC 7296 section 3.14).
//
// From Parse, FirstPayload and Body (IV || ciphertext || padding || ICV,
// aliasing the message) are set and Payloads is nil until Open. To send,
// set Payloads and call Message.AppendSealed, or Message.AppendFragments.
type SK struct {
	// FirstPayload is the type of the first inner payload.
	FirstPayload PayloadType
	// Body is IV || ciphertext || padding || ICV, from Parse.
	Body []byte
	// Payloads is the inner chain: set by Open, or by the sender before sealing.
	Payloads []Payload
	aad      []byte
	opened   bool
}

// Encrypted reports whether the payload holds ciphertext that has not been
// opened: it came from Parse and Open has not succeeded yet.
func (s *SK) Encrypted() bool { return s.Body != nil && !s.opened }

// PayloadType returns PayloadSK.
func (*SK) PayloadType() PayloadType { return PayloadSK }

// SKF is the Encrypted and Authenticated Fragment payload (RFC 7383
// section 2.5). FirstPayload is only set in fragment 1. Plaintext is set by
// Open: this fragment's share of the inner chain, to be given to a
// Reassembler.
type SKF struct {
	// Number is the fragment number, from 1.
	Number uint16
	// Total is the number of fragments of the message.
	Total uint16
	// FirstPayload is the type of the first inner payload (fragment 1 only).
	FirstPayload PayloadType
	// Body is IV || ciphertext || padding || ICV, from Parse.
	Body []byte
	// Plaintext is this fragment's decrypted share of the inner chain, set by Open.
	Plaintext []byte
	aad       []byte
}

// PayloadType returns PayloadSKF.
func (*SKF) PayloadType() PayloadType { return PayloadSKF }

// skfHeaderLen: generic header plus Fragment Number and Total Fragments.
const skfHeaderLen = 8

func decodeSKF(r *isakmp.Reader, gp isakmp.Payload, aad []byte) (*SKF, error) {
	num, _ := r.Uint16("fragment number")
	total, err := r.Uint16("total fragments")
	if err != nil {
		return nil, convertErr(err)
	}
	// RFC 7383 section 2.6: fragment numbers start at 1 and may not exceed
	// the total.
	if num == 0 || total == 0 || num > total {
		return nil, perr(gp.Offset+4, PayloadSKF, "fragment "+strconv.Itoa(int(num))+" of "+strconv.Itoa(int(total)))
	}
	return &SKF{Number: num, Total: total, FirstPayload: PayloadType(gp.Next), Body: r.Rest(), aad: aad}, nil
}

func appendSK(b *isakmp.Builder, p *SK) {
	if p.Body == nil {
		b.SetError(ErrNotSealed)
	}
	m := b.BeginPayload(uint8(PayloadSK), false)
	b.PatchUint8(m, uint8(p.FirstPayload))
	b.AddBytes(p.Body)
	b.EndPayload(m)
	b.BeginChain(-1)
}

func appendSKF(b *isakmp.Builder, p *SKF) {
	if p.Body == nil {
		b.SetError(ErrNotSealed)
	}
	m := b.BeginPayload(uint8(PayloadSKF), false)
	b.PatchUint8(m, uint8(p.FirstPayload))
	b.AddUint16(p.Number)
	b.AddUint16(p.Total)
	b.AddBytes(p.Body)
	b.EndPayload(m)
	b.BeginChain(-1)
}

// ErrNoSK is returned when a message to seal or open has no SK/SKF payload
// (as its last payload, where RFC 7296 section 3.14 puts it).
var ErrNoSK = errors.New("wire: message has no SK payload")

// lastSK returns the SK payload that ends ps, or nil.
func lastSK(ps []Payload) *SK {
	if len(ps) == 0 {
		return nil
	}
	sk, _ := ps[len(ps)-1].(*SK)
	return sk
}

// AppendSealed encodes m like Append, except that its last payload, an *SK,
// is built from SK.Payloads and encrypted with c under an IV read from
// rand. The inner chain is encoded directly into dst and encrypted in
// place, so with enough capacity in dst nothing is allocated (unless rand
// or c allocate). The SK payload's FirstPayload and Body are not modified.
func (m *Message) AppendSealed(dst []byte, c Crypter, rand io.Reader) ([]byte, error) {
	sk := lastSK(m.Payloads)
	if sk == nil {
		return dst, ErrNoSK
	}
	var b isakmp.Builder
	b.Reset(dst)
	beginMessage(&b, &m.Header)
	for _, p := range m.Payloads[:len(m.Payloads)-1] {
		if isEncrypted(p) {
			b.SetError(errEncode(p.PayloadType(), "encrypted payload must be the last one"))
		}
		appendPayload(&b, p)
	}
	mark := b.BeginPayload(uint8(PayloadSK), false)
	ivAt := b.Len()
	b.AddZeros(c.IVLen())
	b.BeginChain(mark)
	ptAt := b.Len()
	for _, p := range sk.Payloads {
		if isEncrypted(p) {
			b.SetError(errEncode(p.PayloadType(), "encrypted payload inside an encrypted payload"))
		}
		appendPayload(&b, p)
	}
	b.BeginChain(-1)
	if err := sealTail(&b, c, rand, mark, ivAt, ptAt, b.MessageStart(), mark+isakmp.GenericHeaderLen); err != nil {
		return dst, err
	}
	out, err := b.Bytes()
	if err != nil {
		return dst, err
	}
	return out, nil
}

// sealTail pads the plaintext at buf[ptAt:], reserves the ICV, patches the
// payload and message lengths, then encrypts in place. aad is
// buf[aadFrom:aadTo].
func sealTail(b *isakmp.Builder, c Crypter, rand io.Reader, mark, ivAt, ptAt, aadFrom, aadTo int) error {
	block := max(c.BlockLen(), 1)
	ptLen := b.Len() - ptAt
	// RFC 7296 section 3.14: plaintext || padding || pad length must be a
	// multiple of the block size; padding is minimal here.
	pad := (block - (ptLen+1)%block) % block
	b.AddZeros(pad)
	b.AddUint8(uint8(pad))
	end := b.Len()
	icv := c.ICVLen()
	b.AddZeros(icv)
	b.EndPayload(mark)
	b.EndMessage()
	if err := b.Err(); err != nil {
		return err
	}
	buf := b.Buf()
	iv := buf[ivAt:ptAt]
	if _, err := io.ReadFull(rand, iv); err != nil {
		return fmt.Errorf("wire: reading IV: %w", err)
	}
	pt := buf[ptAt:end]
	out := c.Seal(pt[:0], iv, pt, buf[aadFrom:aadTo], nil)
	if len(out) != len(pt)+icv || (len(out) > 0 && &out[0] != &buf[ptAt]) {
		return errors.New("wire: crypter did not seal in place with its ICV length")
	}
	return nil
}

// Open decrypts and verifies the message's SK or SKF payload (its last
// payload). For SK, the inner chain is parsed into SK.Payloads; for SKF the
// fragment's plaintext is stored in SKF.Plaintext. The plaintext is
// appended to dst (pass a reused buffer to avoid allocating); inner
// payloads alias it. A failed integrity check returns an error wrapping
// ErrIntegrity.
func (m *Message) Open(c Crypter, dst []byte) ([]byte, error) {
	if len(m.Payloads) == 0 {
		return dst, ErrNoSK
	}
	switch p := m.Payloads[len(m.Payloads)-1].(type) {
	case *SK:
		return p.Open(c, dst)
	case *SKF:
		return p.Open(c, dst)
	}
	return dst, ErrNoSK
}

// Open decrypts and verifies the payload and parses the inner chain into
// s.Payloads. It needs the payload as produced by Parse.
func (s *SK) Open(c Crypter, dst []byte) ([]byte, error) {
	out, inner, err := openBody(c, s.aad, s.Body, dst, PayloadSK)
	if err != nil {
		return out, err
	}
	ps, err := ParsePayloads(s.FirstPayload, inner)
	if err != nil {
		return out, err
	}
	s.Payloads, s.opened = ps, true
	return out, nil
}

// Open decrypts and verifies the fragment and sets f.Plaintext.
func (f *SKF) Open(c Crypter, dst []byte) ([]byte, error) {
	out, inner, err := openBody(c, f.aad, f.Body, dst, PayloadSKF)
	if err != nil {
		return out, err
	}
	f.Plaintext = inner
	return out, nil
}

// openBody verifies and decrypts IV||ciphertext||ICV and strips the padding.
func openBody(c Crypter, aad, body, dst []byte, t PayloadType) (out, inner []byte, err error) {
	if aad == nil {
		return dst, nil, errors.New("wire: " + t.String() + " payload was not produced by Parse")
	}
	ivLen, icvLen, block := c.IVLen(), c.ICVLen(), max(c.BlockLen(), 1)
	off := len(aad) // absolute offset of the IV in the message
	ctLen := len(body) - ivLen - icvLen
	if ctLen < 1 {
		return dst, nil, perr(off, t, "too short for IV, pad length and ICV")
	}
	if ctLen%block != 0 {
		return dst, nil, perr(off+ivLen, t, "ciphertext length "+strconv.Itoa(ctLen)+" not a multiple of the block size "+strconv.Itoa(block))
	}
	out, err = c.Open(dst, body[:ivLen], body[ivLen:], aad, nil)
	if err != nil {
		return dst, nil, fmt.Errorf("%w: %w", ErrIntegrity, err)
	}
	plain := out[len(dst):]
	if len(plain) != ctLen {
		return out, nil, errors.New("wire: crypter returned a plaintext of unexpected length")
	}
	pad := int(plain[len(plain)-1])
	if pad+1 > len(plain) {
		return out, nil, perr(off+ivLen, t, "pad length "+strconv.Itoa(pad)+" exceeds the plaintext")
	}
	return out, plain[: len(plain)-1-pad : len(plain)-1-pad], nil
}
