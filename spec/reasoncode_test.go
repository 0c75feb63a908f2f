package spec

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestReasonCodesAreDeclared: every code the core gives is one of the
// ReasonCode constants (declared once, with distinct values), and no code
// is compared as a bare string: control flow reads the constants.
func TestReasonCodesAreDeclared(t *testing.T) {
	fset := token.NewFileSet()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	declared := map[string]string{}
	var parsed []*ast.File
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		parsed = append(parsed, f)
		for _, d := range f.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok || g.Tok != token.CONST {
				continue
			}
			for _, s := range g.Specs {
				vs := s.(*ast.ValueSpec)
				if id, ok := vs.Type.(*ast.Ident); !ok || id.Name != "ReasonCode" {
					continue
				}
				for i, n := range vs.Names {
					v, _ := strconv.Unquote(vs.Values[i].(*ast.BasicLit).Value)
					if prev, dup := declared[v]; dup {
						t.Errorf("code %q declared twice: %s and %s", v, prev, n.Name)
					}
					declared[v] = n.Name
				}
			}
		}
	}
	if len(declared) == 0 {
		t.Fatal("no ReasonCode constants found")
	}
	for _, f := range parsed {
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.CallExpr:
				if id, ok := n.Fun.(*ast.Ident); ok && id.Name == "reason" && len(n.Args) > 0 {
					if lit, ok := n.Args[0].(*ast.BasicLit); ok {
						if v, _ := strconv.Unquote(lit.Value); declared[v] == "" {
							t.Errorf("%s: reason code %q is not a declared ReasonCode", fset.Position(lit.Pos()), v)
						}
					}
				}
			case *ast.BinaryExpr:
				if isCodeField(n.X) && isStringLit(n.Y) || isCodeField(n.Y) && isStringLit(n.X) {
					t.Errorf("%s: a reason code compared with a bare string", fset.Position(n.Pos()))
				}
			case *ast.SwitchStmt:
				if n.Tag != nil && isCodeField(n.Tag) {
					for _, c := range n.Body.List {
						for _, e := range c.(*ast.CaseClause).List {
							if isStringLit(e) {
								t.Errorf("%s: a reason code switched on with a bare string", fset.Position(e.Pos()))
							}
						}
					}
				}
			}
			return true
		})
	}
}

func isCodeField(e ast.Expr) bool {
	s, ok := e.(*ast.SelectorExpr)
	return ok && s.Sel.Name == "Code"
}

func isStringLit(e ast.Expr) bool {
	l, ok := e.(*ast.BasicLit)
	return ok && l.Kind == token.STRING
}
