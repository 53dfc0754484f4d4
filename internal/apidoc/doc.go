// Package apidoc holds no code: its test checks the doc comments of the
// public packages (host, registry, di, serve), so that every exported type
// says whether it is safe for concurrent use and every package says it for
// its functions, as the house style asks.
package apidoc
