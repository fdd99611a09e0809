package envelope

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/bits"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// maxNesting bounds how deeply a record's value may nest, counting the
// envelope itself. It is well above what AppendJSON writes (maxDepth levels
// of data) and keeps the scanner's recursion small whatever a client sends.
const maxNesting = 128

// typeNamePattern is the rule IsTypeName applies, for error messages.
const typeNamePattern = `^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$`

// The envelope fields routing reads, as bits of a seen-set.
const (
	fieldType = 1 << iota
	fieldTenant
	fieldEventID
	fieldOrigin
	fieldApplication
	fieldData
)

// routingKeys is indexed by bit position.
var routingKeys = [...]string{"type", "tenantId", "eventId", "origin", "application", "data"}

// plain marks the bytes a string may hold as they are: printable ASCII other
// than the quote and the backslash. Everything else takes the slow path.
var plain = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// malformed is an ErrMalformed with what is wrong.
func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// quote renders a value from a record for an error message, cut short so a
// hostile record cannot make the reason header as large as itself.
func quote(s string) string {
	const limit = 64
	if len(s) <= limit {
		return strconv.Quote(s)
	}
	return strconv.Quote(s[:limit]) + "..."
}

func quoteByte(c byte) string { return strconv.QuoteRune(rune(c)) }

// scan reads the routing fields from a record's value, which must be
// exactly one JSON object: the dispatcher splices values into batch bodies
// as they are, so anything a strict parser would refuse must stop here.
// Keys match exactly, and a top-level key that folds to a routing key's name
// without being it, or repeats one, is refused: receivers decode with
// parsers that differ on both, and the record must not mean one tenant to
// hookline and another to them. The strings in the result share value's
// memory unless the JSON escaped them; nothing is allocated otherwise.
func scan(value []byte) (Meta, error) {
	var m Meta
	s := scanner{b: value}
	b := value
	i := skipSpace(b, 0)
	if i == len(b) {
		return m, malformed("value is empty")
	}
	if b[i] != '{' {
		return m, malformed("value is not a JSON object (byte %d is %s)", i, quoteByte(b[i]))
	}
	var seen int
	typeBeforeData := false
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		i++
	} else {
		for {
			if i >= len(b) || b[i] != '"' {
				s.expected(i, "a string key")
				return Meta{}, s.err
			}
			keyAt := i
			end, esc := s.str(i)
			if end < 0 {
				return Meta{}, s.err
			}
			field, err := routingKey(b[keyAt+1:end-1], esc, keyAt)
			if err != nil {
				return Meta{}, err
			}
			if field != 0 && seen&field != 0 {
				return Meta{}, malformed("duplicate key %s at byte %d", quote(view(b[keyAt+1:end-1])), keyAt)
			}
			seen |= field
			if i = s.colon(end); i < 0 {
				return Meta{}, s.err
			}
			switch field {
			case 0:
				i = s.value(i, 1)
			case fieldData:
				if i >= len(b) || b[i] != '{' {
					if i = s.value(i, 1); i < 0 {
						return Meta{}, s.err
					}
					return Meta{}, malformed("data is not an object")
				}
				// The producer writes type first: then the object's id
				// is found in this pass rather than a second one.
				start := i
				object := ""
				if m.Type != "" {
					object, typeBeforeData = ObjectName(m.Type), true
				}
				var id, idEnd int
				if i, id, idEnd = s.object(i, 2, object, "id"); i >= 0 {
					m.data = b[start:i:i]
					if id >= 0 {
						m.ObjectID = idText(b[id:idEnd])
					}
				}
			default:
				name := routingKeys[bits.TrailingZeros(uint(field))]
				if i >= len(b) || b[i] != '"' {
					if i = s.value(i, 1); i < 0 {
						return Meta{}, s.err
					}
					return Meta{}, malformed("%s is not a string", name)
				}
				start := i
				var esc bool
				if i, esc = s.str(i); i >= 0 {
					v := stringOf(b[start+1:i-1], esc)
					switch field {
					case fieldType:
						m.Type = v
					case fieldTenant:
						m.TenantID = v
					case fieldEventID:
						m.EventID = v
					case fieldOrigin:
						m.Origin = v
					case fieldApplication:
						m.Application = v
					}
				}
			}
			if i < 0 {
				return Meta{}, s.err
			}
			i = skipSpace(b, i)
			if i < len(b) && b[i] == ',' {
				i = skipSpace(b, i+1)
				continue
			}
			if i < len(b) && b[i] == '}' {
				i++
				break
			}
			s.expected(i, "',' or '}'")
			return Meta{}, s.err
		}
	}
	if i = skipSpace(b, i); i != len(b) {
		return Meta{}, malformed("trailing data after the object at byte %d", i)
	}
	switch {
	case seen&fieldType == 0:
		return Meta{}, malformed("missing type")
	case m.Type == "":
		return Meta{}, malformed("empty type")
	case !IsTypeName(m.Type):
		return Meta{}, malformed("type %s does not match %s", quote(m.Type), typeNamePattern)
	case seen&fieldTenant == 0:
		return Meta{}, malformed("missing tenantId")
	case m.TenantID == "":
		return Meta{}, malformed("empty tenantId")
	case seen&fieldEventID == 0:
		return Meta{}, malformed("missing eventId")
	case m.EventID == "":
		return Meta{}, malformed("empty eventId")
	case seen&fieldData == 0:
		return Meta{}, malformed("missing data")
	}
	if !typeBeforeData {
		m.ObjectID = objectID(m.data, ObjectName(m.Type))
	}
	return m, nil
}

