package alg

import (
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// vector is one entry of a testdata/*.json file; all binary fields are
// lowercase hex (see testdata provenance in each file's "source").
type vector map[string]any

func (v vector) str(k string) string {
	s, _ := v[k].(string)
	return s
}

func (v vector) has(k string) bool {
	_, ok := v[k]
	return ok
}

func (v vector) hex(t *testing.T, k string) []byte {
	t.Helper()
	s, ok := v[k].(string)
	if !ok {
		t.Fatalf("vector %s: field %q missing", v.str("id"), k)
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("vector %s: field %q: %v", v.str("id"), k, err)
	}
	return b
}

func (v vector) num(k string) int {
	f, _ := v[k].(float64)
	return int(f)
}

func loadVectors(t *testing.T, name string) []vector {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Vectors []vector `json:"vectors"`
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if len(f.Vectors) == 0 {
		t.Fatalf("%s: no vectors", name)
	}
	return f.Vectors
}

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}
