package depcheck

import (
	"bufio"
	"bytes"
	"fmt"
	"os/exec"
	"path"
	"strings"
	"testing"
)

const module = "github.com/goipsec/ipsec"

// rule says which module packages a package may import directly. Entries
// ending in "/..." match a package and everything below it. Test doubles
// (esptest, iketest) may additionally import the package they double.
type rule struct {
	pkg   string   // package path relative to the module, "." for the root
	allow []string // module-relative import paths or "/..." patterns
	ext   bool     // may import modules outside the standard library
}

// table mirrors the package map in DESIGN.md section 1.
var table = []rule{
	{pkg: ".", allow: nil},
	{pkg: "proposal", allow: nil},
	{pkg: "internal/isakmp/...", allow: []string{"internal/isakmp"}},
	{pkg: "internal/alg", allow: []string{"proposal"}, ext: true},
	{pkg: "internal/kdf", allow: []string{"internal/alg", "proposal"}, ext: true},
	{pkg: "internal/depcheck", allow: nil},
	{pkg: "internal/doccheck", allow: nil},
	{pkg: "internal/testnet", allow: nil, ext: true},
	{pkg: "internal/testpki", allow: nil},
	{pkg: "internal/strongswan", allow: []string{"internal/testnet", "internal/testpki"}, ext: true},
	{pkg: "internal/freeradius", allow: []string{"internal/testnet", "internal/testpki"}, ext: true},
	{pkg: "internal/vmclient", allow: []string{"internal/testnet", "internal/strongswan"}, ext: true},
	{pkg: "esp", allow: []string{".", "proposal", "internal/...", "esp/..."}, ext: true},
	{pkg: "esp/esptest", allow: []string{".", "esp", "proposal", "internal/..."}, ext: true},
	{pkg: "eap", allow: []string{".", "internal/..."}, ext: true},
	{pkg: "xauth", allow: []string{".", "internal/..."}, ext: true},
	{pkg: "radius", allow: []string{".", "eap", "internal/..."}, ext: true},
	{pkg: "internal/mschapv2", allow: nil, ext: true},
	{pkg: "ppp", allow: []string{".", "internal/..."}, ext: true},
	{pkg: "transport", allow: []string{"internal/sockio"}, ext: true},
	{pkg: "internal/sockio", allow: nil, ext: true},
	{pkg: "internal/nftmatch", allow: nil, ext: true},
	{pkg: "ike/wire", allow: []string{"internal/isakmp"}},
	{pkg: "ike", allow: []string{".", "proposal", "esp", "eap", "internal/...", "ike/wire", "transport"}, ext: true},
	{pkg: "ike/iketest", allow: []string{".", "ike", "ike/wire", "transport", "proposal", "esp", "esp/esptest", "eap", "internal/..."}, ext: true},
	{pkg: "ikev1/wire", allow: []string{"internal/isakmp"}},
	{pkg: "ikev1", allow: []string{".", "proposal", "esp", "xauth", "internal/...", "ikev1/wire", "transport"}, ext: true},
	{pkg: "l2tp", allow: []string{".", "internal/..."}, ext: true},
	{pkg: "xfrm", allow: []string{"esp", "proposal"}, ext: true},
	{pkg: "examples/...", allow: []string{"..."}, ext: true},
}

// externalModules are the third-party modules the project has chosen
// (README "Dependencies"); anything else needs a decision first.
var externalModules = []string{
	"golang.org/x/crypto",
	"golang.org/x/sys",
	"golang.org/x/net",
	"golang.org/x/time",
	"github.com/vishvananda/netlink",
	"github.com/vishvananda/netns",
	"filippo.io/bigmod",
	"github.com/cloudflare/circl",
	"golang.zx2c4.com/wireguard",
	"golang.zx2c4.com/wintun",
	"gvisor.dev/gvisor",
	"github.com/google/btree",
	"github.com/google/nftables",
	"github.com/mdlayher/netlink",
	"github.com/mdlayher/socket",
	"github.com/josharian/native",
	// errgroup, for mdlayher/socket under google/nftables.
	"golang.org/x/sync",
	"go.yaml.in/yaml/v3",
	// examples/responder's PKCS#12 (legacy and PBES2/AES, both ways).
	"software.sslmate.com/src/go-pkcs12",
	// examples/responder's privilege drop: a system call on every
	// thread, which syscall.AllThreadsSyscall refuses in cgo builds.
	"kernel.org/pub/linux/libs/security/libcap/psx",
}

