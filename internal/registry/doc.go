// Package registry keeps endpoints, tenants and API keys in a compacted
// Kafka topic that every hookline process follows into an in-memory table.
// A Store implements endpoints.Registry, so the dispatcher and the retrier
// read it exactly like the file-backed set, and its writes are records in
// the topic: a change made by one process is in force in every running
// Store as soon as their followers fetch it.
//
// # The topic
//
// One partition (so the log orders every change), cleanup.policy=compact,
// max.message.bytes of kafka.MaxMessageBytes, the broker's replication
// factor. Record keys:
//
//	<endpoint id>        an endpoint (ids never contain "/"); a tombstone deletes it
//	tenant/<tenant id>   a tenant
//	apikey/<key id>      an API key: its tenant, name, display prefix, expiry and
//	                     the SHA-256 of its token
//	apikeyuse/<key id>   when that key was last used
//
// A key record is written once, at create, and deleted by a revocation,
// which then deletes the key's use record too. Uses are recorded in a
// record of their own (at most once per KeyUseInterval per key and
// process, in the background), so a use can neither race with the
// revocation nor write the key back. An expired key stays in the topic,
// listed, until it is revoked; it no longer authenticates.
//
// An endpoint record's "source" says who manages the endpoint: "file"
// for one an endpoints file declares (ApplyFile), absent for one created
// through the API and for every record written before sources existed.
// Every write keeps the source the endpoint has; only a load of the file
// sets it.
//
// Endpoint secrets are sealed with AES-256-GCM under the keyring's first
// master key (random nonce per seal, the key's id in the blob, the record
// key as additional data); nothing else in the topic is secret. API tokens
// carry 256 random bits, so an unsalted SHA-256 is as hard to reverse as
// the token is to guess, and only that hash is written.
//
// # Decided by the log
//
// Every endpoint record carries a version: a create is version 1, an
// update is the version it was based on plus one. A follower applies a
// record only if it still holds at its offset: a create needs a free id
// and, for a non-empty name, a name no live endpoint of the tenant holds;
// an update needs the live endpoint at the version below its own. Every
// Store reads the same log in the same order, so every Store reaches the
// same decisions. The writer reads its own record back: a create that lost
// returns ErrNameTaken, an update that lost to a concurrent write (a 410's
// Disable, say) reapplies its change to the newer value and writes again.
//
// Compaction keeps only the newest record of each key, so a losing record
// must never stay a key's newest: a later replay would take it for the
// truth. The writer therefore corrects every record of its own that lost,
// by retrying (updates), by writing the live value again at the next
// version, or by a tombstone for an id that is not live (a create that
// lost its name). A record that reaches the log with no earlier record of
// its key is applied as it stands: its predecessors were compacted away.
//
// Crash window: a process killed between writing a losing record and its
// correction leaves that record as its key's newest. Running Stores are
// unaffected (they applied the log in order), and the next Store to Open
// repairs such records once they are over a minute old (they are logged).
// What remains is a loser left uncorrected until compaction has removed
// the records that beat it, before any Store opened: its key may then come
// back as it was written. Operators who want that window closed set
// min.compaction.lag.ms on the topic to longer than a deploy takes.
//
// # Reads
//
// Readers load one immutable snapshot through an atomic pointer; the
// follower builds the next one from a copy after each fetch and swaps it
// in. An *Endpoint once published never changes. Older secrets left by
// Rotate are dropped from the snapshot once their RotatedUntil passes, by
// whichever read notices first; no write is needed.
package registry
