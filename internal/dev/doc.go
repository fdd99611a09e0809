// Package dev holds the in-process backends of `hookline dev`: an embedded
// Kafka (kfake) that persists under a data directory, and an in-process
// Redis (miniredis) whose keys expire in real time and are snapshotted to a
// file, so that a restarted dev keeps its done marks and leases as it keeps
// the broker's offsets.
//
// It is dev-only. The components hookline runs in production (dispatcher,
// retrier, producer, the API and the internal packages they build on) must
// not import it, nor kfake or miniredis directly: those are test doubles
// with their own failure modes, and a production binary path that can reach
// them could end up running on one. TestProductionPackagesDoNotImportDev
// enforces it; only the CLI (for `dev`) and test helpers may import this
// package.
package dev
