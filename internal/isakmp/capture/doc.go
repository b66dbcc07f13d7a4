// Package capture reads IKE messages out of pcap and pcapng files for the
// codec tests of internal/isakmp, ike/wire and ikev1/wire. It understands
// classic pcap (microsecond and nanosecond, either byte order) and pcapng,
// the Ethernet (with VLAN tags), Linux cooked (SLL, SLL2), BSD loopback and
// raw IPv4/IPv6 link types, reassembles IPv4 and IPv6 fragments, and
// returns the UDP payloads of ports 500 and 4500, with the 4500 non-ESP
// marker (RFC 3948 section 2.2) removed and ESP-in-UDP and NAT keepalives
// left out.
//
// It exists for tests only: it trusts its input far more than a production
// parser would (the files are checked into testdata), but still returns
// errors instead of panicking on truncated records.
package capture
