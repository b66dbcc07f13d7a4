package ipsec

import (
	"fmt"
	"strings"
	"testing"
)

// A PasswordRequest prints the user and method, never the password or
// the response.
func TestPasswordRequestString(t *testing.T) {
	r := &PasswordRequest{Name: "carol", Method: PasswordPAP, Password: Secret("hunter2-secret"), Response: []byte("resp0nse")}
	for _, s := range []string{r.String(), fmt.Sprint(r), fmt.Sprintf("%v", r), fmt.Sprintf("%+v", *r)} {
		if strings.Contains(s, "hunter2-secret") {
			t.Errorf("%q reveals the password", s)
		}
	}
	if got := r.String(); got != `password check PAP for "carol"` {
		t.Errorf("String() = %q", got)
	}
	for m, want := range map[PasswordMethod]string{PasswordPAP: "PAP", PasswordCHAPMD5: "CHAP-MD5", PasswordMSCHAPv2: "MS-CHAPv2", 9: "PasswordMethod(9)"} {
		if m.String() != want {
			t.Errorf("%d: %q, want %q", m, m.String(), want)
		}
	}
}
