package esp

import (
	"errors"
	"fmt"
)

// Errors returned by DataPlane methods.
var (
	ErrSANotFound     = errors.New("esp: SA not found")
	ErrSAExists       = errors.New("esp: SA already installed")
	ErrPolicyNotFound = errors.New("esp: policy not found")
	ErrPolicyExists   = errors.New("esp: policy already installed")
	ErrClosed         = errors.New("esp: data plane closed")
)

// Errors for packets that fail ESP processing. They are plain sentinels so
// that rejecting a packet allocates nothing; the engine counts them in
// Stats instead of logging (a peer or an attacker controls their rate).
var (
	ErrTruncated     = errors.New("esp: truncated packet")
	ErrUnknownSPI    = errors.New("esp: no SA for SPI")
	ErrAuth          = errors.New("esp: integrity check failed")
	ErrReplay        = errors.New("esp: replayed or too old sequence number")
	ErrPadding       = errors.New("esp: invalid padding length")
	ErrSeqOverflow   = errors.New("esp: sequence number space exhausted, rekey needed")
	ErrDummy         = errors.New("esp: dummy packet (next header 59)")
	ErrSelector      = errors.New("esp: inner packet does not match the SA's policy")
	ErrInnerPacket   = errors.New("esp: malformed inner packet")
	ErrExpired       = errors.New("esp: SA reached its hard lifetime")
	ErrNoHeadroom    = errors.New("esp: buffer lacks headroom or tailroom")
	ErrUnsupportedNH = errors.New("esp: unsupported next header for the SA's mode")
)

func errOpt(opt, msg string) error { return fmt.Errorf("esp: %s: %s", opt, msg) }
