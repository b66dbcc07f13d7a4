package wire

import (
	"errors"
	"io"

	"github.com/goipsec/ipsec/internal/isakmp"
)

// MaxFragments is the largest Total Fragments value AppendFragments
// produces (the field is 16 bits, RFC 7383 section 2.5).
const MaxFragments = 0xffff

// FragmentSize returns the largest IKE message size for a path MTU:
// the MTU minus the IP and UDP headers and, on port 4500, the non-ESP
// marker (RFC 7383 section 2.5.1).
func FragmentSize(mtu int, ipv6, natt bool) int {
	n := mtu - 8 // UDP
	if ipv6 {
		n -= 40
	} else {
		n -= 20
	}
	if natt {
		n -= 4
	}
	return n
}

// ErrFragmentSize is returned when the fragment size leaves no room for
// plaintext.
var ErrFragmentSize = errors.New("wire: fragment size too small")

// AppendFragments encodes m, whose last payload is an *SK with
// SK.Payloads, as a sequence of messages of at most maxLen bytes, each
// carrying one separately encrypted SKF payload (RFC 7383 section 2.5).
// The first fragment carries the first inner payload type and any
// unencrypted payloads that precede the SK payload; all fragments share
// the header of m. The fragments are appended to dst back to back; the
// returned slices alias the final buffer.
func (m *Message) AppendFragments(dst []byte, c Crypter, rand io.Reader, maxLen int) ([][]byte, error) {
	sk := lastSK(m.Payloads)
	if sk == nil {
		return nil, ErrNoSK
	}
	inner, first, err := AppendPayloads(nil, sk.Payloads)
	if err != nil {
		return nil, err
	}
	// Size the outer unencrypted payloads once.
	var ob isakmp.Builder
	ob.Reset(nil)
	ob.BeginChain(-1)
	for _, p := range m.Payloads[:len(m.Payloads)-1] {
		appendPayload(&ob, p)
	}
	if err := ob.Err(); err != nil {
		return nil, err
	}
	outerLen := ob.Len()
	block := max(c.BlockLen(), 1)
	avail := maxLen - HeaderLen - outerLen - skfHeaderLen - c.IVLen() - c.ICVLen()
	chunk := avail/block*block - 1 // room for the pad length byte
	if chunk < 1 {
		return nil, ErrFragmentSize
	}
	total := max((len(inner)+chunk-1)/chunk, 1)
	if total > MaxFragments {
		return nil, ErrFragmentSize
	}
	var b isakmp.Builder
	b.Reset(dst)
	starts := make([]int, 0, total+1)
	for i := 1; i <= total; i++ {
		starts = append(starts, b.Len())
		beginMessage(&b, &m.Header)
		if i == 1 {
			for _, p := range m.Payloads[:len(m.Payloads)-1] {
				appendPayload(&b, p)
			}
		}
		mark := b.BeginPayload(uint8(PayloadSKF), false)
		if i == 1 {
			b.PatchUint8(mark, uint8(first))
		}
		b.AddUint16(uint16(i))
		b.AddUint16(uint16(total))
		ivAt := b.Len()
		b.AddZeros(c.IVLen())
		ptAt := b.Len()
		lo := (i - 1) * chunk
		hi := min(lo+chunk, len(inner))
		b.AddBytes(inner[lo:hi])
		if err := sealTail(&b, c, rand, mark, ivAt, ptAt, b.MessageStart(), mark+skfHeaderLen); err != nil {
			return nil, err
		}
	}
	out, err := b.Bytes()
	if err != nil {
		return nil, err
	}
	starts = append(starts, len(out))
	frags := make([][]byte, total)
	for i := range frags {
		frags[i] = out[starts[i]:starts[i+1]:starts[i+1]]
	}
	return frags, nil
}

// Reassembler limits.
const (
	// DefaultMaxFragments bounds Total Fragments. A certificate-laden
	// IKE_AUTH at a 576-byte MTU needs about 20; strongSwan's default
	// limit is 10000 bytes of message.
	DefaultMaxFragments = 128
	// DefaultMaxReassembledLen bounds the reassembled inner chain.
	DefaultMaxReassembledLen = 64 << 10
)

// Reassembler errors.
var (
	ErrFragmentNotOpened  = errors.New("wire: fragment must be opened (authenticated) before reassembly")
	ErrFragmentInvalid    = errors.New("wire: invalid fragment number or total")
	ErrTooManyFragments   = errors.New("wire: too many fragments")
	ErrReassemblyTooLarge = errors.New("wire: reassembled message too large")
	ErrFragmentTotalStale = errors.New("wire: fragment with smaller total than the set being reassembled")
	// ErrFragmentOfCompleted reports a fragment of the message the
	// Reassembler completed last: a retransmission, which the responder
	// answers by resending its cached response (RFC 7383 section 2.6).
	ErrFragmentOfCompleted = errors.New("wire: fragment of an already reassembled message")
)

