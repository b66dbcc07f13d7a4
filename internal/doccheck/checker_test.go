package doccheck

import (
	"go/ast"
	"go/parser"
	"go/token"
	"slices"
	"strings"
	"testing"
)

// TestCheckerFindsWhatIsMissing runs the checker on a file with known gaps,
// so a checker that silently finds nothing cannot pass for a documented
// module.
func TestCheckerFindsWhatIsMissing(t *testing.T) {
	const src = `package p

// T is documented.
type T struct {
	A int // trailing comment documents A
	// B and C: one comment naming both documents both.
	B int
	C int
	D int
	e int
	Nested struct {
		Inner int
	} // Nested is documented
}

type U int

func (T) M() {}

func (u) N() {}

// F is documented.
func F() {}

func G() {}

// Grouped constants documented as a group.
const (
	K1 = 1
	K2 = 2
)

var V = 1

// I is documented.
type I interface {
	// Doc is documented.
	Doc()
	Bare()
}

type u int
`
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "p.go", src, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range undocumented(fset, []*ast.File{f}) {
		_, what, _ := strings.Cut(m, ": ")
		got = append(got, what)
	}
	want := []string{"field T.D", "field T.Nested.Inner", "type U", "method T.M", "func G", "var V", "method I.Bare"}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("undocumented:\n got %q\nwant %q", got, want)
	}
	for _, n := range []string{"Example", "ExampleF", "ExampleT_M", "Example_suffix"} {
		if !isExampleName(n) {
			t.Errorf("%s not taken for an Example", n)
		}
	}
	if isExampleName("Examplef") {
		t.Errorf("Examplef taken for an Example")
	}
}
