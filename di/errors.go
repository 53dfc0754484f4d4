package di

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
)

// Sentinel errors. Every error the package returns wraps one of them (or the
// error of a build func or a Close method) and adds the types involved, so
// check them with [errors.Is]. They are values, safe for concurrent use.
var (
	// ErrNoProvider reports a Resolve of a type that has no provider. The
	// message lists the provided types.
	ErrNoProvider = errors.New("di: no provider")

	// ErrNoRequestScope reports a Resolve of a Request-lifetime type with a
	// context that carries no request scope of the container: a context not
	// derived from [Container.BeginRequest].
	ErrNoRequestScope = errors.New("di: no request scope")

	// ErrCaptiveDependency reports a Singleton whose build resolves,
	// directly or through Transient providers, a Request-lifetime type: the
	// singleton would outlive the request it captured.
	ErrCaptiveDependency = errors.New("di: captive dependency")

	// ErrCycle reports a type whose build needs itself. The message spells
	// out the path: "di: dependency cycle: *a.A -> *b.B -> *a.A".
	ErrCycle = errors.New("di: dependency cycle")

	// ErrDuplicateProvider reports a second Provide for the same type.
	ErrDuplicateProvider = errors.New("di: duplicate provider")

	// ErrInvalidProvider reports a Provide with a nil build func or an
	// unknown Lifetime.
	ErrInvalidProvider = errors.New("di: invalid provider")

	// ErrScopeEnded reports a Resolve in a request scope after its End.
	ErrScopeEnded = errors.New("di: request scope ended")

	// ErrContainerClosed reports a Provide or Resolve after [Container.Close].
	ErrContainerClosed = errors.New("di: container closed")
)

// buildError wraps the error of typ's build func.
func buildError(typ reflect.Type, err error) error {
	return fmt.Errorf("di: build %s: %w", typ, err)
}

// closeError wraps the error of a Close method of a value of type typ.
func closeError(typ reflect.Type, err error) error {
	return fmt.Errorf("di: close %s: %w", typ, err)
}

// cycleError reports the dependency cycle path, whose first and last
// elements are the same type.
func cycleError(path []reflect.Type) error {
	return fmt.Errorf("%w: %s", ErrCycle, joinTypes(path))
}

// joinTypes spells path as "A -> B -> C".
func joinTypes(path []reflect.Type) string {
	var b strings.Builder
	for i, t := range path {
		if i > 0 {
			b.WriteString(" -> ")
		}
		b.WriteString(t.String())
	}
	return b.String()
}
