package door

import "github.com/arbor-auth/arbor/nodes"

// Presets answers every callback with its preset inputs, as a wire door that fills
// only some inputs needs: a polling step answered so means "keep waiting, exit not
// pressed". Numbers are given as a wire door gives them (float64), which is what the
// engine accepts from any door.
func Presets(cbs []nodes.Callback) []nodes.Callback {
	out := make([]nodes.Callback, len(cbs))
	for i, cb := range cbs {
		out[i] = nodes.Callback{Type: cb.Type, Input: make([]nodes.Field, len(cb.Input))}
		for j, in := range cb.Input {
			switch v := in.Value.(type) {
			case int:
				in.Value = float64(v)
			case int64:
				in.Value = float64(v)
			}
			out[i].Input[j] = in
		}
	}
	return out
}

// SetMain sets a callback's main input (the unnamed one a door fills: the name, the
// password, the text) to v.
func SetMain(cb *nodes.Callback, v any) {
	for i := range cb.Input {
		if cb.Input[i].Name == "" {
			cb.Input[i].Value = v
			return
		}
	}
	cb.Input = append(cb.Input, nodes.Field{Name: "", Value: v})
}
