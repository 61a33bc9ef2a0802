package graphtest

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The fake evaluates the subset of OData $filter that Graph supports on the endpoints
// mfadesk calls: comparisons (eq ne gt ge lt le) of a property path with a string,
// number, date-time, boolean or null literal; and, or, not, parentheses; startswith;
// and lambdas on collections (targetResources/any(t: t/id eq '…')). Strings compare
// case-insensitively, as Graph does for the properties used here.

// filterNode is a parsed $filter expression.
type filterNode interface {
	eval(env filterEnv) (bool, error)
}

type filterEnv struct {
	root map[string]any
	vars map[string]any
}

type literal struct {
	kind string // string, number, datetime, bool, null
	s    string
	n    float64
	t    time.Time
	b    bool
}

type cmpNode struct {
	path []string
	op   string
	lit  literal
}

type boolNode struct {
	op          string // and, or
	left, right filterNode
}

type notNode struct{ inner filterNode }

type lambdaNode struct {
	path  []string
	all   bool
	v     string
	inner filterNode
}

type startsWithNode struct {
	path   []string
	prefix string
}

// Filter is a parsed $filter.
type Filter struct{ root filterNode }

// ParseFilter parses a $filter value.
func ParseFilter(s string) (*Filter, error) {
	toks, err := lexFilter(s)
	if err != nil {
		return nil, err
	}
	p := &filterParser{toks: toks}
	n, err := p.or()
	if err != nil {
		return nil, err
	}
	if p.i != len(p.toks) {
		return nil, fmt.Errorf("unexpected %q", p.toks[p.i].text)
	}
	return &Filter{n}, nil
}

// Match reports whether obj (a JSON object as encoding/json decodes it) satisfies f.
func (f *Filter) Match(obj map[string]any) (bool, error) {
	return f.root.eval(filterEnv{root: obj, vars: map[string]any{}})
}

// Equalities returns the string literals compared with eq, by property path (e.g.
// "userPrincipalName"), for tests that check that quoting round-trips.
func (f *Filter) Equalities() map[string][]string {
	n := f.root
	out := map[string][]string{}
	var walk func(filterNode)
	walk = func(n filterNode) {
		switch v := n.(type) {
		case *cmpNode:
			if v.op == "eq" && v.lit.kind == "string" {
				k := strings.Join(v.path, "/")
				out[k] = append(out[k], v.lit.s)
			}
		case *boolNode:
			walk(v.left)
			walk(v.right)
		case *notNode:
			walk(v.inner)
		case *lambdaNode:
			walk(v.inner)
		}
	}
	walk(n)
	return out
}

type token struct {
	kind string // ident, string, value, punct
	text string
}

func lexFilter(s string) ([]token, error) {
	var out []token
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case c == ' ' || c == '\t':
			i++
		case c == '(' || c == ')' || c == ',' || c == ':' || c == '/':
			out = append(out, token{"punct", string(c)})
			i++
		case c == '\'':
			var b strings.Builder
			i++
			closed := false
			for i < len(s) {
				if s[i] == '\'' {
					if i+1 < len(s) && s[i+1] == '\'' {
						b.WriteByte('\'')
						i += 2
						continue
					}
					i++
					closed = true
					break
				}
				b.WriteByte(s[i])
				i++
			}
			if !closed {
				return nil, fmt.Errorf("unterminated string literal")
			}
			out = append(out, token{"string", b.String()})
		case c >= '0' && c <= '9' || c == '-':
			j := i + 1
			for j < len(s) && strings.IndexByte("0123456789abcdefABCDEFTZ:.+-", s[j]) >= 0 {
				j++
			}
			out = append(out, token{"value", s[i:j]})
			i = j
		case isIdentByte(c):
			j := i + 1
			for j < len(s) && (isIdentByte(s[j]) || s[j] >= '0' && s[j] <= '9') {
				j++
			}
			out = append(out, token{"ident", s[i:j]})
			i = j
		default:
			return nil, fmt.Errorf("unexpected character %q", c)
		}
	}
	return out, nil
}

func isIdentByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == '@' || c == '.' || c == '$'
}

type filterParser struct {
	toks []token
	i    int
}

