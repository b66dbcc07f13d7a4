package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/goipsec/ipsec/proposal"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// Exit codes.
const (
	exitChosen   = 0
	exitMismatch = 1
	exitUsage    = 2
)

// run is main without the process: tests call it with their own writers.
func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("proposalcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	localFlag := fs.String("local", "", "our proposals in strongSwan syntax (default: the library's default set, see -set)")
	peerFlag := fs.String("peer", "", "the peer's proposals in strongSwan syntax, or a client profile name (see -list)")
	protoFlag := fs.String("proto", "ike", "ike or esp")
	preferPeer := fs.Bool("prefer-peer", false, "prefer the peer's order instead of ours")
	rekey := fs.Bool("rekey", false, "with -proto esp: check CHILD SA rekey proposals (KE = PFS) instead of IKE_AUTH ones")
	setFlag := fs.String("set", "compatible", "default set used without -local: strict or compatible")
	keFlag := fs.String("ke", "", "KE method of the peer's KE payload (e.g. modp2048), preferred when acceptable")
	lint := fs.Bool("lint", false, "also print warnings about the local proposals (weak transforms, Windows' 15-transform limit)")
	list := fs.Bool("list", false, "list the client profiles and exit")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: proposalcheck [-local proposals] -peer proposals|profile [-proto ike|esp] [-rekey] [-prefer-peer]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "proposalcheck: unexpected argument %q (quote proposal lists)\n", fs.Arg(0))
		return exitUsage
	}
	if *list {
		printProfiles(stdout)
		return exitChosen
	}

	var proto proposal.Protocol
	switch strings.ToLower(*protoFlag) {
	case "ike":
		proto = proposal.ProtoIKE
	case "esp":
		proto = proposal.ProtoESP
	default:
		fmt.Fprintf(stderr, "proposalcheck: -proto %q: want ike or esp\n", *protoFlag)
		return exitUsage
	}
	if *rekey && proto != proposal.ProtoESP {
		fmt.Fprintln(stderr, "proposalcheck: -rekey needs -proto esp")
		return exitUsage
	}

	local, err := localProposals(*localFlag, *setFlag, proto)
	if err != nil {
		fmt.Fprintf(stderr, "proposalcheck: -local: %v\n", err)
		return exitUsage
	}
	if *peerFlag == "" {
		fmt.Fprintln(stderr, "proposalcheck: -peer is required (proposals or a profile name; -list shows the profiles)")
		return exitUsage
	}
	peer, skipKE, what, err := peerProposals(*peerFlag, proto, *rekey)
	if err != nil {
		fmt.Fprintf(stderr, "proposalcheck: -peer: %v\n", err)
		return exitUsage
	}
	opts := proposal.SelectOptions{PreferPeer: *preferPeer, SkipKE: skipKE}
	if *keFlag != "" {
		ke, err := proposal.ParseProposal("aes128-sha256-"+*keFlag, proposal.ProtoIKE)
		if err != nil || len(ke.KE) != 1 {
			fmt.Fprintf(stderr, "proposalcheck: -ke %q: not a key exchange method keyword\n", *keFlag)
			return exitUsage
		}
		opts.PreferKE = ke.KE[0]
	}

	fmt.Fprintf(stdout, "peer: %s\n", what)
	if *lint {
		for _, w := range proposal.Lint(local) {
			fmt.Fprintf(stdout, "lint: %s\n", w)
		}
	}
	chosen, err := proposal.Select(local, peer, opts)
	var mm *proposal.MismatchError
	switch {
	case errors.As(err, &mm):
		fmt.Fprint(stdout, "NO_PROPOSAL_CHOSEN: "+mm.Explain())
		return exitMismatch
	case err != nil:
		fmt.Fprintf(stderr, "proposalcheck: %v\n", err)
		return exitMismatch
	}
	fmt.Fprintf(stdout, "chosen: %s (peer proposal %d)\n", chosen.Describe(), chosen.Number)
	fmt.Fprintf(stdout, "keywords: %s\n", chosen.String())
	for _, w := range chosen.Weak() {
		fmt.Fprintf(stdout, "weak: %s\n", w)
	}
	return exitChosen
}

func localProposals(s, set string, proto proposal.Protocol) (proposal.List, error) {
	if s != "" {
		return proposal.Parse(s, proto)
	}
	switch {
	case set == "strict" && proto == proposal.ProtoIKE:
		return proposal.StrictIKE(), nil
	case set == "strict":
		return proposal.StrictESP(), nil
	case set == "compatible" && proto == proposal.ProtoIKE:
		return proposal.CompatibleIKE(), nil
	case set == "compatible":
		return proposal.CompatibleESP(), nil
	}
	return nil, fmt.Errorf("-set %q: want strict or compatible", set)
}

// peerProposals resolves -peer: a profile name or proposal strings. It
// returns whether KE must be ignored (ESP in IKE_AUTH) and a description.
func peerProposals(s string, proto proposal.Protocol, rekey bool) (proposal.List, bool, string, error) {
	if prof, ok := proposal.LookupProfile(strings.ToLower(strings.TrimSpace(s))); ok {
		what := fmt.Sprintf("profile %s: %s (IKEv%d)", prof.Name, prof.Description, prof.IKEVersion)
		switch {
		case proto == proposal.ProtoIKE:
			return prof.IKE, false, what, nil
		case rekey:
			return prof.ESPRekey, false, what + ", CHILD SA rekey", nil
		case prof.IKEVersion == 1:
			return prof.ESP, false, what + ", Quick Mode", nil
		default:
			return prof.ESP, true, what + ", CHILD SA in IKE_AUTH (KE ignored)", nil
		}
	}
	l, err := proposal.Parse(s, proto)
	if err != nil {
		if !strings.ContainsAny(s, "-,") {
			names := make([]string, 0, 8)
			for _, p := range proposal.Profiles() {
				names = append(names, p.Name)
			}
			return nil, false, "", fmt.Errorf("%q is neither a client profile (%s) nor a proposal: %w",
				s, strings.Join(names, ", "), err)
		}
		return nil, false, "", err
	}
	skip := proto == proposal.ProtoESP && !rekey
	what := "proposals given on the command line"
	if skip {
		what += ", CHILD SA in IKE_AUTH (KE ignored)"
	}
	return l, skip, what, nil
}

func printProfiles(w io.Writer) {
	for _, p := range proposal.Profiles() {
		fmt.Fprintf(w, "%s: %s (IKEv%d)\n", p.Name, p.Description, p.IKEVersion)
		fmt.Fprintf(w, "  ike:       %s\n", p.IKE)
		fmt.Fprintf(w, "  esp:       %s\n", p.ESP)
		fmt.Fprintf(w, "  esp rekey: %s\n", p.ESPRekey)
		fmt.Fprintf(w, "  source:    %s\n", p.Source)
	}
}
