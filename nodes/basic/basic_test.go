package basic_test

import (
	"reflect"
	"testing"

	"github.com/arbor-auth/arbor/nodes/nodetest"

	"github.com/arbor-auth/arbor/nodes"
	"github.com/arbor-auth/arbor/nodes/basic"
)

// TestRegisterIsRepeatable: registries are independent, so a family registers into
// each of several alike. Which types exist is not listed here: the node conformance
// suite (internal/cli TestNodeConformance) checks every registered type.
func TestRegisterIsRepeatable(t *testing.T) {
	a, b := nodes.NewRegistry(), nodes.NewRegistry()
	basic.Register(a)
	basic.Register(b)
	if len(a.Types()) == 0 || len(a.Types()) != len(b.Types()) {
		t.Errorf("registered %d and %d types", len(a.Types()), len(b.Types()))
	}
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