func (p *filterParser) peek() (token, bool) {
	if p.i < len(p.toks) {
		return p.toks[p.i], true
	}
	return token{}, false
}

func (p *filterParser) keyword(k string) bool {
	if t, ok := p.peek(); ok && t.kind == "ident" && strings.EqualFold(t.text, k) {
		p.i++
		return true
	}
	return false
}

func (p *filterParser) punct(c string) bool {
	if t, ok := p.peek(); ok && t.kind == "punct" && t.text == c {
		p.i++
		return true
	}
	return false
}

func (p *filterParser) or() (filterNode, error) {
	left, err := p.and()
	if err != nil {
		return nil, err
	}
	for p.keyword("or") {
		right, err := p.and()
		if err != nil {
			return nil, err
		}
		left = &boolNode{"or", left, right}
	}
	return left, nil
}

func (p *filterParser) and() (filterNode, error) {
	left, err := p.unary()
	if err != nil {
		return nil, err
	}
	for p.keyword("and") {
		right, err := p.unary()
		if err != nil {
			return nil, err
		}
		left = &boolNode{"and", left, right}
	}
	return left, nil
}

func (p *filterParser) unary() (filterNode, error) {
	if p.keyword("not") {
		n, err := p.unary()
		if err != nil {
			return nil, err
		}
		return &notNode{n}, nil
	}
	if p.punct("(") {
		n, err := p.or()
		if err != nil {
			return nil, err
		}
		if !p.punct(")") {
			return nil, fmt.Errorf("missing )")
		}
		return n, nil
	}
	if p.keyword("startswith") {
		if !p.punct("(") {
			return nil, fmt.Errorf("startswith needs (")
		}
		path, err := p.path()
		if err != nil {
			return nil, err
		}
		if !p.punct(",") {
			return nil, fmt.Errorf("startswith needs two arguments")
		}
		t, ok := p.peek()
		if !ok || t.kind != "string" {
			return nil, fmt.Errorf("startswith needs a string")
		}
		p.i++
		if !p.punct(")") {
			return nil, fmt.Errorf("missing ) after startswith")
		}
		return &startsWithNode{path, t.text}, nil
	}
	path, err := p.path()
	if err != nil {
		return nil, err
	}
	// A lambda: path/any(v: expr) — path() stopped before "/any".
	if len(path) > 1 && (path[len(path)-1] == "any" || path[len(path)-1] == "all") {
		if !p.punct("(") {
			return nil, fmt.Errorf("%s needs (", path[len(path)-1])
		}
		v, ok := p.peek()
		if !ok || v.kind != "ident" {
			return nil, fmt.Errorf("lambda needs a variable")
		}
		p.i++
		if !p.punct(":") {
			return nil, fmt.Errorf("lambda needs :")
		}
		inner, err := p.or()
		if err != nil {
			return nil, err
		}
		if !p.punct(")") {
			return nil, fmt.Errorf("missing ) after lambda")
		}
		return &lambdaNode{path: path[:len(path)-1], all: path[len(path)-1] == "all", v: v.text, inner: inner}, nil
	}
	op, ok := p.peek()
	if !ok || op.kind != "ident" {
		return nil, fmt.Errorf("expected an operator after %s", strings.Join(path, "/"))
	}
	switch strings.ToLower(op.text) {
	case "eq", "ne", "gt", "ge", "lt", "le":
	default:
		return nil, fmt.Errorf("unsupported operator %q", op.text)
	}
	p.i++
	lit, err := p.literal()
	if err != nil {
		return nil, err
	}
	return &cmpNode{path: path, op: strings.ToLower(op.text), lit: lit}, nil
}

func (p *filterParser) path() ([]string, error) {
	t, ok := p.peek()
	if !ok || t.kind != "ident" {
		return nil, fmt.Errorf("expected a property")
	}
	p.i++
	path := []string{t.text}
	for p.punct("/") {
		t, ok := p.peek()
		if !ok || t.kind != "ident" {
			return nil, fmt.Errorf("expected a property after /")
		}
		p.i++
		path = append(path, t.text)
	}
	return path, nil
}

