package nodes

import (
	"encoding/json"
	"slices"
	"testing"
)

func TestFactorsSurviveJSONAndDeduplicate(t *testing.T) {
	s := State{}
	if got := s.Factors(); got != nil {
		t.Fatalf("empty state has factors %v", got)
	}
	s.AddFactor(FactorPassword)
	s.AddFactor(FactorPush)
	s.AddFactor(FactorPassword)
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var back State
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	back.AddFactor(FactorOTP)
	want := []Factor{FactorPassword, FactorPush, FactorOTP}
	if got := back.Factors(); !slices.Equal(got, want) {
		t.Fatalf("factors = %v, want %v", got, want)
	}
}
