package api

import (
	"crypto/rand"
	"encoding/base32"
	"errors"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// authIDClaims are the claims of an authId, AM's names: the SDK treats the authId as
// opaque, but AM's own UI decodes it and reads authIndexValue.
type authIDClaims struct {
	OTK            string `json:"otk"`
	AuthIndexType  string `json:"authIndexType"`
	AuthIndexValue string `json:"authIndexValue"`
	Realm          string `json:"realm"`
	SessionID      string `json:"sessionId"`
	jwt.RegisteredClaims
}

var (
	errAuthIDInvalid = errors.New("AuthId JWT Signature not valid")
	errAuthIDExpired = errors.New("authId expired")
)

// issueAuthID signs an authId (HS256) referring to flow flowID. The flow itself stays
// server-side in the store; the authId only names it, so it stays small.
func issueAuthID(key []byte, flowID, journey, realm string, exp time.Time) string {
	otk := make([]byte, 17)
	rand.Read(otk)
	c := authIDClaims{
		OTK:            base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(otk),
		AuthIndexType:  "service",
		AuthIndexValue: journey,
		Realm:          realm,
		SessionID:      flowID,
		RegisteredClaims: jwt.RegisteredClaims{
			ExpiresAt: jwt.NewNumericDate(exp),
			IssuedAt:  jwt.NewNumericDate(time.Now()),
		},
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(key)
	if err != nil {
		panic("api: sign authId: " + err.Error())
	}
	return s
}

// parseAuthID verifies an authId and returns its claims: errAuthIDInvalid for a
// malformed or forged one, errAuthIDExpired for one past its flow's timeout.
func parseAuthID(key []byte, s string, now time.Time) (*authIDClaims, error) {
	if len(s) > 4096 {
		return nil, errAuthIDInvalid
	}
	var c authIDClaims
	_, err := jwt.ParseWithClaims(s, &c, func(*jwt.Token) (any, error) { return key, nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithTimeFunc(func() time.Time { return now }), jwt.WithExpirationRequired())
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return nil, errAuthIDExpired
	case err != nil:
		return nil, errAuthIDInvalid
	case c.SessionID == "":
		return nil, errAuthIDInvalid
	}
	return &c, nil
}