func (p *filterParser) literal() (literal, error) {
	t, ok := p.peek()
	if !ok {
		return literal{}, fmt.Errorf("expected a value")
	}
	p.i++
	switch t.kind {
	case "string":
		return literal{kind: "string", s: t.text}, nil
	case "value":
		if n, err := strconv.ParseFloat(t.text, 64); err == nil {
			return literal{kind: "number", n: n}, nil
		}
		if tm, err := time.Parse(time.RFC3339Nano, t.text); err == nil {
			return literal{kind: "datetime", t: tm}, nil
		}
		return literal{}, fmt.Errorf("invalid value %q", t.text)
	case "ident":
		switch strings.ToLower(t.text) {
		case "true", "false":
			return literal{kind: "bool", b: strings.EqualFold(t.text, "true")}, nil
		case "null":
			return literal{kind: "null"}, nil
		}
	}
	return literal{}, fmt.Errorf("invalid value %q", t.text)
}

func (env filterEnv) lookup(path []string) any {
	var cur any
	rest := path
	if v, ok := env.vars[path[0]]; ok {
		cur, rest = v, path[1:]
	} else {
		cur = env.root
	}
	for _, seg := range rest {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[seg]
	}
	return cur
}

func (n *cmpNode) eval(env filterEnv) (bool, error) {
	v := env.lookup(n.path)
	if n.lit.kind == "null" {
		isNull := v == nil
		switch n.op {
		case "eq":
			return isNull, nil
		case "ne":
			return !isNull, nil
		}
		return false, fmt.Errorf("null supports only eq and ne")
	}
	if v == nil {
		return n.op == "ne", nil
	}
	var c int
	switch n.lit.kind {
	case "string":
		s, ok := v.(string)
		if !ok {
			return false, fmt.Errorf("%s is not a string", strings.Join(n.path, "/"))
		}
		c = strings.Compare(strings.ToLower(s), strings.ToLower(n.lit.s))
	case "number":
		f, ok := v.(float64)
		if !ok {
			return false, fmt.Errorf("%s is not a number", strings.Join(n.path, "/"))
		}
		c = cmpFloat(f, n.lit.n)
	case "datetime":
		s, _ := v.(string)
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return false, fmt.Errorf("%s is not a date-time", strings.Join(n.path, "/"))
		}
		c = t.Compare(n.lit.t)
	case "bool":
		b, ok := v.(bool)
		if !ok {
			return false, fmt.Errorf("%s is not a boolean", strings.Join(n.path, "/"))
		}
		if b == n.lit.b {
			c = 0
		} else {
			c = 1
		}
		if n.op != "eq" && n.op != "ne" {
			return false, fmt.Errorf("booleans support only eq and ne")
		}
	}
	switch n.op {
	case "eq":
		return c == 0, nil
	case "ne":
		return c != 0, nil
	case "gt":
		return c > 0, nil
	case "ge":
		return c >= 0, nil
	case "lt":
		return c < 0, nil
	default:
		return c <= 0, nil
	}
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (n *boolNode) eval(env filterEnv) (bool, error) {
	l, err := n.left.eval(env)
	if err != nil {
		return false, err
	}
	if n.op == "and" && !l {
		return false, nil
	}
	if n.op == "or" && l {
		return true, nil
	}
	return n.right.eval(env)
}

func (n *notNode) eval(env filterEnv) (bool, error) {
	b, err := n.inner.eval(env)
	return !b, err
}

func (n *startsWithNode) eval(env filterEnv) (bool, error) {
	s, _ := env.lookup(n.path).(string)
	return strings.HasPrefix(strings.ToLower(s), strings.ToLower(n.prefix)), nil
}

func (n *lambdaNode) eval(env filterEnv) (bool, error) {
	list, _ := env.lookup(n.path).([]any)
	for _, el := range list {
		vars := make(map[string]any, len(env.vars)+1)
		for k, v := range env.vars {
			vars[k] = v
		}
		vars[n.v] = el
		ok, err := n.inner.eval(filterEnv{root: env.root, vars: vars})
		if err != nil {
			return false, err
		}
		if ok && !n.all {
			return true, nil
		}
		if !ok && n.all {
			return false, nil
		}
	}
	return n.all, nil
}
