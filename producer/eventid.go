package producer

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/hookline/hookline/internal/envelope"
)

// DefaultVersionField is Config.VersionField's default: the object field
// the catalog's objects carry their last write time in.
const DefaultVersionField = "updatedUtc"

// eventID derives the eventId of an event published without one.
// Receivers dedupe by eventId, which must be stable per write: a service
// that publishes again after a timeout must get the id of its first try. In
// order:
//
//  1. ev.Version: "<object>:<id>:<version>";
//  2. data.<object>.<VersionField> (updatedUtc): "<object>:<id>:<value>";
//  3. with RandomEventIDs: "<object>:<24 random hex>";
//  4. otherwise "<object>:<id>:h<24 hex of SHA-256 over type and data>",
//     the same for the same write, so two writes leaving identical data
//     (a status set, unset and set again) share an id unless they carry
//     a version.
func (p *Producer) eventID(ev *Event) string {
	object := envelope.ObjectName(ev.Type)
	id := envelope.ObjectID(ev.Type, ev.Data)
	if id == "" {
		return randomEventID(object) // refused for its missing id anyway
	}
	if v := ev.Version; v != "" {
		return object + ":" + id + ":" + v
	}
	if v := p.versionOf(ev, object); v != "" {
		return object + ":" + id + ":" + v
	}
	if p.random {
		return randomEventID(object)
	}
	return object + ":" + id + ":h" + contentHash(ev)
}

// versionOf returns data.<object>.<VersionField> as text, or "".
func (p *Producer) versionOf(ev *Event, object string) string {
	obj, _ := ev.Data[object].(map[string]any)
	switch v := obj[p.versionField].(type) {
	case string:
		return v
	case json.Number:
		return v.String()
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case int, int32, int64, uint, uint32, uint64:
		return fmt.Sprint(v)
	}
	return ""
}

// contentHash digests the type and data as they will be encoded (keys
// sorted), which is what a retried publish of the same write repeats.
func contentHash(ev *Event) string {
	scratch := scratchPool.Get().(*[]byte)
	defer scratchPool.Put(scratch)
	enc, err := envelope.AppendJSON((*scratch)[:0], &Event{Type: ev.Type, Data: ev.Data})
	if err != nil {
		// Unencodable data is refused once the record is encoded; the id
		// only has to be well-formed until then.
		return hex.EncodeToString(make([]byte, 12))
	}
	*scratch = enc[:0]
	sum := sha256.Sum256(enc)
	return hex.EncodeToString(sum[:12])
}

// randomEventID is "<object>:<24 random hex>".
func randomEventID(object string) string {
	var r [12]byte
	_, _ = rand.Read(r[:])
	id := make([]byte, len(object)+1+hex.EncodedLen(len(r)))
	n := copy(id, object)
	id[n] = ':'
	hex.Encode(id[n+1:], r[:])
	return string(id)
}
