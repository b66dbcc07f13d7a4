package doccheck

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// root is the module root, seen from this package's directory.
const root = "../.."

// pkgDir is one directory's Go package: its non-test files and whether a
// test file of it declares an Example.
type pkgDir struct {
	rel        string // module-relative directory, "." for the root
	name       string // package name of the non-test files
	files      []*ast.File
	hasExample bool
}

// loadModule parses every package directory below root, skipping hidden
// and testdata directories and nested modules.
func loadModule(t *testing.T) (*token.FileSet, []*pkgDir) {
	t.Helper()
	fset := token.NewFileSet()
	var pkgs []*pkgDir
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		name := d.Name()
		if path != root && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata") {
			return filepath.SkipDir
		}
		if path != root {
			if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil {
				return filepath.SkipDir
			}
		}
		entries, err := os.ReadDir(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		p := &pkgDir{rel: filepath.ToSlash(rel)}
		for _, e := range entries {
			fn := e.Name()
			if e.IsDir() || !strings.HasSuffix(fn, ".go") {
				continue
			}
			f, err := parser.ParseFile(fset, filepath.Join(path, fn), nil, parser.ParseComments)
			if err != nil {
				return err
			}
			if strings.HasSuffix(fn, "_test.go") {
				for _, decl := range f.Decls {
					if fd, ok := decl.(*ast.FuncDecl); ok && fd.Recv == nil && isExampleName(fd.Name.Name) {
						p.hasExample = true
					}
				}
				continue
			}
			if ast.IsGenerated(f) {
				continue
			}
			p.name = f.Name.Name
			p.files = append(p.files, f)
		}
		if len(p.files) > 0 {
			pkgs = append(pkgs, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return fset, pkgs
}

// isExampleName reports whether a function name is one go test runs as an
// Example: "Example", "ExampleF", "ExampleT_M", "ExampleF_suffix".
func isExampleName(n string) bool {
	rest, ok := strings.CutPrefix(n, "Example")
	return ok && (rest == "" || rest[0] == '_' || strings.ToUpper(rest[:1]) == rest[:1])
}

// public reports whether the package is part of the API: not a command and
// not below an internal directory.
func (p *pkgDir) public() bool {
	if p.name == "main" {
		return false
	}
	return !slices.Contains(strings.Split(p.rel, "/"), "internal")
}

// hasDoc reports whether a comment group holds text.
func hasDoc(groups ...*ast.CommentGroup) bool {
	for _, g := range groups {
		if g != nil && strings.TrimSpace(g.Text()) != "" {
			return true
		}
	}
	return false
}

// undocumented lists, as "file:line: what", every exported name of the
// files without a doc comment. Exported methods count when their receiver
// type is exported; fields and interface methods when their type is.
func undocumented(fset *token.FileSet, files []*ast.File) []string {
	var out []string
	miss := func(pos token.Pos, format string, args ...any) {
		p := fset.Position(pos)
		out = append(out, fmt.Sprintf("%s:%d: %s", p.Filename, p.Line, fmt.Sprintf(format, args...)))
	}
	for _, f := range files {
		for _, decl := range f.Decls {
			switch d := decl.(type) {
			case *ast.FuncDecl:
				if !d.Name.IsExported() {
					continue
				}
				if d.Recv == nil {
					if !hasDoc(d.Doc) {
						miss(d.Pos(), "func %s", d.Name.Name)
					}
					continue
				}
				recv := receiverName(d.Recv.List[0].Type)
				if ast.IsExported(recv) && !hasDoc(d.Doc) {
					miss(d.Pos(), "method %s.%s", recv, d.Name.Name)
				}
			case *ast.GenDecl:
				grouped := d.Lparen.IsValid()
				for _, spec := range d.Specs {
					switch s := spec.(type) {
					case *ast.TypeSpec:
						if !s.Name.IsExported() {
							continue
						}
						// A lone "type T ..." carries its comment on the
						// GenDecl; in a group each spec has its own.
						if !hasDoc(s.Doc, s.Comment) && (grouped || !hasDoc(d.Doc)) {
							miss(s.Pos(), "type %s", s.Name.Name)
						}
						members(s.Name.Name, s.Type, miss)
					case *ast.ValueSpec:
						for _, n := range s.Names {
							// A documented const or var group documents
							// its members, as go doc shows them together.
							if n.IsExported() && !hasDoc(s.Doc, s.Comment, d.Doc) {
								miss(n.Pos(), "%s %s", d.Tok, n.Name)
							}
						}
					}
				}
			}
		}
	}
	return out
}

// members reports the undocumented exported fields of a struct type and
// methods of an interface type, descending into nested anonymous structs.
func members(owner string, typ ast.Expr, miss func(token.Pos, string, ...any)) {
	switch t := typ.(type) {
	case *ast.StructType:
		// A comment may document the fields after it that it names
		// ("MajorVersion and MinorVersion: ..."), as go doc shows the
		// struct's source.
		var lastDoc string
		for _, fld := range t.Fields.List {
			if len(fld.Names) == 0 {
				continue // embedded: documented where its type is declared
			}
			exported := false
			for _, n := range fld.Names {
				exported = exported || n.IsExported()
			}
			if hasDoc(fld.Doc) {
				lastDoc = fld.Doc.Text()
			}
			if exported && !hasDoc(fld.Doc, fld.Comment) && !mentions(lastDoc, fld.Names[0].Name) {
				miss(fld.Pos(), "field %s.%s", owner, fld.Names[0].Name)
			}
			if exported {
				members(owner+"."+fld.Names[0].Name, fld.Type, miss)
			}
		}
	case *ast.InterfaceType:
		for _, m := range t.Methods.List {
			if len(m.Names) == 0 {
				continue // embedded interface or type union
			}
			if m.Names[0].IsExported() && !hasDoc(m.Doc, m.Comment) {
				miss(m.Pos(), "method %s.%s", owner, m.Names[0].Name)
			}
		}
	case *ast.StarExpr:
		members(owner, t.X, miss)
	case *ast.ArrayType:
		members(owner, t.Elt, miss)
	}
}

// mentions reports whether text names the identifier name as a word.
func mentions(text, name string) bool {
	isWord := func(r byte) bool {
		return r == '_' || r >= '0' && r <= '9' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z'
	}
	for i := 0; ; {
		j := strings.Index(text[i:], name)
		if j < 0 {
			return false
		}
		j += i
		end := j + len(name)
		if (j == 0 || !isWord(text[j-1])) && (end == len(text) || !isWord(text[end])) {
			return true
		}
		i = end
	}
}

// receiverName returns the type name of a method receiver: T from T, *T,
// T[P] or *T[P].
func receiverName(e ast.Expr) string {
	for {
		switch t := e.(type) {
		case *ast.StarExpr:
			e = t.X
		case *ast.IndexExpr:
			e = t.X
		case *ast.IndexListExpr:
			e = t.X
		case *ast.ParenExpr:
			e = t.X
		case *ast.Ident:
			return t.Name
		default:
			return ""
		}
	}
}

// TestExportedNamesDocumented fails for every exported identifier, method,
// struct field and interface method of the module's packages (internal
// ones included, commands not) without a doc comment.
func TestExportedNamesDocumented(t *testing.T) {
	fset, pkgs := loadModule(t)
	total := 0
	for _, p := range pkgs {
		if p.name == "main" {
			continue // a command's exported names are no one's API
		}
		for _, m := range undocumented(fset, p.files) {
			t.Errorf("undocumented %s", strings.TrimPrefix(m, root+"/"))
			total++
		}
	}
	if total > 0 {
		t.Logf("%d exported names without a doc comment", total)
	}
}

// TestPublicPackagesHaveExamples fails for a public package without an
// Example function in its tests (pkg.go.dev shows them; go test runs
// those with an Output comment).
func TestPublicPackagesHaveExamples(t *testing.T) {
	_, pkgs := loadModule(t)
	checked := 0
	for _, p := range pkgs {
		if !p.public() {
			continue
		}
		checked++
		if !p.hasExample {
			t.Errorf("package %s (%s) has no Example function", p.name, p.rel)
		}
	}
	if checked == 0 {
		t.Fatal("found no public package: is the module root wrong?")
	}
}
