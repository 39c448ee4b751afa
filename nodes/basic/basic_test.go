package basic_test

import (
	"reflect"
	"testing"

	"github.com/arbor-auth/arbor/nodes/nodetest"

	"github.com/arbor-auth/arbor/nodes"
	"github.com/arbor-auth/arbor/nodes/basic"
)

func TestRegisterEveryType(t *testing.T) {
	r := nodes.NewRegistry()
	basic.Register(r)
	var got []string
	for _, ti := range r.Types() {
		got = append(got, ti.Type)
	}
	want := []string{"account_lockout", "choice", "data_store_decision", "increment_login_count", "inner_journey", "message", "page",
		"password", "retry_limit", "scripted_decision", "set_state", "username"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("types %v\nwant %v", got, want)
	}
	// Registries are independent: registering again elsewhere works.
	basic.Register(nodes.NewRegistry())
}

// TestPaletteDocs checks that every type documents itself: docs are data.
func TestPaletteDocs(t *testing.T) {
	r := nodes.NewRegistry()
	basic.Register(r)
	nodetest.CheckPalette(t, r)
}

func TestDefaultsAreDocumented(t *testing.T) {
	r := nodes.NewRegistry()
	basic.Register(r)
	ti, _ := r.Lookup("retry_limit")
	byName := map[string]nodes.FieldDoc{}
	for _, fd := range ti.Fields {
		byName[fd.Name] = fd
	}
	if d := byName["retry_limit"].Default; d != float64(3) {
		t.Errorf("retry_limit default %v", d)
	}
	if d := byName["save_on_user"].Default; d != false {
		t.Errorf("save_on_user default %v", d)
	}
	lock, _ := r.Lookup("account_lockout")
	if got := lock.Fields[0].Enum; !reflect.DeepEqual(got, []string{"lock", "unlock"}) {
		t.Errorf("lock_action enum %v", got)
	}
	page, _ := r.Lookup("page")
	if !page.Dynamic {
		t.Error("page outcomes not marked dynamic")
	}
}
