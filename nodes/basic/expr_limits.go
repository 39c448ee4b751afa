package basic

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"unicode/utf8"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/builtin"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/parser"
)

// Limits on expressions. A journey is code an admin uploads (or imports); a hostile or
// careless one must not exhaust the server: a replace() doubling loop once reached 1 GB
// and nested all() loops kept a core busy after the client left. expr-lang bounds only
// the AST size and some allocations of its VM (ranges, arrays, maps), so Arbor adds the
// rest by rewriting each expression when it compiles (see meterPatch): every loop
// charges its length to a per-visit step budget before it runs and checks the request's
// context, every string or collection an operation produces is charged to a per-visit
// memory budget, and the builtins whose output can dwarf their input (repeat, replace,
// join, toJSON, string) check the size of their result before they build it.
const (
	// maxExprLen bounds an expression's source, in bytes.
	maxExprLen = 4096
	// maxExprNodes bounds an expression's AST (expr.MaxNodes).
	maxExprNodes = 1000
	// maxExprDepth bounds the nesting of an expression's AST.
	maxExprDepth = 64
	// maxExprSteps bounds the loop iterations of one node visit's evaluations; a
	// decision over a flow's state needs far fewer.
	maxExprSteps = 100_000
	// maxExprMemory bounds what one node visit's evaluations produce: string bytes plus
	// collection elements.
	maxExprMemory = 1 << 20
	// maxProblemExcerpt bounds how much of an expression error is echoed back, so a
	// rejected expression is never echoed whole.
	maxProblemExcerpt = 160
)

// errExprBudget is the error of an evaluation stopped by a budget.
var errExprBudget = errors.New("expression exceeded its budget")

// exprMeter is one node visit's budget, reached from a compiled expression through the
// environment's arborMeter. A visit evaluates its expressions one after the other, so
// the meter needs no lock.
type exprMeter struct {
	ctx        context.Context
	steps, mem int
}

// charge adds steps and bytes to the meter and fails when a budget is spent or the
// request is over (the client left, or its deadline passed).
func (m *exprMeter) charge(steps, mem int) error {
	if m == nil {
		return errors.New("expression evaluated without a meter")
	}
	if m.ctx != nil {
		if err := m.ctx.Err(); err != nil {
			return fmt.Errorf("expression stopped: %w", err)
		}
	}
	m.steps += steps
	m.mem += mem
	switch {
	case m.steps > maxExprSteps:
		return fmt.Errorf("%w: more than %d loop iterations", errExprBudget, maxExprSteps)
	case m.mem > maxExprMemory:
		return fmt.Errorf("%w: it produced more than %d bytes", errExprBudget, maxExprMemory)
	}
	return nil
}

// room reports an error if a result of size bytes would not fit the memory budget, so
// that an amplifying builtin refuses before it allocates.
func (m *exprMeter) room(size int) error {
	if size < 0 || size > maxExprMemory-m.mem {
		return fmt.Errorf("%w: a result of %d bytes would pass the %d allowed", errExprBudget, size, maxExprMemory)
	}
	return nil
}

// Names of the functions meterPatch calls; they start with "arbor" so they cannot be
// mistaken for expr builtins.
const (
	fnIter       = "arborIter"
	fnSize       = "arborSize"
	fnSizeString = "arborSizeString"
	meterIdent   = "arborMeter"
)

// predicateBuiltins loop over their first argument.
var predicateBuiltins = map[string]bool{
	"all": true, "none": true, "any": true, "one": true, "filter": true, "map": true, "find": true,
	"findIndex": true, "findLast": true, "findLastIndex": true, "count": true, "sum": true,
	"groupBy": true, "sortBy": true, "reduce": true,
}

// amplifiers are the builtins whose result can be far larger than their arguments; each
// is replaced by a version that sizes its result first.
var amplifiers = map[string]func(m *exprMeter, args []any) (any, error){
	"repeat":  meteredRepeat,
	"replace": meteredReplace,
	"join":    meteredDeep("join"),
	"toJSON":  meteredDeep("toJSON"),
	"string":  meteredDeep("string"),
}