// routingKey returns the field bit of a top-level key (raw, between its
// quotes), 0 for a key routing ignores, or an error for a case variant of a
// routing key.
func routingKey(raw []byte, esc bool, at int) (int, error) {
	key := raw
	if esc {
		// Escapes never lengthen a key, and a routing key's name is
		// ASCII of at most 8 bytes: \u escapes of 8 characters take 48.
		if len(raw) > 48 {
			return 0, nil
		}
		var buf [48]byte
		key = unescape(buf[:0], raw)
	}
	switch string(key) {
	case "type":
		return fieldType, nil
	case "tenantId":
		return fieldTenant, nil
	case "eventId":
		return fieldEventID, nil
	case "origin":
		return fieldOrigin, nil
	case "application":
		return fieldApplication, nil
	case "data":
		return fieldData, nil
	}
	// None of the routing keys' names holds a k or an s, the only ASCII
	// letters that non-ASCII characters fold to, so a case variant of one
	// is ASCII and of its length.
	for _, name := range routingKeys {
		if len(key) == len(name) && strings.EqualFold(view(key), name) {
			return 0, malformed("key %s at byte %d is a case variant of %q", quote(string(key)), at, name)
		}
	}
	return 0, nil
}

// stringOf is raw (a validated string's contents) as a string: a view when
// nothing is escaped, else decoded.
func stringOf(raw []byte, esc bool) string {
	if !esc {
		return view(raw)
	}
	return string(unescape(make([]byte, 0, len(raw)), raw))
}

// scanner validates JSON. Its methods return the index after what they read,
// or -1 with err set.
type scanner struct {
	b   []byte
	err error
}

func (s *scanner) syntax(at int, format string, args ...any) int {
	if s.err == nil {
		s.err = malformed("invalid JSON at byte %d: %s", at, fmt.Sprintf(format, args...))
	}
	return -1
}

func (s *scanner) expected(at int, what string) int {
	if at >= len(s.b) {
		return s.syntax(at, "unexpected end, want %s", what)
	}
	return s.syntax(at, "unexpected %s, want %s", quoteByte(s.b[at]), what)
}

// space marks the bytes JSON allows between tokens.
var space = [256]bool{' ': true, '\t': true, '\n': true, '\r': true}

// skipSpace returns the index of the first byte from i that is not space.
// Bytes above the space character never are, and compact JSON has nothing
// else between tokens, so they skip the table.
func skipSpace(b []byte, i int) int {
	for i < len(b) && b[i] <= ' ' && space[b[i]] {
		i++
	}
	return i
}

// colon reads the colon after a key and the space around it. Producers
// write no space there, so that case skips the loops.
func (s *scanner) colon(i int) int {
	b := s.b
	if i >= len(b) || b[i] != ':' {
		if i = skipSpace(b, i); i >= len(b) || b[i] != ':' {
			return s.expected(i, "':'")
		}
	}
	return skipSpace(b, i+1)
}

// key reads a member's key and its colon at i and returns where the value
// starts.
func (s *scanner) key(i int) int {
	if i >= len(s.b) || s.b[i] != '"' {
		return s.expected(i, "a string key")
	}
	if j := plainRun(s.b, i+1); j < len(s.b) && s.b[j] == '"' {
		return s.colon(j + 1)
	}
	if i, _ = s.str(i); i < 0 {
		return -1
	}
	return s.colon(i)
}