// Reassembler collects the authenticated SKF fragments of one message (RFC
// 7383 section 2.6). Per IKE SA the engine keeps one per direction, feeds
// only fragments whose message ID the exchange window accepts, and only
// after SKF.Open succeeded. Fragments are copied, so the caller may reuse
// its buffers.
//
// Memory: between calls the Reassembler keeps at most MaxBytes of data,
// whatever sequence of fragments arrives. Each fragment is copied into a
// buffer of exactly its size, the capacity of every buffer it keeps counts
// against MaxBytes, and every discarded set (Reset, a new message ID or
// total, ErrReassemblyTooLarge, completion) releases its buffers instead
// of keeping them for reuse: reused buffers let a peer park a large
// fragment in each slot across failed sets. The index of a set is bounded
// by MaxFragments.
//
// Rules: duplicates are ignored; fragments of the message completed last
// return ErrFragmentOfCompleted; a fragment with a larger Total Fragments
// than the set in progress discards the set and starts over (the peer
// re-fragmented for a smaller MTU), one with a smaller total is discarded;
// a new message ID discards the set in progress.
type Reassembler struct {
	// MaxFragments bounds Total Fragments (0: DefaultMaxFragments).
	MaxFragments int
	// MaxBytes bounds the bytes held: the fragment plaintexts of the set
	// in progress, or the last reassembled message (0:
	// DefaultMaxReassembledLen).
	MaxBytes int

	active bool
	msgID  uint32
	total  int
	have   int
	// bytes is the capacity of the buffers in frags.
	bytes int
	first PayloadType
	// frags holds fragment n at n-1; nil means not received (a received
	// empty fragment is a non-nil empty slice).
	frags [][]byte
	// out is the last reassembled message, held until a new set starts
	// or Reset.
	out []byte
	// doneID is the message ID completed last, when doneOK.
	doneID uint32
	doneOK bool
}

// Reset drops the set in progress and releases every buffer, including the
// one Result returned (which stays valid for whoever holds it).
func (r *Reassembler) Reset() {
	r.discard()
	r.out = nil
}

// discard drops the set in progress and its buffers.
func (r *Reassembler) discard() {
	r.active, r.total, r.have, r.bytes, r.first = false, 0, 0, 0, 0
	r.frags = nil
}

// InProgress reports whether fragments of a message are held, and its ID.
func (r *Reassembler) InProgress() (uint32, bool) { return r.msgID, r.active }

// Add stores fragment f of message msgID. It returns done when the message
// is complete; Result then returns it.
func (r *Reassembler) Add(msgID uint32, f *SKF) (done bool, err error) {
	if f.Plaintext == nil {
		return false, ErrFragmentNotOpened
	}
	maxFrags := r.MaxFragments
	if maxFrags <= 0 {
		maxFrags = DefaultMaxFragments
	}
	maxBytes := r.MaxBytes
	if maxBytes <= 0 {
		maxBytes = DefaultMaxReassembledLen
	}
	n, total := int(f.Number), int(f.Total)
	if n == 0 || total == 0 || n > total {
		return false, ErrFragmentInvalid
	}
	if total > maxFrags {
		return false, ErrTooManyFragments
	}
	if r.doneOK && r.doneID == msgID && !(r.active && r.msgID == msgID) {
		return false, ErrFragmentOfCompleted
	}
	if r.active && r.msgID != msgID {
		r.discard()
	}
	if r.active {
		switch {
		case total > r.total:
			r.discard()
		case total < r.total:
			return false, ErrFragmentTotalStale
		}
	}
	if !r.active {
		// A new set: the previous Result belongs to the caller from
		// now on (never written again, no longer held), so at most
		// one of the two counts against MaxBytes.
		r.out = nil
		r.active, r.msgID, r.total = true, msgID, total
		r.frags = make([][]byte, total)
	}
	if r.frags[n-1] != nil {
		return false, nil // duplicate (retransmission)
	}
	if len(f.Plaintext) > maxBytes-r.bytes {
		r.discard()
		return false, ErrReassemblyTooLarge
	}
	// make, not append: the capacity is exactly the length, so what is
	// counted is what is kept.
	p := make([]byte, len(f.Plaintext))
	copy(p, f.Plaintext)
	r.frags[n-1] = p
	r.have++
	r.bytes += cap(p)
	if n == 1 {
		r.first = f.FirstPayload
	}
	if r.have < r.total {
		return false, nil
	}
	out := make([]byte, 0, r.bytes)
	for _, p := range r.frags {
		out = append(out, p...)
	}
	first := r.first
	r.discard()
	r.out, r.first, r.doneID, r.doneOK = out, first, msgID, true
	return true, nil
}

// Result returns the first inner payload type and the reassembled inner
// chain of the message Add just completed, for ParsePayloads. The
// Reassembler never writes to the slice again; it stops holding it when
// the next set starts or at Reset.
func (r *Reassembler) Result() (PayloadType, []byte) { return r.first, r.out }