func match(pattern, rel string) bool {
	if pattern == "..." {
		return true
	}
	if p, ok := strings.CutSuffix(pattern, "/..."); ok {
		return rel == p || strings.HasPrefix(rel, p+"/")
	}
	return rel == pattern
}

func ruleFor(rel string) (rule, bool) {
	for _, r := range table {
		if match(r.pkg, rel) {
			return r, true
		}
	}
	return rule{}, false
}

func relPath(importPath string) (string, bool) {
	if importPath == module {
		return ".", true
	}
	rel, ok := strings.CutPrefix(importPath, module+"/")
	return rel, ok
}

func isStd(importPath string) bool {
	first, _, _ := strings.Cut(importPath, "/")
	return !strings.Contains(first, ".")
}

func allowedExternal(importPath string) bool {
	for _, m := range externalModules {
		if importPath == m || strings.HasPrefix(importPath, m+"/") {
			return true
		}
	}
	return false
}

type pkgInfo struct {
	path    string
	imports []string
}

// listPackages runs go list -deps over the module and returns the module's
// own packages with their direct imports, plus every dependency path.
func listPackages(t *testing.T) (own []pkgInfo, deps []string) {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}\t{{join .Imports \" \"}}", module+"/...")
	cmd.Dir = "../.."
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		p, imps, _ := strings.Cut(sc.Text(), "\t")
		deps = append(deps, p)
		if _, ok := relPath(p); ok {
			own = append(own, pkgInfo{path: p, imports: strings.Fields(imps)})
		}
	}
	return own, deps
}

func TestDependencyTable(t *testing.T) {
	own, deps := listPackages(t)
	if len(own) == 0 {
		t.Fatal("go list returned no module packages")
	}
	for _, v := range violations(own, deps) {
		t.Error(v)
	}
}

// TestViolationsDetected feeds a made-up module graph with one violation
// of each kind, so a table that silently allows everything cannot pass.
func TestViolationsDetected(t *testing.T) {
	own := []pkgInfo{
		{path: module + "/ike/wire", imports: []string{"bytes", module + "/internal/alg"}},
		{path: module + "/proposal", imports: []string{"golang.org/x/crypto/hkdf"}},
		{path: module + "/newpkg", imports: nil},
		{path: module + "/ike", imports: []string{module + "/ike/wire", module + "/esp", "golang.org/x/crypto/hkdf"}},
	}
	deps := []string{"bytes", "example.com/unvetted/lib", "golang.org/x/crypto/hkdf"}
	got := violations(own, deps)
	want := []string{"ike/wire imports internal/alg", "proposal imports third-party", "newpkg: package is not in the dependency table", "dependency example.com/unvetted/lib"}
	if len(got) != len(want) {
		t.Fatalf("got %d violations, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
	for i, w := range want {
		if !strings.Contains(got[i], w) {
			t.Errorf("violation %d = %q, want it to mention %q", i, got[i], w)
		}
	}
}

func violations(own []pkgInfo, deps []string) []string {
	var out []string
	errorf := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	for _, p := range own {
		rel, _ := relPath(p.path)
		r, ok := ruleFor(rel)
		if !ok {
			errorf("%s: package is not in the dependency table (DESIGN.md section 1); add it to internal/depcheck and doc.go", rel)
			continue
		}
		for _, imp := range p.imports {
			if irel, ok := relPath(imp); ok {
				allowed := irel == rel
				for _, a := range r.allow {
					allowed = allowed || match(a, irel)
				}
				if !allowed {
					errorf("%s imports %s, which the dependency table does not allow (allowed: %v)", rel, irel, r.allow)
				}
				continue
			}
			if !isStd(imp) && !r.ext {
				errorf("%s imports third-party %s; it may use the standard library only", rel, imp)
			}
		}
	}
	for _, d := range deps {
		if _, ok := relPath(d); ok || isStd(d) {
			continue
		}
		if !allowedExternal(d) {
			errorf("dependency %s is not one of the chosen external modules", d)
		}
	}
	return out
}

func TestMatch(t *testing.T) {
	cases := []struct {
		pattern, rel string
		want         bool
	}{
		{"internal/...", "internal/alg", true},
		{"internal/...", "internal", true},
		{"internal/...", "internalx/alg", false},
		{"ike", "ike/wire", false},
		{"...", "anything/at/all", true},
		{".", ".", true},
	}
	for _, c := range cases {
		if got := match(c.pattern, c.rel); got != c.want {
			t.Errorf("match(%q, %q) = %v, want %v", c.pattern, c.rel, got, c.want)
		}
	}
	if path.Base(module) != "ipsec" {
		t.Errorf("module path %q changed; update depcheck", module)
	}
}
