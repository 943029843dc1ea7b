// Package domain is the ground floor of ShareLedger: identifiers, the event
// contract, the registry that maps stored event names to Go types, and the
// rule errors that the product areas below it (account, device, partnership)
// raise. It imports only the standard library and does no I/O.
package domain
