package ike_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"testing"
	"testing/synctest"

	"github.com/goipsec/ipsec"
	"github.com/goipsec/ipsec/ike"
	"github.com/goipsec/ipsec/ike/wire"
	"github.com/goipsec/ipsec/proposal"
)

// TestNotifyErrorClasses: each error notification type, sent or received
// and however wrapped, matches its sentinel and no other one.
func TestNotifyErrorClasses(t *testing.T) {
	sentinels := []error{ike.ErrAuthFailed, ike.ErrNoProposalChosen, ike.ErrInvalidKE, ike.ErrTSUnacceptable,
		ike.ErrCPRequired, ike.ErrNoAddress, ike.ErrNoAdditionalSAs, ike.ErrTemporary, ike.ErrProtocol,
		ike.ErrTimeout, ike.ErrClosed, ike.ErrNoPeerConfig, ike.ErrIdentityLimit}
	cases := []struct {
		typ  wire.NotifyType
		want error
	}{
		{wire.AUTHENTICATION_FAILED, ike.ErrAuthFailed},
		{wire.AUTHORIZATION_FAILED, ike.ErrAuthFailed},
		{wire.NO_PROPOSAL_CHOSEN, ike.ErrNoProposalChosen},
		{wire.INVALID_KE_PAYLOAD, ike.ErrInvalidKE},
		{wire.TS_UNACCEPTABLE, ike.ErrTSUnacceptable},
		{wire.SINGLE_PAIR_REQUIRED, ike.ErrTSUnacceptable},
		{wire.FAILED_CP_REQUIRED, ike.ErrCPRequired},
		{wire.INTERNAL_ADDRESS_FAILURE, ike.ErrNoAddress},
		{wire.NO_ADDITIONAL_SAS, ike.ErrNoAdditionalSAs},
		{wire.TEMPORARY_FAILURE, ike.ErrTemporary},
		{wire.INVALID_SYNTAX, ike.ErrProtocol},
		{wire.UNSUPPORTED_CRITICAL_PAYLOAD, ike.ErrProtocol},
		{wire.INVALID_MAJOR_VERSION, ike.ErrProtocol},
		{wire.INVALID_MESSAGE_ID, ike.ErrProtocol},
		{wire.CHILD_SA_NOT_FOUND, nil},
	}
	for _, tc := range cases {
		for _, remote := range []bool{false, true} {
			err := fmt.Errorf("dial: %w", &ike.NotifyError{Type: tc.typ, Remote: remote})
			for _, s := range sentinels {
				if got := errors.Is(err, s); got != (s == tc.want) {
					t.Errorf("%s (remote %v): errors.Is(%v) = %v", tc.typ, remote, s, got)
				}
			}
			// Matching by NotifyError keeps comparing type and side.
			if !errors.Is(err, &ike.NotifyError{Type: tc.typ, Remote: remote}) || errors.Is(err, &ike.NotifyError{Type: tc.typ, Remote: !remote}) {
				t.Errorf("%s (remote %v): *NotifyError matching changed", tc.typ, remote)
			}
		}
	}
	// Our reason stays visible behind the class.
	sent := &ike.NotifyError{Type: wire.AUTHENTICATION_FAILED, Err: ike.ErrIdentityLimit}
	if !errors.Is(sent, ike.ErrAuthFailed) || !errors.Is(sent, ike.ErrIdentityLimit) {
		t.Errorf("sent AUTHENTICATION_FAILED for an identity limit: class or reason lost")
	}
	if errors.Is(&ike.NotifyError{Type: wire.INVALID_SYNTAX}, nil) {
		t.Errorf("a NotifyError matches nil")
	}
}

// TestDialErrorsClassify: what Dial returns for the gateway's refusals is
// classified by the sentinels alone, without ike/wire.
func TestDialErrorsClassify(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		respCfg, initCfg := pskConfigs()
		strict, _ := proposal.Parse("aes256gcm16-prfsha384-ecp384", proposal.ProtoIKE)
		p := newPair(t, respCfg, ike.WithProposals(strict))
		gw := netip.AddrPortFrom(gwAddr, 500)

		wrong := *initCfg
		wrong.Local.PSK = ipsec.Secret("not the right key at all 12345")
		if _, err := p.init.Dial(context.Background(), gw, &wrong); !errors.Is(err, ike.ErrAuthFailed) {
			t.Errorf("wrong PSK: %v, want errors.Is ErrAuthFailed", err)
		}
		weak := *initCfg
		weak.Proposals, _ = proposal.Parse("3des-sha1-modp1024", proposal.ProtoIKE)
		if _, err := p.init.Dial(context.Background(), gw, &weak); !errors.Is(err, ike.ErrNoProposalChosen) || errors.Is(err, ike.ErrAuthFailed) {
			t.Errorf("no common proposal: %v, want errors.Is ErrNoProposalChosen only", err)
		}
	})
}
