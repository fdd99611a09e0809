// Package schemas embeds hookline's JSON Schemas: the event envelope
// (envelope.schema.json) and one schema per event type for the envelope's
// data object (events/<type>.schema.json). Operators add or override event
// types at run time with a directory of the same layout; see
// internal/catalog.
package schemas

import "embed"

// FS holds envelope.schema.json and events/*.schema.json.
//
//go:embed envelope.schema.json events/*.schema.json
var FS embed.FS
