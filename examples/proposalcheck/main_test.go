package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		code     int
		stdout   []string // substrings expected on stdout
		stderr   []string // substrings expected on stderr
		noStdout []string
	}{
		{
			name:   "ios against compatible defaults",
			args:   []string{"-peer", "ios"},
			code:   exitChosen,
			stdout: []string{"profile ios", "chosen: IKE:AES_CBC_256/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/MODP_2048 (peer proposal 1)", "keywords: aes256-sha256-modp2048"},
		},
		{
			name:   "windows accepted by compatible defaults, flagged weak",
			args:   []string{"-peer", "windows"},
			code:   exitChosen,
			stdout: []string{"MODP_1024 (peer proposal 11)", "weak: MODP_1024"},
		},
		{
			name:   "windows against strict defaults explains",
			args:   []string{"-set", "strict", "-peer", "windows"},
			code:   exitMismatch,
			stdout: []string{"NO_PROPOSAL_CHOSEN", "KE: local offers", "peer offers MODP_1024", "enable modp1024 in the ike proposal", "NegotiateDH2048_AES256"},
		},
		{
			name:   "explicit local and peer strings",
			args:   []string{"-local", "aes256gcm16-prfsha384-ecp384", "-peer", "aes256gcm16-prfsha384-ecp384-ecp256, aes128-sha1-modp1024"},
			code:   exitChosen,
			stdout: []string{"chosen: IKE:AES_GCM_16_256/PRF_HMAC_SHA2_384/ECP_384 (peer proposal 1)"},
		},
		{
			name:   "macOS rekey without PFS needs modpnone",
			args:   []string{"-proto", "esp", "-rekey", "-local", "aes256-sha256-modp2048", "-peer", "macos"},
			code:   exitMismatch,
			stdout: []string{"CHILD SA rekey", "append modpnone"},
		},
		{
			name:   "macOS rekey with optional PFS",
			args:   []string{"-proto", "esp", "-rekey", "-local", "aes256-sha256-modp2048-modpnone", "-peer", "macos"},
			code:   exitChosen,
			stdout: []string{"chosen: ESP:AES_CBC_256/HMAC_SHA2_256_128/NO_EXT_SEQ"},
		},
		{
			name:   "IKE_AUTH ESP ignores KE",
			args:   []string{"-proto", "esp", "-local", "aes256-sha256-modp2048", "-peer", "ios"},
			code:   exitChosen,
			stdout: []string{"KE ignored", "chosen: ESP:AES_CBC_256/HMAC_SHA2_256_128/NO_EXT_SEQ"},
		},
		{
			name:   "prefer peer",
			args:   []string{"-local", "aes128-sha256-modp2048, aes256-sha256-modp2048", "-peer", "aes256-sha256-modp2048, aes128-sha256-modp2048", "-prefer-peer"},
			code:   exitChosen,
			stdout: []string{"AES_CBC_256", "peer proposal 1"},
		},
		{
			name:   "KE payload group preferred",
			args:   []string{"-local", "aes256-sha256-ecp256-modp2048", "-peer", "ios", "-ke", "modp2048"},
			code:   exitChosen,
			stdout: []string{"MODP_2048"},
		},
		{
			name:   "lint",
			args:   []string{"-lint", "-local", "aes256-sha1-modp1024", "-peer", "windows"},
			code:   exitChosen,
			stdout: []string{"lint: proposal 1: weak transform MODP_1024"},
		},
		{
			name:   "list",
			args:   []string{"-list"},
			code:   exitChosen,
			stdout: []string{"ios:", "windows-gcm:", "ios-ikev1:", "source:"},
		},
		{name: "unknown keyword", args: []string{"-local", "aes256-sha999-modp2048", "-peer", "ios"}, code: exitUsage, stderr: []string{`unknown algorithm "sha999"`}},
		{name: "key size", args: []string{"-local", "aes512-sha256-modp2048", "-peer", "ios"}, code: exitUsage, stderr: []string{"key size out of range"}},
		{name: "empty peer proposal", args: []string{"-peer", "aes256-sha256-modp2048,,"}, code: exitUsage, stderr: []string{"empty proposal"}},
		{name: "unknown profile", args: []string{"-peer", "nokia"}, code: exitUsage, stderr: []string{"neither a client profile", "windows-gcm"}},
		{name: "no peer", args: []string{}, code: exitUsage, stderr: []string{"-peer is required"}},
		{name: "bad proto", args: []string{"-proto", "ah", "-peer", "ios"}, code: exitUsage, stderr: []string{"want ike or esp"}},
		{name: "rekey needs esp", args: []string{"-rekey", "-peer", "ios"}, code: exitUsage, stderr: []string{"-rekey needs -proto esp"}},
		{name: "bad set", args: []string{"-set", "lax", "-peer", "ios"}, code: exitUsage, stderr: []string{"want strict or compatible"}},
		{name: "bad ke", args: []string{"-ke", "aes", "-peer", "ios"}, code: exitUsage, stderr: []string{"not a key exchange method"}},
		{name: "stray argument", args: []string{"-peer", "ios", "aes256"}, code: exitUsage, stderr: []string{"unexpected argument"}},
		{name: "bad flag", args: []string{"-nope"}, code: exitUsage, stderr: []string{"usage: proposalcheck"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := run(tt.args, &out, &errOut)
			if code != tt.code {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.code, out.String(), errOut.String())
			}
			for _, s := range tt.stdout {
				if !strings.Contains(out.String(), s) {
					t.Errorf("stdout lacks %q:\n%s", s, out.String())
				}
			}
			for _, s := range tt.stderr {
				if !strings.Contains(errOut.String(), s) {
					t.Errorf("stderr lacks %q:\n%s", s, errOut.String())
				}
			}
		})
	}
}