// exprLimitOptions are the compile options that bound an expression; patch is the
// rewrite to apply, which remembers the expression's result type.
func exprLimitOptions(patch *meterPatch) []expr.Option {
	opts := []expr.Option{
		expr.MaxNodes(maxExprNodes),
		expr.Function(fnIter, func(args ...any) (any, error) {
			m, _ := args[0].(*exprMeter)
			return args[1], m.charge(lengthOf(args[1]), 0)
		}),
		expr.Function(fnSize, func(args ...any) (any, error) {
			m, _ := args[0].(*exprMeter)
			return args[1], m.charge(0, lengthOf(args[1]))
		}),
		expr.Function(fnSizeString, func(args ...any) (any, error) {
			m, _ := args[0].(*exprMeter)
			return args[1], m.charge(0, lengthOf(args[1]))
		}, new(func(*exprMeter, string) string)),
		expr.Patch(patch),
	}
	for name, f := range amplifiers {
		opts = append(opts, expr.Function(amplifierFn(name), func(args ...any) (any, error) {
			m, _ := args[0].(*exprMeter)
			if err := m.charge(0, 0); err != nil {
				return nil, err
			}
			out, err := f(m, args[1:])
			if err != nil {
				return nil, err
			}
			return out, m.charge(0, lengthOf(out))
		}))
	}
	return opts
}

func amplifierFn(name string) string { return "arbor_" + name }

// meterPatch rewrites an expression so that it runs within its budgets (an
// ast.Visitor; expr type-checks the tree before it visits, and again after). ast.Walk
// visits children before their parent, so a node it wraps is never visited again, and
// the last node visited is the root, whose type it keeps for resultKind.
type meterPatch struct {
	rootType reflect.Type
}

// Visit rewrites one node (ast.Visitor).
func (p *meterPatch) Visit(node *ast.Node) {
	p.rootType = (*node).Type()
	switch n := (*node).(type) {
	case *ast.BuiltinNode:
		if f, ok := amplifiers[n.Name]; ok && f != nil {
			args := append([]ast.Node{&ast.IdentifierNode{Value: meterIdent}}, n.Arguments...)
			ast.Patch(node, &ast.CallNode{Callee: &ast.IdentifierNode{Value: amplifierFn(n.Name)}, Arguments: args})
			return
		}
		if predicateBuiltins[n.Name] && len(n.Arguments) > 0 {
			n.Arguments[0] = &ast.CallNode{Callee: &ast.IdentifierNode{Value: fnIter},
				Arguments: []ast.Node{&ast.IdentifierNode{Value: meterIdent}, n.Arguments[0]}}
		}
		wrapSize(node)
	case *ast.BinaryNode:
		if n.Operator == "+" {
			wrapSize(node)
		}
	}
}

// wrapSize charges what node produces to the memory budget, when it can be a string or
// a collection; a node known to be a string stays one for the type checker.
func wrapSize(node *ast.Node) {
	t := (*node).Type()
	fn := fnSize
	if t != nil {
		switch t.Kind() {
		case reflect.String:
			fn = fnSizeString
		case reflect.Slice, reflect.Array, reflect.Map, reflect.Interface:
		default:
			return // numbers, booleans, times: nothing to measure
		}
	}
	inner := *node
	ast.Patch(node, &ast.CallNode{Callee: &ast.IdentifierNode{Value: fn},
		Arguments: []ast.Node{&ast.IdentifierNode{Value: meterIdent}, inner}})
}

// lengthOf is the budget size of v: bytes of a string, elements of a collection.
func lengthOf(v any) int {
	switch t := v.(type) {
	case nil:
		return 0
	case string:
		return len(t)
	case []any:
		return len(t)
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.String, reflect.Slice, reflect.Array, reflect.Map, reflect.Chan:
		return rv.Len()
	}
	return 0
}

