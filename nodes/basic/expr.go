package basic

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/vm"

	"github.com/arbor-auth/arbor/identity"
	"github.com/arbor-auth/arbor/nodes"
)

// exprEnv is what an expression (scripted_decision, set_state) sees. Everything in it
// is a copy made for one evaluation, so an expression cannot change the flow.
type exprEnv struct {
	// Shared is a deep copy of the flow's shared state.
	Shared map[string]any `expr:"shared"`
	// Request describes the HTTP request of the step.
	Request exprRequest `expr:"request"`
	// User is the flow's user (username, realm, status, attributes), or nil when the
	// flow has no username yet or no such user exists.
	User map[string]any `expr:"user"`
	// Now is the step's clock reading.
	Now time.Time `expr:"now"`
	// Meter is the node visit's budget, which the calls meterPatch adds use.
	Meter *exprMeter `expr:"arborMeter"`
}

// exprRequest is the request as expressions see it. Headers are reached through a
// function, so that an expression asks for one header by name and names are
// case-insensitive as in HTTP.
type exprRequest struct {
	ClientIP  string
	UserAgent string
	Locales   []string
	Header    func(name string) string `expr:"header"`
}

// exprDoc documents the environment for the palette.
const exprDoc = "Expressions use the expr language (expr-lang.org) and see: shared (the flow's " +
	"shared state, read-only), request (ClientIP, UserAgent, Locales, header(name)), user " +
	"(username, realm, status, attributes; nil without a known user) and now (the step's time)."

// program is a compiled expression and whether it reads the user, which costs a store
// read per evaluation and is skipped when it does not.
type program struct {
	prog     *vm.Program
	needUser bool
	// rootType is the static type of the expression's result, before meterPatch
	// wrapped it (nil when only known at run time).
	rootType reflect.Type
}

// compileExpr compiles src against the expression environment, within the limits of
// expr_limits.go. Its error is fit to show an author: it never echoes src whole.
func compileExpr(src string) (*program, error) {
	if err := checkExprSource(src); err != nil {
		return nil, errors.New(exprProblem(err))
	}
	patch := &meterPatch{}
	opts := append([]expr.Option{expr.Env(exprEnv{})}, exprLimitOptions(patch)...)
	prog, err := expr.Compile(src, opts...)
	if err != nil {
		return nil, errors.New(exprProblem(err))
	}
	v := &identVisitor{}
	root := prog.Node()
	ast.Walk(&root, v)
	return &program{prog: prog, needUser: v.user, rootType: patch.rootType}, nil
}

// identVisitor finds whether an expression names user, directly or through $env.
type identVisitor struct{ user bool }

// Visit records the identifiers an expression uses (ast.Visitor).
func (v *identVisitor) Visit(n *ast.Node) {
	if id, ok := (*n).(*ast.IdentifierNode); ok && (id.Value == "user" || id.Value == "$env") {
		v.user = true
	}
}

// resultKind returns the static result kind of p, or reflect.Interface when it is only
// known at run time.
func (p *program) resultKind() reflect.Kind {
	t := p.rootType
	if t == nil {
		return reflect.Interface
	}
	return t.Kind()
}

// exprRunner evaluates programs for one flow, building the environment once.
type exprRunner struct {
	users *identity.Store
	env   *exprEnv
}

// run evaluates p in ctx. The environment is built on first use and shared by the
// programs of one node visit.
func (r *exprRunner) run(ctx *nodes.Context, p *program) (any, error) {
	if r.env == nil {
		r.env = &exprEnv{
			Shared: deepCopy(map[string]any(ctx.Shared)).(map[string]any),
			Request: exprRequest{
				ClientIP:  ctx.Request.ClientIP,
				UserAgent: ctx.Request.UserAgent,
				Locales:   append([]string(nil), ctx.Request.Locales...),
				Header:    headerFunc(ctx.Request.Header),
			},
			Now:   ctx.Now,
			Meter: &exprMeter{ctx: ctx.Ctx},
		}
	}
	if p.needUser && r.env.User == nil {
		u, err := r.loadUser(ctx)
		if err != nil {
			return nil, err
		}
		r.env.User = u
	}
	v, err := expr.Run(p.prog, *r.env)
	return v, runError(err)
}

// loadUser returns the flow's user as expressions see it: never the password hash.
func (r *exprRunner) loadUser(ctx *nodes.Context) (map[string]any, error) {
	name := ctx.Username()
	if name == "" {
		return nil, nil
	}
	if r.users == nil {
		return nil, errors.New("expression reads user, but no identity store is configured")
	}
	u, err := r.users.Get(ctx.Ctx, ctx.Realm, name)
	if errors.Is(err, identity.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	attrs := map[string]any{}
	if u.Attributes != nil {
		attrs = deepCopy(u.Attributes).(map[string]any)
	}
	return map[string]any{
		"username":   u.Username,
		"realm":      u.Realm,
		"status":     string(u.Status),
		"attributes": attrs,
	}, nil
}

func headerFunc(h http.Header) func(string) string {
	return func(name string) string { return h.Get(name) }
}

// jsonValue returns v as it will read back from the flow store (numbers as float64,
// structs as maps), so a value reads the same in this request and in later ones.
func jsonValue(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("the result cannot be stored: %w", err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, err
	}
	return out, nil
}
