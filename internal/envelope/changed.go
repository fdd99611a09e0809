package envelope

import (
	"bytes"
	"slices"
	"strconv"
)

// A record without hl-changed names no changed fields, and an endpoint that
// ignores some fields needs them. Decoding data into maps to compare them
// cost ten times the scan of the whole record, so the comparison here works
// on the validated bytes: values whose text is the same are equal, and only
// values whose text differs are compared by meaning, as ChangedFields
// compares decoded values (numbers by value, strings by their decoded
// characters, objects whatever the order of their members, a repeated key
// by its last value).

// member is one member of a validated object: its key between the quotes
// and the span of its value.
type member struct {
	key []byte
	esc bool
	val []byte
}

// indexAbove is the member count above which lookups go through a map:
// below it, running down the list costs less than building one.
const indexAbove = 32

// memberSet is an object's members, a repeated key kept at its last value
// as decoders do.
type memberSet struct {
	list  []member
	index map[string]int // by decoded key; only above indexAbove members
}

// collect reads the members of the validated object obj into buf.
func collect(obj []byte, buf []member) memberSet {
	s := memberSet{list: buf[:0]}
	for it := newMembers(obj); ; {
		key, esc, val, ok := it.next()
		if !ok {
			break
		}
		if at := s.find(key, esc); at >= 0 {
			s.list[at].val = val
			continue
		}
		s.list = append(s.list, member{key: key, esc: esc, val: val})
		if s.index != nil || len(s.list) > indexAbove {
			s.reindex()
		}
	}
	return s
}

// reindex adds the members not yet in the index.
func (s *memberSet) reindex() {
	if s.index == nil {
		s.index = make(map[string]int, 2*len(s.list))
	}
	for i := len(s.index); i < len(s.list); i++ {
		s.index[decodedKey(s.list[i])] = i
	}
}

// find returns the position of the member whose key decodes as key does,
// or -1.
func (s *memberSet) find(key []byte, esc bool) int {
	if s.index != nil {
		if at, ok := s.index[decodedKey(member{key: key, esc: esc})]; ok {
			return at
		}
		return -1
	}
	for i, m := range s.list {
		if sameKey(m.key, m.esc, key, esc) {
			return i
		}
	}
	return -1
}

func decodedKey(m member) string { return stringOf(m.key, m.esc) }

// sameKey reports whether two validated keys decode to the same string.
func sameKey(a []byte, aEsc bool, b []byte, bEsc bool) bool {
	switch {
	case !aEsc && !bEsc:
		return bytes.Equal(a, b)
	case !aEsc:
		return keyIs(b, bEsc, view(a))
	case !bEsc:
		return keyIs(a, aEsc, view(b))
	}
	return stringOf(a, true) == stringOf(b, true)
}

// changedFromData is ChangedFields over a validated data object: the
// members of data.<object> and data.before that differ, sorted; nil when
// either is missing or not an object.
func changedFromData(eventType string, data []byte) []string {
	var after, before []byte
	object := ObjectName(eventType)
	for it := newMembers(data); ; {
		key, esc, val, ok := it.next()
		if !ok {
			break
		}
		// Both when the object is called before.
		if keyIs(key, esc, object) {
			after = val
		}
		if keyIs(key, esc, BeforeKey) {
			before = val
		}
	}
	if len(after) == 0 || after[0] != '{' || len(before) == 0 || before[0] != '{' {
		return nil
	}
	var abuf, bbuf [16]member
	a, b := collect(after, abuf[:]), collect(before, bbuf[:])
	// Room for the few fields an update changes: one allocation.
	changed := make([]string, 0, 4)
	for _, m := range a.list {
		if at := b.find(m.key, m.esc); at < 0 || !sameValue(m.val, b.list[at].val) {
			changed = append(changed, decodedKey(m))
		}
	}
	for _, m := range b.list {
		if a.find(m.key, m.esc) < 0 {
			changed = append(changed, decodedKey(m))
		}
	}
	slices.Sort(changed)
	return changed
}

// sameValue reports whether two validated values decode to equal values.
func sameValue(a, b []byte) bool {
	if bytes.Equal(a, b) {
		return true
	}
	switch a[0] {
	case '"':
		return b[0] == '"' && sameString(a[1:len(a)-1], b[1:len(b)-1])
	case '{':
		return b[0] == '{' && sameObject(a, b)
	case '[':
		return b[0] == '[' && sameArray(a, b)
	case 't', 'f', 'n':
		// Literals of the same text were equal above.
		return false
	}
	return sameNumber(a, b)
}

// sameString compares the contents of two validated strings by the
// characters they decode to.
func sameString(a, b []byte) bool {
	aEsc, bEsc := bytes.IndexByte(a, '\\') >= 0, bytes.IndexByte(b, '\\') >= 0
	return (aEsc || bEsc) && sameKey(a, aEsc, b, bEsc)
}

// sameNumber compares two numbers as ChangedFields does: by value when
// both are in float64's range, else by their text (which differed).
func sameNumber(a, b []byte) bool {
	if b[0] != '-' && (b[0] < '0' || b[0] > '9') {
		return false
	}
	x, err := strconv.ParseFloat(view(a), 64)
	if err != nil {
		return false
	}
	y, err := strconv.ParseFloat(view(b), 64)
	return err == nil && x == y
}

func sameObject(a, b []byte) bool {
	var abuf, bbuf [8]member
	x, y := collect(a, abuf[:]), collect(b, bbuf[:])
	if len(x.list) != len(y.list) {
		return false
	}
	for _, m := range x.list {
		if at := y.find(m.key, m.esc); at < 0 || !sameValue(m.val, y.list[at].val) {
			return false
		}
	}
	return true
}

func sameArray(a, b []byte) bool {
	i, j := skipSpace(a, 1), skipSpace(b, 1)
	for {
		endA, endB := a[i] == ']', b[j] == ']'
		if endA || endB {
			return endA && endB
		}
		ea, eb := skipValue(a, i), skipValue(b, j)
		if !sameValue(a[i:ea], b[j:eb]) {
			return false
		}
		i, j = skipSpace(a, ea), skipSpace(b, eb)
		if a[i] == ',' {
			i = skipSpace(a, i+1)
		}
		if b[j] == ',' {
			j = skipSpace(b, j+1)
		}
	}
}
