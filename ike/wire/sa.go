package wire

import (
	"strconv"

	"github.com/goipsec/ipsec/internal/isakmp"
)

// Substructure headers (RFC 7296 sections 3.3.1, 3.3.2).
const (
	proposalHeaderLen  = 8
	transformHeaderLen = 8
	lastSubstruct      = 0 // "Last Substruc" of the final proposal/transform
	moreProposals      = 2
	moreTransforms     = 3
)

func decodeSA(r *isakmp.Reader) (*SA, error) {
	sa := &SA{}
	for last := false; !last; {
		if r.Empty() {
			if len(sa.Proposals) == 0 {
				return nil, convertErr(r.Errorf("SA without proposals"))
			}
			return nil, convertErr(r.Errorf("truncated proposal list"))
		}
		start := r.Offset()
		more, err := r.Uint8("proposal last substruc")
		if err != nil {
			return nil, convertErr(err)
		}
		switch more {
		case lastSubstruct:
			last = true
		case moreProposals:
		default:
			return nil, perr(start, PayloadSA, "proposal last-substruc "+strconv.Itoa(int(more))+", want 0 or 2")
		}
		if _, err := r.Uint8("reserved"); err != nil {
			return nil, convertErr(err)
		}
		plen, err := r.Uint16("proposal length")
		if err != nil {
			return nil, convertErr(err)
		}
		if plen < proposalHeaderLen {
			return nil, perr(start+2, PayloadSA, "proposal length "+strconv.Itoa(int(plen))+" too small")
		}
		pr, err := r.Sub(int(plen)-4, "proposal", uint8(PayloadSA))
		if err != nil {
			return nil, convertErr(err)
		}
		p, err := decodeProposal(&pr)
		if err != nil {
			return nil, err
		}
		sa.Proposals = append(sa.Proposals, p)
	}
	if !r.Empty() {
		return nil, convertErr(r.Errorf("bytes after the last proposal"))
	}
	return sa, nil
}

func decodeProposal(r *isakmp.Reader) (Proposal, error) {
	var p Proposal
	num, _ := r.Uint8("proposal number")
	proto, _ := r.Uint8("protocol ID")
	spiSize, _ := r.Uint8("SPI size")
	nt, err := r.Uint8("number of transforms")
	if err != nil {
		return p, convertErr(err)
	}
	spi, err := r.Bytes(int(spiSize), "SPI")
	if err != nil {
		return p, convertErr(err)
	}
	if spiSize == 0 {
		spi = nil
	}
	p = Proposal{Number: num, Protocol: ProtocolID(proto), SPI: spi}
	if nt > 0 {
		p.Transforms = make([]Transform, 0, nt)
	}
	for i := 0; i < int(nt); i++ {
		start := r.Offset()
		more, err := r.Uint8("transform last substruc")
		if err != nil {
			return p, convertErr(err)
		}
		want := uint8(moreTransforms)
		if i == int(nt)-1 {
			want = lastSubstruct
		}
		if more != want {
			return p, perr(start, PayloadSA, "transform last-substruc "+strconv.Itoa(int(more))+", want "+strconv.Itoa(int(want)))
		}
		r.Uint8("reserved")
		tlen, err := r.Uint16("transform length")
		if err != nil {
			return p, convertErr(err)
		}
		if tlen < transformHeaderLen {
			return p, perr(start+2, PayloadSA, "transform length "+strconv.Itoa(int(tlen))+" too small")
		}
		tr, err := r.Sub(int(tlen)-4, "transform", uint8(PayloadSA))
		if err != nil {
			return p, convertErr(err)
		}
		typ, _ := tr.Uint8("transform type")
		tr.Uint8("reserved")
		id, err := tr.Uint16("transform ID")
		if err != nil {
			return p, convertErr(err)
		}
		t := Transform{Type: TransformType(typ), ID: id}
		for !tr.Empty() {
			a, err := decodeAttribute(&tr)
			if err != nil {
				return p, err
			}
			t.Attributes = append(t.Attributes, a)
		}
		p.Transforms = append(p.Transforms, t)
	}
	if !r.Empty() {
		return p, convertErr(r.Errorf(strconv.Itoa(r.Len()) + " bytes after the last transform"))
	}
	return p, nil
}

func decodeAttribute(r *isakmp.Reader) (Attribute, error) {
	t, err := r.Uint16("attribute type")
	if err != nil {
		return Attribute{}, convertErr(err)
	}
	v, err := r.Uint16("attribute value")
	if err != nil {
		return Attribute{}, convertErr(err)
	}
	if t&0x8000 != 0 {
		return Attribute{Type: t & 0x7fff, TV: true, Value: v}, nil
	}
	d, err := r.Bytes(int(v), "attribute data")
	if err != nil {
		return Attribute{}, convertErr(err)
	}
	return Attribute{Type: t, Data: d}, nil
}

func appendSA(b *isakmp.Builder, sa *SA) {
	if len(sa.Proposals) == 0 {
		b.SetError(errEncode(PayloadSA, "SA without proposals"))
	}
	for i := range sa.Proposals {
		p := &sa.Proposals[i]
		start := b.Len()
		if i == len(sa.Proposals)-1 {
			b.AddUint8(lastSubstruct)
		} else {
			b.AddUint8(moreProposals)
		}
		b.AddUint8(0)
		b.AddUint16(0)
		b.AddUint8(p.Number)
		b.AddUint8(uint8(p.Protocol))
		if len(p.SPI) > 255 || len(p.Transforms) > 255 {
			b.SetError(errEncode(PayloadSA, "SPI or transform list too long"))
		}
		b.AddUint8(uint8(len(p.SPI)))
		b.AddUint8(uint8(len(p.Transforms)))
		b.AddBytes(p.SPI)
		for j := range p.Transforms {
			t := &p.Transforms[j]
			ts := b.Len()
			if j == len(p.Transforms)-1 {
				b.AddUint8(lastSubstruct)
			} else {
				b.AddUint8(moreTransforms)
			}
			b.AddUint8(0)
			b.AddUint16(0)
			b.AddUint8(uint8(t.Type))
			b.AddUint8(0)
			b.AddUint16(t.ID)
			for _, a := range t.Attributes {
				if a.TV {
					b.AddUint16(a.Type | 0x8000)
					b.AddUint16(a.Value)
				} else {
					if a.Type&0x8000 != 0 || len(a.Data) > 0xffff {
						b.SetError(errEncode(PayloadSA, "bad TLV attribute"))
					}
					b.AddUint16(a.Type)
					b.AddUint16(uint16(len(a.Data)))
					b.AddBytes(a.Data)
				}
			}
			b.PatchLen16(ts+2, ts)
		}
		b.PatchLen16(start+2, start)
	}
}