// deepSize estimates the bytes v takes printed (strings' bytes, 8 per other value,
// recursively), stopping once it passes limit; every value it visits costs a step.
func deepSize(m *exprMeter, v reflect.Value, limit int) (int, error) {
	if err := m.charge(1, 0); err != nil {
		return 0, err
	}
	switch v.Kind() {
	case reflect.Interface, reflect.Pointer:
		if v.IsNil() {
			return 4, nil
		}
		return deepSize(m, v.Elem(), limit)
	case reflect.String:
		return v.Len() + 2, nil
	case reflect.Slice, reflect.Array:
		total := 2
		for i := 0; i < v.Len() && total <= limit; i++ {
			n, err := deepSize(m, v.Index(i), limit-total)
			if err != nil {
				return 0, err
			}
			total += n + 1
		}
		return total, nil
	case reflect.Map:
		total := 2
		it := v.MapRange()
		for it.Next() && total <= limit {
			k, err := deepSize(m, it.Key(), limit-total)
			if err != nil {
				return 0, err
			}
			e, err := deepSize(m, it.Value(), limit-total-k)
			if err != nil {
				return 0, err
			}
			total += k + e + 2
		}
		return total, nil
	}
	return 8, nil
}

// meteredDeep returns the builtin name, refusing arguments whose printed size would
// pass the memory budget (join of many references to one long string, toJSON of them).
func meteredDeep(name string) func(m *exprMeter, args []any) (any, error) {
	return func(m *exprMeter, args []any) (any, error) {
		size := 0
		for _, a := range args {
			n, err := deepSize(m, reflect.ValueOf(&a).Elem(), maxExprMemory)
			if err != nil {
				return nil, err
			}
			size += n
		}
		if err := m.room(size); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		return callBuiltin(name, args)
	}
}

// meteredRepeat is repeat(s, n), sized before it is built.
func meteredRepeat(m *exprMeter, args []any) (any, error) {
	if len(args) != 2 {
		return nil, fmt.Errorf("repeat takes 2 arguments, got %d", len(args))
	}
	s, ok := args[0].(string)
	n, ok2 := toInt(args[1])
	if !ok || !ok2 || n < 0 {
		return nil, errors.New("repeat takes a string and a count of 0 or more")
	}
	if len(s) > 0 && n > maxExprMemory/len(s) {
		return nil, fmt.Errorf("repeat: %w", m.room(maxExprMemory+1))
	}
	if err := m.room(len(s) * n); err != nil {
		return nil, fmt.Errorf("repeat: %w", err)
	}
	return strings.Repeat(s, n), nil
}

// meteredReplace is replace(s, old, new[, n]), sized before it is built: every
// replacement can grow the string by len(new)-len(old), so chained replaces would
// otherwise double it each time.
func meteredReplace(m *exprMeter, args []any) (any, error) {
	if len(args) != 3 && len(args) != 4 {
		return nil, fmt.Errorf("replace takes 3 or 4 arguments, got %d", len(args))
	}
	s, ok1 := args[0].(string)
	old, ok2 := args[1].(string)
	repl, ok3 := args[2].(string)
	if !ok1 || !ok2 || !ok3 {
		return nil, errors.New("replace takes three strings")
	}
	n := strings.Count(s, old)
	if old == "" {
		n = len(s) + 1 // an empty old matches around every byte (an upper bound for UTF-8)
	}
	if len(args) == 4 {
		limit, ok := toInt(args[3])
		if !ok {
			return nil, errors.New("replace's fourth argument is a count")
		}
		if limit >= 0 && limit < n {
			n = limit
		}
	}
	if grow := len(repl) - len(old); grow > 0 {
		if n > 0 && grow > (maxExprMemory-len(s))/n {
			return nil, fmt.Errorf("replace: %w", m.room(maxExprMemory+1))
		}
		if err := m.room(len(s) + n*grow); err != nil {
			return nil, fmt.Errorf("replace: %w", err)
		}
	}
	if len(args) == 4 {
		return strings.Replace(s, old, repl, n), nil
	}
	return strings.ReplaceAll(s, old, repl), nil
}

