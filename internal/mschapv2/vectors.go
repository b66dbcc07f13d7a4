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
	ID                     string `json:"id"`                               // names the vector
	Username               string `json:"username"`                         // the user name as the peer sends it
	Password               string `json:"password"`                         // the clear-text password
	AuthenticatorChallenge string `json:"authenticator_challenge"`          // the server's 16-octet challenge
	PeerChallenge          string `json:"peer_challenge"`                   // the client's 16-octet challenge
	Challenge              string `json:"challenge"`                        // ChallengeHash's result
	PasswordHash           string `json:"password_hash"`                    // NtPasswordHash
	PasswordHashHash       string `json:"password_hash_hash"`               // HashNtPasswordHash
	NTResponse             string `json:"nt_response"`                      // GenerateNTResponse
	AuthenticatorResponse  string `json:"authenticator_response"`           // "S=" and 40 hex digits
	MasterKey              string `json:"master_key"`                       // RFC 3079 GetMasterKey
	ServerSendStartKey     string `json:"server_send_start_key_128_magic3"` // RFC 3079 with Magic3
	// Derived are values the RFCs do not list, computed independently.
	Derived struct {
		ClientSendKey    string `json:"client_send_key_magic2"`    // the start key with Magic2
		ClientReceiveKey string `json:"client_receive_key_magic3"` // the start key with Magic3
		MSK              string `json:"eap_mschapv2_msk_64"`       // the 64-octet EAP MSK
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
