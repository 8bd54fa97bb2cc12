package httpx

import "errors"

// ErrorRow is a row of a surface's error table. Each surface has its own row type (its codes are
// its contract with its clients, and only some surfaces answer with more than one status) and
// its own table; Sentinel is the error the row answers.
type ErrorRow interface{ Sentinel() error }

// LookupError returns the first row of table whose sentinel err is (errors.Is): the order
// decides for an error that wraps several. ok is false for an error no row knows, which a
// surface answers as its internal error.
func LookupError[Row ErrorRow](table []Row, err error) (row Row, ok bool) {
	for _, row := range table {
		if errors.Is(err, row.Sentinel()) {
			return row, true
		}
	}
	return row, false
}