func toInt(v any) (int, bool) {
	switch t := v.(type) {
	case int:
		return t, true
	case int64:
		return int(t), true
	case float64:
		return int(t), float64(int(t)) == t
	}
	return 0, false
}

// callBuiltin runs expr's own builtin name on args, once they are known to be safe.
func callBuiltin(name string, args []any) (any, error) {
	i, ok := builtin.Index[name]
	if !ok {
		return nil, fmt.Errorf("no builtin %s", name)
	}
	f := builtin.Builtins[i]
	switch {
	case f.Func != nil:
		return f.Func(args...)
	case f.Safe != nil:
		out, _, err := f.Safe(args...)
		return out, err
	case f.Fast != nil && len(args) == 1:
		return f.Fast(args[0]), nil
	}
	return nil, fmt.Errorf("builtin %s cannot be called with %d arguments", name, len(args))
}

// checkExprSource refuses a source too long or nested too deep before it is compiled.
func checkExprSource(src string) error {
	if len(src) > maxExprLen {
		return fmt.Errorf("the expression is %d bytes long; at most %d are allowed", len(src), maxExprLen)
	}
	tree, err := parser.Parse(src)
	if err != nil {
		return err
	}
	if d := depthOf(tree.Node); d > maxExprDepth {
		return fmt.Errorf("the expression nests %d deep; at most %d levels are allowed", d, maxExprDepth)
	}
	return nil
}

// depthOf returns the height of the AST under n: 1 for a leaf.
func depthOf(n ast.Node) int {
	best := 0
	v := reflect.ValueOf(n)
	if v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return 1
	}
	nodeType := reflect.TypeFor[ast.Node]()
	for i := 0; i < v.NumField(); i++ {
		f := v.Field(i)
		if !f.CanInterface() {
			continue
		}
		switch {
		case f.Type() == nodeType || (f.Kind() == reflect.Pointer && f.Type().Implements(nodeType)):
			if c, ok := f.Interface().(ast.Node); ok && !f.IsNil() {
				best = max(best, depthOf(c))
			}
		case f.Kind() == reflect.Slice && f.Type().Elem() == nodeType:
			for j := 0; j < f.Len(); j++ {
				if c, ok := f.Index(j).Interface().(ast.Node); ok && c != nil {
					best = max(best, depthOf(c))
				}
			}
		}
	}
	return best + 1
}

// exprProblem turns a compile error into a message that names the place and the
// reason but never echoes the expression whole: expr's errors carry a snippet of the
// source, and a hostile expression can be as long as the limit.
func exprProblem(err error) string {
	msg := err.Error()
	var fe *file.Error
	if errors.As(err, &fe) {
		msg = fmt.Sprintf("%s (line %d, column %d)", fe.Message, fe.Line, fe.Column+1)
	}
	return excerpt(msg, maxProblemExcerpt)
}

// exprRunError is an evaluation error cut to an excerpt for logs and audit events
// (expr's runtime errors quote the source), still matching what it wraps.
type exprRunError struct {
	msg string
	err error
}

// Error returns the excerpt.
func (e *exprRunError) Error() string { return e.msg }

// Unwrap returns the evaluation's error, so errors.Is finds a canceled context.
func (e *exprRunError) Unwrap() error { return e.err }

// runError wraps an evaluation error for callers.
func runError(err error) error {
	if err == nil {
		return nil
	}
	return &exprRunError{msg: exprProblem(err), err: err}
}

// excerpt returns s cut to at most n bytes (on a rune boundary), marked when cut.
func excerpt(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
