package apidoc_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// publicPackages are the packages whose API users program against.
var publicPackages = []string{"host", "registry", "di", "serve"}

// saysConcurrency reports whether a doc comment says whether its subject
// is safe for concurrent use.
func saysConcurrency(doc string) bool {
	return strings.Contains(strings.ToLower(doc), "concurrent")
}

// TestDocsSayConcurrency checks that every public package's doc says
// whether its functions are safe for concurrent use (a "# Concurrency"
// section), and that every exported type's doc says whether its values are.
func TestDocsSayConcurrency(t *testing.T) {
	for _, dir := range publicPackages {
		t.Run(dir, func(t *testing.T) {
			fset := token.NewFileSet()
			names, err := filepath.Glob(filepath.Join("..", "..", dir, "*.go"))
			require.NoError(t, err)
			files := map[string]*ast.File{}
			for _, name := range names {
				if strings.HasSuffix(name, "_test.go") {
					continue
				}
				f, err := parser.ParseFile(fset, name, nil, parser.ParseComments)
				require.NoError(t, err)
				files[name] = f
			}
			require.NotEmpty(t, files)
			var pkgDoc string
			for _, f := range files {
				if f.Doc != nil {
					pkgDoc += f.Doc.Text()
				}
			}
			assert.Contains(t, pkgDoc, "# Concurrency\n", "package %s: a Concurrency section in its doc", dir)
			assert.Contains(t, strings.ToLower(pkgDoc), "every function of", "package %s: its doc says whether its functions are safe for concurrent use", dir)
			for name, f := range files {
				for _, d := range f.Decls {
					g, ok := d.(*ast.GenDecl)
					if !ok || g.Tok != token.TYPE {
						continue
					}
					for _, s := range g.Specs {
						ts := s.(*ast.TypeSpec)
						if !ts.Name.IsExported() {
							continue
						}
						assert.Truef(t, saysConcurrency(g.Doc.Text()+ts.Doc.Text()),
							"%s: type %s.%s: its doc must say whether it is safe for concurrent use", filepath.Base(name), dir, ts.Name.Name)
					}
				}
			}
		})
	}
}

// TestTheCheckCanFail shows that a type without the sentence is caught.
func TestTheCheckCanFail(t *testing.T) {
	assert.False(t, saysConcurrency("Option configures a Server.\n"))
	assert.True(t, saysConcurrency("A Server is safe for concurrent use.\n"))
}
