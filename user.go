package ipsec

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
)

// User is a remote-access account as the authentication methods (EAP,
// XAuth) and the address assignment need it.
type User struct {
	// Name is the login name as the client sends it (Windows may send
	// "DOMAIN\user"; stores decide whether to strip the domain).
	Name string
	// Password is the clear-text password, needed by EAP-MD5, GTC, XAuth
	// generic and (if NTHash is empty) MSCHAPv2.
	Password Secret
	// NTHash is MD4(UTF-16LE(password)), enough for MSCHAPv2 when stores
	// do not keep clear text.
	NTHash Secret
	// Addresses, if set, are fixed virtual addresses for this user instead
	// of a pool lease (one per family at most).
	Addresses []netip.Addr
	// Groups are opaque labels an Authorize hook may use.
	Groups []string
	// Disabled accounts fail authentication like unknown ones.
	Disabled bool
}

// UserStore looks up accounts. Implementations must be safe for concurrent
// use; a remote backend (RADIUS, LDAP) honours ctx for its deadline.
type UserStore interface {
	// LookupUser returns the account called name, or an error wrapping
	// ErrUnknownUser when there is none.
	LookupUser(ctx context.Context, name string) (*User, error)
}

// ErrUnknownUser is returned by LookupUser for a name the store does not
// know. Authentication methods answer it exactly like a wrong password, so
// a client cannot probe which names exist.
var ErrUnknownUser = errors.New("ipsec: unknown user")

// Users is an in-memory UserStore.
type Users struct {
	mu    sync.RWMutex
	users map[string]User
}

// NewUsers returns a store holding copies of users.
func NewUsers(users ...User) *Users {
	s := &Users{users: map[string]User{}}
	for _, u := range users {
		s.Set(u)
	}
	return s
}

// Set adds or replaces a user.
func (s *Users) Set(u User) {
	u.Password = append(Secret(nil), u.Password...)
	u.NTHash = append(Secret(nil), u.NTHash...)
	u.Addresses = append([]netip.Addr(nil), u.Addresses...)
	u.Groups = append([]string(nil), u.Groups...)
	s.mu.Lock()
	s.users[u.Name] = u
	s.mu.Unlock()
}

// Delete removes a user.
func (s *Users) Delete(name string) {
	s.mu.Lock()
	delete(s.users, name)
	s.mu.Unlock()
}

// LookupUser implements UserStore. It returns a copy the caller may keep.
func (s *Users) LookupUser(ctx context.Context, name string) (*User, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	u, ok := s.users[name]
	s.mu.RUnlock()
	if !ok || u.Disabled {
		return nil, ErrUnknownUser
	}
	u.Password = append(Secret(nil), u.Password...)
	u.NTHash = append(Secret(nil), u.NTHash...)
	u.Addresses = append([]netip.Addr(nil), u.Addresses...)
	u.Groups = append([]string(nil), u.Groups...)
	return &u, nil
}

// String describes the store without its contents, so printing it can
// never reveal a password.
func (s *Users) String() string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return fmt.Sprintf("ipsec.Users(%d users)", len(s.users))
}

// Format prints String for every verb, %#v and %+v included.
func (s *Users) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(s.String())) }
