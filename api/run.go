package api

import (
	"net/http"
)

// Run answers a request that runs fn as an operation of the given kind. With wait
// it runs fn within the request and answers 200 with its result; otherwise it
// starts fn on ops and answers 202 (see [Accepted]), for the client to poll. fn's
// error, or the registry's (ErrOperationsClosed, ErrTooManyRunning), is returned
// for the handler's error table to answer; nothing is written then.
func (ops *Operations) Run(w http.ResponseWriter, r *http.Request, wait bool, kind string, fn OperationFunc) error {
	if wait {
		res, err := fn(r.Context(), func(any) {})
		if err != nil {
			return err
		}
		WriteJSON(w, http.StatusOK, res)
		return nil
	}
	o, err := ops.Start(r.Context(), kind, fn)
	if err != nil {
		return err
	}
	Accepted(w, r, o)
	return nil
}