// value reads one value at i; depth counts the containers around it.
// Containers are walked in a loop rather than by recursion, with a bit per
// level saying whether it is an array: data's values are most of a record,
// and a call per value and per member cost more than reading them.
func (s *scanner) value(i, depth int) int {
	b := s.b
	base := depth
	var arrays [(maxNesting + 63) / 64]uint64
	for {
		if i >= len(b) {
			return s.expected(i, "a value")
		}
		switch c := b[i]; c {
		case '"':
			if j := plainRun(b, i+1); j < len(b) && b[j] == '"' {
				i = j + 1
			} else if i, _ = s.str(i); i < 0 {
				return -1
			}
		case '{', '[':
			if depth >= maxNesting {
				return s.syntax(i, "nested deeper than %d levels", maxNesting)
			}
			d := uint(depth - base)
			bit := uint64(1) << (d % 64)
			if c == '[' {
				arrays[d/64%uint(len(arrays))] |= bit
			} else {
				arrays[d/64%uint(len(arrays))] &^= bit
			}
			depth++
			// '}' and ']' are two past their openers.
			if i = skipSpace(b, i+1); i < len(b) && b[i] == c+2 {
				i++
				depth--
				break
			}
			if c == '{' {
				if i = s.key(i); i < 0 {
					return -1
				}
			}
			continue
		case 't':
			if i = s.literal(i, "true"); i < 0 {
				return -1
			}
		case 'f':
			if i = s.literal(i, "false"); i < 0 {
				return -1
			}
		case 'n':
			if i = s.literal(i, "null"); i < 0 {
				return -1
			}
		default:
			if c != '-' && (c < '0' || c > '9') {
				return s.expected(i, "a value")
			}
			if i = s.number(i); i < 0 {
				return -1
			}
		}
		// After a value: close what it ends, then on to the next one.
		for depth > base {
			d := uint(depth - base - 1)
			array := arrays[d/64%uint(len(arrays))]>>(d%64)&1 != 0
			if i >= len(b) || space[b[i]] {
				i = skipSpace(b, i)
			}
			if i < len(b) && b[i] == ',' {
				i = skipSpace(b, i+1)
				if !array {
					if i = s.key(i); i < 0 {
						return -1
					}
				}
				break
			}
			switch {
			case !array && i < len(b) && b[i] == '}', array && i < len(b) && b[i] == ']':
				i++
				depth--
				continue
			case array:
				return s.expected(i, "',' or ']'")
			}
			return s.expected(i, "',' or '}'")
		}
		if depth == base {
			return i
		}
	}
}

// object reads the object at i, which is depth containers deep. When want
// is not empty it also finds the last member whose key is want and returns
// the span of its value, or, when inner is not empty, the span object found
// for inner in that value; -1, -1 when there is none.
func (s *scanner) object(i, depth int, want, inner string) (end, found, foundEnd int) {
	found, foundEnd = -1, -1
	if depth > maxNesting {
		return s.syntax(i, "nested deeper than %d levels", maxNesting), -1, -1
	}
	b := s.b
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1, -1, -1
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return s.expected(i, "a string key"), -1, -1
		}
		keyAt := i
		var esc bool
		if j := plainRun(b, i+1); j < len(b) && b[j] == '"' {
			i = j + 1
		} else if i, esc = s.str(i); i < 0 {
			return -1, -1, -1
		}
		match := want != "" && keyIs(b[keyAt+1:i-1], esc, want)
		if i = s.colon(i); i < 0 {
			return -1, -1, -1
		}
		switch start := i; {
		case !match && i < len(b) && b[i] == '"':
			if j := plainRun(b, i+1); j < len(b) && b[j] == '"' {
				i = j + 1
			} else {
				i, _ = s.str(i)
			}
		case !match:
			i = s.value(i, depth)
		case inner == "":
			i = s.value(i, depth)
			found, foundEnd = start, i
		case i < len(b) && b[i] == '{':
			i, found, foundEnd = s.object(i, depth+1, inner, "")
		default:
			i = s.value(i, depth)
			found, foundEnd = -1, -1
		}
		if i < 0 {
			return -1, -1, -1
		}
		if i >= len(b) || b[i] != ',' && b[i] != '}' {
			i = skipSpace(b, i)
		}
		if i < len(b) && b[i] == ',' {
			i = skipSpace(b, i+1)
			continue
		}
		if i < len(b) && b[i] == '}' {
			return i + 1, found, foundEnd
		}
		return s.expected(i, "',' or '}'"), -1, -1
	}
}

