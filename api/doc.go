// Package httpx holds the HTTP helpers every graphvault handler shares: RFC 9457
// problem+json answers and the one place errors become status codes, strict JSON
// request decoding, cursor pagination parameters, id validation, a bearer-token
// authorizer, and an in-memory registry of long-running operations that requests
// answer with 202 Accepted.
//
// # Errors
//
// [WriteError] answers with the status of the first rule that matches the error:
// an *[Error] (or any error with an HTTPStatus() int method) in its chain; a sentinel
// registered with [Map]; context.DeadlineExceeded (504) or context.Canceled (503);
// anything else is 500. The detail of a 4xx answer is the error's text; a 5xx answer
// carries a generic detail and the error is logged through the request's logger (see
// [WithLogger]) instead.
package api
