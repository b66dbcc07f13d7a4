package esp

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/goipsec/ipsec/proposal"
	"golang.zx2c4.com/wireguard/tun/tuntest"
)

// TestUserspaceIgnoresIfID: the XFRM interface ID is for the kernel data
// plane; the userspace engine accepts SAs and policies carrying one and
// keys its policy database by direction and selectors alone.
func TestUserspaceIgnoresIfID(t *testing.T) {
	u, err := NewUserspace(tuntest.NewChannelTUN().TUN())
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	ctx := context.Background()
	sa := &SA{SPI: 0x1000, Dir: DirIn, Src: netip.MustParseAddrPort("192.0.2.2:4500"), Dst: netip.MustParseAddrPort("192.0.2.1:4500"),
		Encr: proposal.EncrAESGCM16, EncrKeyBits: 128, EncrKey: make([]byte, 20), ReqID: 3, IfID: 42}
	if err := u.AddSA(ctx, sa); err != nil {
		t.Fatalf("AddSA with IfID: %v", err)
	}
	upd := *sa
	upd.Src, upd.IfID = netip.MustParseAddrPort("192.0.2.3:4500"), 43
	if err := u.UpdateSA(ctx, sa.ID(), &upd); err != nil {
		t.Fatalf("UpdateSA with IfID: %v", err)
	}
	if s := sa.String(); !strings.Contains(s, " if_id=42 ") {
		t.Errorf("SA string %q lacks the if_id", s)
	}
	p := Policy{Dir: DirIn, Src: PrefixSelector(netip.MustParsePrefix("203.0.113.0/24")),
		Dst: PrefixSelector(netip.MustParsePrefix("198.51.100.0/24")), ReqID: 3, IfID: 42}
	if err := u.AddPolicy(ctx, p); err != nil {
		t.Fatalf("AddPolicy with IfID: %v", err)
	}
	if s := p.String(); !strings.HasSuffix(s, " if_id=42") {
		t.Errorf("policy string %q lacks the if_id", s)
	}
	p.IfID = 7
	if err := u.AddPolicy(ctx, p); !errors.Is(err, ErrPolicyExists) {
		t.Errorf("same selectors on another IfID: %v, want ErrPolicyExists (userspace has no interface IDs)", err)
	}
	if err := u.DeletePolicy(ctx, p); err != nil {
		t.Errorf("DeletePolicy with a different IfID: %v", err)
	}
}
