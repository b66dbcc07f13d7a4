//go:build !linux

package xfrm

import (
	"context"
	"errors"

	"github.com/goipsec/ipsec/esp"
)

// DataPlane is the Linux XFRM data plane; on this platform New fails with
// errors.ErrUnsupported and the methods do nothing.
type DataPlane struct{}

// New returns errors.ErrUnsupported: XFRM exists only on Linux.
func New(opts ...Option) (*DataPlane, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return nil, errors.ErrUnsupported
}

// AddSA returns errors.ErrUnsupported.
func (*DataPlane) AddSA(context.Context, *esp.SA) error { return errors.ErrUnsupported }

// UpdateSA returns errors.ErrUnsupported.
func (*DataPlane) UpdateSA(context.Context, esp.SAID, *esp.SA) error { return errors.ErrUnsupported }

// DeleteSA returns errors.ErrUnsupported.
func (*DataPlane) DeleteSA(context.Context, esp.SAID) error { return errors.ErrUnsupported }

// AddPolicy returns errors.ErrUnsupported.
func (*DataPlane) AddPolicy(context.Context, esp.Policy) error { return errors.ErrUnsupported }

// DeletePolicy returns errors.ErrUnsupported.
func (*DataPlane) DeletePolicy(context.Context, esp.Policy) error { return errors.ErrUnsupported }

// SAStats returns errors.ErrUnsupported.
func (*DataPlane) SAStats(esp.SAID) (esp.SAStats, error) { return esp.SAStats{}, errors.ErrUnsupported }

// Events returns a nil channel.
func (*DataPlane) Events() <-chan esp.Event { return nil }

// EventsDropped returns 0.
func (*DataPlane) EventsDropped() uint64 { return 0 }

// Close returns nil.
func (*DataPlane) Close() error { return nil }

// UseTransport returns errors.ErrUnsupported.
func (*DataPlane) UseTransport(Transport) error { return errors.ErrUnsupported }