// str reads the string at i and reports whether it holds escapes.
func (s *scanner) str(i int) (int, bool) {
	b := s.b
	j := i + 1
	esc := false
	for {
		j = plainRun(b, j)
		for j < len(b) && plain[b[j]] {
			j++
		}
		if j >= len(b) {
			return s.syntax(i, "unterminated string"), false
		}
		switch c := b[j]; {
		case c == '"':
			return j + 1, esc
		case c == '\\':
			esc = true
			if j = s.escape(j); j < 0 {
				return -1, false
			}
		case c < 0x20:
			return s.syntax(j, "control character %s in a string", quoteByte(c)), false
		default:
			// A run of bytes from 0x80 up holds whole sequences
			// when it is valid UTF-8, so it is checked on its own.
			k := j + 1
			for k < len(b) && b[k] >= utf8.RuneSelf {
				k++
			}
			if !utf8.Valid(b[j:k]) {
				return s.badUTF8(j), false
			}
			j = k
		}
	}
}

// plainRun returns the index of the first byte from j that is not plain,
// or of one of the last 7 bytes of b, looking eight bytes at a time. It is
// small enough to be inlined: where most strings are read, the closing
// quote it finds ends the string without a call to str.
func plainRun(b []byte, j int) int {
	for j+8 <= len(b) {
		if m := special8(binary.LittleEndian.Uint64(b[j:])); m != 0 {
			return j + bits.TrailingZeros64(m)/8
		}
		j += 8
	}
	return j
}

// badUTF8 reports the first invalid sequence from i.
func (s *scanner) badUTF8(i int) int {
	for i < len(s.b) {
		r, size := utf8.DecodeRune(s.b[i:])
		if r == utf8.RuneError && size == 1 {
			break
		}
		i += size
	}
	return s.syntax(i, "invalid UTF-8 in a string")
}

// special8 has the high bit set in each of the 8 bytes of x that is not
// plain (below 0x20, above 0x7f, a quote or a backslash), at least in the
// lowest of them: a borrow may mark bytes above it, never below. Strings are
// most of an envelope, and this lets str pass over them a word at a time.
// A subtraction only sets a byte's high bit where the byte was below what
// it took away or already had the bit, so or-ing in x itself covers both.
func special8(x uint64) uint64 {
	const ones, high = 0x0101010101010101, 0x8080808080808080
	return ((x - 0x20*ones) | ((x ^ '"'*ones) - ones) | ((x ^ '\\'*ones) - ones) | x) & high
}

// escape reads the escape at i. Escaped surrogates must pair up: a lone one
// stands for no character, and decoders disagree on what to make of it.
func (s *scanner) escape(i int) int {
	b := s.b
	if i+1 >= len(b) {
		return s.syntax(i, "unterminated escape")
	}
	switch b[i+1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return i + 2
	case 'u':
		r, ok := hex4(b, i+2)
		if !ok {
			return s.syntax(i, `invalid \u escape`)
		}
		if !utf16.IsSurrogate(r) {
			return i + 6
		}
		if r < 0xdc00 && i+7 < len(b) && b[i+6] == '\\' && b[i+7] == 'u' {
			if lo, ok := hex4(b, i+8); ok && lo >= 0xdc00 && lo < 0xe000 {
				return i + 12
			}
		}
		return s.syntax(i, `unpaired surrogate \u%04x`, r)
	}
	return s.syntax(i, "invalid escape %s", quoteByte(b[i+1]))
}

func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

func (s *scanner) number(i int) int {
	b := s.b
	start := i
	if b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		i = digits(b, i+1)
	default:
		return s.syntax(start, "invalid number")
	}
	if i < len(b) && b[i] == '.' {
		j := digits(b, i+1)
		if j == i+1 {
			return s.syntax(start, "invalid number: no digits after the point")
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := digits(b, i)
		if j == i {
			return s.syntax(start, "invalid number: no digits in the exponent")
		}
		i = j
	}
	return i
}

func digits(b []byte, i int) int {
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	return i
}

func (s *scanner) literal(i int, word string) int {
	if !bytes.HasPrefix(s.b[i:], []byte(word)) {
		return s.syntax(i, "invalid literal, want %s", word)
	}
	return i + len(word)
}

// unescapeRune decodes the escape at raw[i] of a validated string and
// returns the index after it.
func unescapeRune(raw []byte, i int) (rune, int) {
	switch c := raw[i+1]; c {
	case 'b':
		return '\b', i + 2
	case 'f':
		return '\f', i + 2
	case 'n':
		return '\n', i + 2
	case 'r':
		return '\r', i + 2
	case 't':
		return '\t', i + 2
	case 'u':
		r, _ := hex4(raw, i+2)
		if !utf16.IsSurrogate(r) {
			return r, i + 6
		}
		lo, _ := hex4(raw, i+8)
		return utf16.DecodeRune(r, lo), i + 12
	default:
		return rune(c), i + 2
	}
}

