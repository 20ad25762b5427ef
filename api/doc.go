// Package api holds the HTTP helpers every graphvault handler shares: RFC 9457
// problem+json answers and the one place errors become status codes, strict JSON
// request decoding, cursor pagination parameters, id validation, a bearer-token
// authorizer, and an in-memory registry of long-running operations that requests
// answer with 202 Accepted.
//
// # Errors
//
// [WriteError] answers with the status of the first rule that matches the error:
// an *[Error] (or any error with an HTTPStatus() int method) in its chain; a sentinel
// registered in an [ErrorMap]; a storage failure (an operating-system error in the chain:
// ENOSPC or EDQUOT 507, EROFS, EACCES or EPERM 503); context.DeadlineExceeded (504)
// or context.Canceled (503); anything else is 500. The detail of a 4xx answer is the
// error's text; a 5xx answer carries a generic detail (for a storage failure, its
// cause without any path) and the error is logged through the request's logger (see
// [WithLogger]) instead.
//
// # Requests
//
// [Routes], under every [Mux], answers 400 for a path that is not clean or not
// valid UTF-8 and for a query that is malformed or not valid UTF-8, 404 for an
// unknown path and 405 with Allow for another method. [Decode] refuses a body that
// is not valid UTF-8 (see [CheckJSONText]) before it decodes anything.
package api
