// Package depcheck holds only a test: it runs `go list -deps` over the module
// and fails when an import breaks the package dependency table of the
// design (root doc.go lists the package map). Keeping the layering
// mechanical means a convenient import cannot quietly make the IKEv2 codec
// depend on crypto, or the root package on anything but the standard
// library.
package depcheck
