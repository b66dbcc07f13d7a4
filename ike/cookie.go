package ike

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"io"
	"net/netip"
	"sync"
	"time"
)

// Cookie parameters (RFC 7296 section 2.6). The secret changes every
// cookieSecretLifetime; a cookie made with the previous secret is still
// accepted, so a client that got a cookie just before the change can use
// it.
const (
	cookieSecretLifetime = 2 * time.Minute
	cookieMACLen         = 16
	cookieLen            = 1 + cookieMACLen // version byte + truncated MAC
)

// cookieJar makes and checks stateless COOKIE values:
// version | HMAC-SHA-256(secret, Ni | IPi | SPIi) truncated, so the
// responder keeps no state for a request until the initiator proves it can
// receive at its source address.
type cookieJar struct {
	rand io.Reader
	now  func() time.Time

	mu       sync.Mutex
	version  uint8
	secrets  [2][32]byte // [version&1]
	valid    [2]bool
	rotateAt time.Time
}

func newCookieJar(rand io.Reader, now func() time.Time) *cookieJar {
	return &cookieJar{rand: rand, now: now}
}

// rotate installs a fresh secret when the current one has expired.
// The caller holds mu.
func (j *cookieJar) rotate() error {
	t := j.now()
	if j.valid[j.version&1] && t.Before(j.rotateAt) {
		return nil
	}
	next := j.version + 1
	if !j.valid[j.version&1] {
		next = j.version
	}
	var s [32]byte
	if _, err := io.ReadFull(j.rand, s[:]); err != nil {
		return err
	}
	j.version = next
	j.secrets[next&1] = s
	j.valid[next&1] = true
	j.rotateAt = t.Add(cookieSecretLifetime)
	return nil
}

func cookieMAC(secret *[32]byte, version uint8, ni []byte, ipi netip.Addr, spii uint64) []byte {
	m := hmac.New(sha256.New, secret[:])
	m.Write([]byte{version})
	m.Write(ni)
	m.Write(ipi.Unmap().AsSlice())
	var spi [8]byte
	binary.BigEndian.PutUint64(spi[:], spii)
	m.Write(spi[:])
	return m.Sum(nil)[:cookieMACLen]
}

// make returns the cookie for an IKE_SA_INIT request.
func (j *cookieJar) make(ni []byte, ipi netip.Addr, spii uint64) ([]byte, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if err := j.rotate(); err != nil {
		return nil, err
	}
	v := j.version
	return append([]byte{v}, cookieMAC(&j.secrets[v&1], v, ni, ipi, spii)...), nil
}

// check reports whether cookie is one we made for this request, with the
// current or the previous secret.
func (j *cookieJar) check(cookie, ni []byte, ipi netip.Addr, spii uint64) bool {
	if len(cookie) != cookieLen {
		return false
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if err := j.rotate(); err != nil {
		return false
	}
	v := cookie[0]
	if v != j.version && v != j.version-1 || !j.valid[v&1] {
		return false
	}
	// After a rotation the previous slot holds the previous secret; older
	// versions share a slot with the current one and fail the version test.
	return hmac.Equal(cookie[1:], cookieMAC(&j.secrets[v&1], v, ni, ipi, spii))
}
