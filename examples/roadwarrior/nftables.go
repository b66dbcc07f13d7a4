package main

import (
	"github.com/goipsec/ipsec/internal/nftmatch"
)

// The kill switch's nftables table goes to the kernel through netlink
// (github.com/google/nftables): no nft binary at run time. The rules are
// built as the expressions nft itself generates for the rule text in the
// comments, so nft list shows them in that form.

// nftMatch builds the expressions of a rule, match by match.
type nftMatch = nftmatch.Match