// unescape appends the decoded contents of a validated string to dst.
func unescape(dst, raw []byte) []byte {
	for i := 0; i < len(raw); {
		if raw[i] != '\\' {
			dst = append(dst, raw[i])
			i++
			continue
		}
		var r rune
		r, i = unescapeRune(raw, i)
		dst = utf8.AppendRune(dst, r)
	}
	return dst
}

// keyIs reports whether a validated key (raw, between its quotes) decodes
// to want.
func keyIs(raw []byte, esc bool, want string) bool {
	if !esc {
		return string(raw) == want
	}
	j := 0
	for i := 0; i < len(raw); {
		if raw[i] != '\\' {
			if j >= len(want) || want[j] != raw[i] {
				return false
			}
			i++
			j++
			continue
		}
		var r rune
		r, i = unescapeRune(raw, i)
		var enc [utf8.UTFMax]byte
		n := utf8.EncodeRune(enc[:], r)
		if len(want)-j < n || want[j:j+n] != string(enc[:n]) {
			return false
		}
		j += n
	}
	return j == len(want)
}

// members walks the members of a validated object.
type members struct {
	b []byte
	i int
}

func newMembers(obj []byte) members { return members{b: obj, i: skipSpace(obj, 1)} }

// next returns the next key (between its quotes) and the span of its value.
func (it *members) next() (key []byte, esc bool, val []byte, ok bool) {
	b := it.b
	if it.i >= len(b) || b[it.i] != '"' {
		return nil, false, nil, false
	}
	end, esc := skipString(b, it.i)
	key = b[it.i+1 : end-1]
	start := skipSpace(b, skipSpace(b, end)+1)
	stop := skipValue(b, start)
	val = b[start:stop]
	it.i = skipSpace(b, stop)
	if it.i < len(b) && b[it.i] == ',' {
		it.i = skipSpace(b, it.i+1)
	}
	return key, esc, val, true
}

// skipString returns the end of the validated string at i and whether it
// holds escapes. Validation already checked every byte; this only looks for
// the closing quote, eight bytes at a time.
func skipString(b []byte, i int) (int, bool) {
	esc := false
	for i++; ; {
		for i+8 <= len(b) {
			if m := quoteOrBackslash8(binary.LittleEndian.Uint64(b[i:])); m != 0 {
				i += bits.TrailingZeros64(m) / 8
				break
			}
			i += 8
		}
		for b[i] != '"' && b[i] != '\\' {
			i++
		}
		if b[i] == '"' {
			return i + 1, esc
		}
		esc = true
		i += 2
	}
}

// quoteOrBackslash8 has the high bit set in the lowest byte of x that is a
// quote or a backslash, if any (and maybe in bytes above it).
func quoteOrBackslash8(x uint64) uint64 {
	const ones, high = 0x0101010101010101, 0x8080808080808080
	q, bs := x^('"'*ones), x^('\\'*ones)
	return ((q-ones)&^q | (bs-ones)&^bs) & high
}

// skipValue returns the end of the validated value at i.
func skipValue(b []byte, i int) int {
	switch b[i] {
	case '"':
		end, _ := skipString(b, i)
		return end
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				i, _ = skipString(b, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return i
	default:
		for i < len(b) {
			switch b[i] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return i
			}
			i++
		}
		return i
	}
}

// objectID finds data.<object>.id in the validated data object: a string's
// value or a number's text, else "". Repeated keys resolve to the last, as
// encoding/json and most decoders do.
func objectID(data []byte, object string) string {
	var obj []byte
	for it := newMembers(data); ; {
		key, esc, val, ok := it.next()
		if !ok {
			break
		}
		if keyIs(key, esc, object) {
			obj = val
		}
	}
	if len(obj) == 0 || obj[0] != '{' {
		return ""
	}
	var id []byte
	for it := newMembers(obj); ; {
		key, esc, val, ok := it.next()
		if !ok {
			break
		}
		if keyIs(key, esc, "id") {
			id = val
		}
	}
	return idText(id)
}

// idText is an object id from the span of a validated value: a string's
// contents or a number's text; "" for anything else.
func idText(id []byte) string {
	switch {
	case len(id) == 0:
		return ""
	case id[0] == '"':
		raw := id[1 : len(id)-1]
		return stringOf(raw, bytes.IndexByte(raw, '\\') >= 0)
	case id[0] == '-' || id[0] >= '0' && id[0] <= '9':
		return view(id)
	}
	return ""
}
