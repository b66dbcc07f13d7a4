// Package doccheck holds only a test: it parses every package of the module
// with go/parser and fails when an exported identifier, an exported method,
// an exported struct field or an interface method has no doc comment, or
// when a public package (not internal, not a command) has no Example
// function. Run it alone with
//
//	go test ./internal/doccheck
//
// and read the list it prints: one line per missing comment, file:line
// first.
package doccheck
