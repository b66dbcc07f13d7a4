package mschapv2

import (
	"encoding/json"
	"errors"
	"os"
)

// Vector is one known-answer test of RFC 2759 section 9.2 and RFC 3079
// section 3.5.3 as stored in testdata (hex strings), for this package's and
// its users' tests.
type Vector struct {
	ID                     string `json:"id"`
	Username               string `json:"username"`
	Password               string `json:"password"`
	AuthenticatorChallenge string `json:"authenticator_challenge"`
	PeerChallenge          string `json:"peer_challenge"`
	Challenge              string `json:"challenge"`
	PasswordHash           string `json:"password_hash"`
	PasswordHashHash       string `json:"password_hash_hash"`
	NTResponse             string `json:"nt_response"`
	AuthenticatorResponse  string `json:"authenticator_response"`
	MasterKey              string `json:"master_key"`
	ServerSendStartKey     string `json:"server_send_start_key_128_magic3"`
	Derived                struct {
		ClientSendKey    string `json:"client_send_key_magic2"`
		ClientReceiveKey string `json:"client_receive_key_magic3"`
		MSK              string `json:"eap_mschapv2_msk_64"`
	} `json:"derived_not_in_rfc"`
}

// LoadVectors reads the vectors file at path.
func LoadVectors(path string) ([]Vector, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f struct{ Vectors []Vector }
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, err
	}
	if len(f.Vectors) == 0 {
		return nil, errors.New("mschapv2: no vectors in " + path)
	}
	return f.Vectors, nil
}
