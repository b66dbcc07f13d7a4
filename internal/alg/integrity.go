package alg

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"fmt"
	"hash"

	"github.com/goipsec/ipsec/proposal"
)

// integrity is a keyed integrity transform (RFC 7296 section 3.3.2 type 3,
// the ESP ICV of RFC 4303 section 2.8).
type integrity struct {
	id      proposal.IntegID
	icvLen  int
	newHash func() hash.Hash // hash for HMAC, nil for block-cipher MACs
	key     []byte           // HMAC key, kept to build pooled instances
	bm      *blockMACKey     // XCBC or CMAC
}

// integState is the per-call part: a keyed HMAC instance, reset per use.
// crypto/hmac keeps the inner and outer pad states after the first Reset,
// so a pooled instance costs two compression runs less per packet.
type integState struct {
	h hash.Hash
}

func hmacHash(i proposal.IntegID) func() hash.Hash {
	switch i {
	case proposal.IntegHMACMD596, proposal.IntegHMACMD5128:
		return md5.New
	case proposal.IntegHMACSHA196, proposal.IntegHMACSHA1160:
		return sha1.New
	case proposal.IntegHMACSHA2256128:
		return sha256.New
	case proposal.IntegHMACSHA2384192:
		return sha512.New384
	case proposal.IntegHMACSHA2512256:
		return sha512.New
	}
	return nil
}

func newIntegrity(i proposal.IntegID, key []byte) (*integrity, error) {
	info, ok := integTable[i]
	if !ok {
		return nil, fmt.Errorf("%w: integrity transform %d", ErrUnsupported, i)
	}
	if len(key) != info.keyLen {
		return nil, fmt.Errorf("%w: integrity transform %d needs %d key bytes, got %d", ErrKeySize, i, info.keyLen, len(key))
	}
	in := &integrity{id: i, icvLen: info.icvLen}
	var err error
	switch i {
	case proposal.IntegNone:
	case proposal.IntegAESXCBC96:
		in.bm, err = newXCBCKey(key)
	case proposal.IntegAESCMAC96:
		in.bm, err = newCMACKey(key)
	default:
		in.newHash = hmacHash(i)
		in.key = append([]byte(nil), key...)
	}
	return in, err
}

func (in *integrity) initState(s *scratch) {
	if in.newHash != nil {
		s.integ.h = hmac.New(in.newHash, in.key)
	}
}

// sum computes the truncated ICV over a||b||c||d into scratch memory.
func (in *integrity) sum(s *scratch, a, b, c, d []byte) []byte {
	if in.icvLen == 0 {
		return nil
	}
	if in.bm != nil {
		return in.bm.sum(&s.mac, a, b, c, d)[:in.icvLen]
	}
	h := s.integ.h
	h.Reset()
	h.Write(a)
	h.Write(b)
	h.Write(c)
	h.Write(d)
	return h.Sum(s.tag[:0])[:in.icvLen]
}

// verify compares the computed ICV with icv in constant time.
func (in *integrity) verify(s *scratch, icv, a, b, c, d []byte) bool {
	return subtle.ConstantTimeCompare(in.sum(s, a, b, c, d), icv) == 1
}
