// This file lets the package declare Go functions without a body (go:linkname to simplego's, see
// broadcast.go) on every architecture.
