package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/goipsec/ipsec/internal/nftmatch"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"golang.org/x/sys/unix"
)

// The responder's nftables table goes to the kernel through netlink
// (github.com/google/nftables), in one batch that the kernel applies
// atomically: no nft binary at run time. The rules are built as the
// expressions nft itself generates for the rule text in each comment, so
// `nft list table inet goipsec_responder` shows them in that form.

// nftRule is one rule: its expressions and an optional comment.
type nftRule struct {
	exprs   []expr.Any
	comment string
}

// nftChain is one base chain of the table.
type nftChain struct {
	name     string
	typ      nftables.ChainType
	hook     *nftables.ChainHook
	priority *nftables.ChainPriority
	rules    []nftRule
}

// nftMatch builds the expressions of a rule, match by match.
type nftMatch = nftmatch.Match

// queueTable queues, on c, the replacement of the inet table name by
// chains: declaring and deleting it first removes a table left by a
// killed instance in the same batch, which c.Flush applies atomically.
func queueTable(c *nftables.Conn, name string, chains []nftChain) {
	t := &nftables.Table{Family: nftables.TableFamilyINet, Name: name}
	c.AddTable(t)
	c.DelTable(t)
	c.AddTable(t)
	policy := nftables.ChainPolicyAccept
	for _, ch := range chains {
		chain := c.AddChain(&nftables.Chain{Name: ch.name, Table: t, Type: ch.typ, Hooknum: ch.hook, Priority: ch.priority, Policy: &policy})
		for _, r := range ch.rules {
			rule := &nftables.Rule{Table: t, Chain: chain, Exprs: r.exprs}
			if r.comment != "" {
				rule.UserData = userdata.AppendString(nil, userdata.TypeComment, r.comment)
			}
			c.AddRule(rule)
		}
	}
}

// deleteTable deletes the inet table name through c if it exists.
func deleteTable(c *nftables.Conn, name string) error {
	if _, err := c.ListTableOfFamily(name, nftables.TableFamilyINet); err != nil {
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, unix.ENOENT) {
			return nil
		}
		return fmt.Errorf("nftables: list table inet %s: %w", name, err)
	}
	c.DelTable(&nftables.Table{Family: nftables.TableFamilyINet, Name: name})
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nftables: delete table inet %s: %w", name, err)
	}
	return nil
}
