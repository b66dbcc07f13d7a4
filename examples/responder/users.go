package main

import (
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"go.yaml.in/yaml/v3"
)

// demoUserName is the account created when the configuration has none.
const demoUserName = "demo"

// passwordAlphabet leaves out characters that look alike on a phone
// keyboard (0/O, 1/l/I).
const passwordAlphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"

// randomPassword returns n characters from passwordAlphabet: 20 give about
// 115 bits, beyond what an offline MSCHAPv2 attack can try.
func randomPassword(n int) string {
	b := make([]byte, n)
	for i := range b {
		// rand.Text would do, but it uses base32 with ambiguous digits.
		b[i] = passwordAlphabet[randIntn(len(passwordAlphabet))]
	}
	return string(b)
}

// randIntn is unbiased: bytes at or above the largest multiple of n are
// drawn again.
func randIntn(n int) int {
	limit := 256 - 256%n
	var b [1]byte
	for {
		rand.Read(b[:]) // never fails (crypto/rand, Go 1.24+)
		if int(b[0]) < limit {
			return int(b[0]) % n
		}
	}
}

// ensureDemoUser loads the demo account from the state directory or
// creates it with a random password (file mode 0600). created reports
// whether this start made it.
func ensureDemoUser(dir string) (u UserConfig, created bool, err error) {
	path := filepath.Join(dir, demoUserFile)
	data, err := os.ReadFile(path)
	if err == nil {
		if err := yaml.Unmarshal(data, &u); err != nil || u.Name == "" || u.Password == "" {
			return u, false, fmt.Errorf("%s: not a demo user file; delete it to create a new user", path)
		}
		return u, false, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return u, false, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return u, false, err
	}
	u = UserConfig{Name: demoUserName, Password: randomPassword(20)}
	out, err := yaml.Marshal(u)
	if err != nil {
		return u, false, err
	}
	if err := writeFileAtomic(path, out, 0o600); err != nil {
		return u, false, err
	}
	return u, true, nil
}
