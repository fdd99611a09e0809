package envelope

import "iter"

// Member is one member of a JSON object the scanner accepted: its key as
// written between the quotes, whether that key holds escapes, and the
// span of its value.
type Member struct {
	Key     []byte
	Escaped bool
	Value   []byte
}

// KeyIs reports whether the member's key decodes to want.
func (m Member) KeyIs(want string) bool { return keyIs(m.Key, m.Escaped, want) }

// Members yields the members of obj without allocating. obj must be a
// record value FromRecord accepted, or an object inside one: the walk
// trusts the scanner's validation and does not check the syntax again.
// Anything but an object yields nothing.
func Members(obj []byte) iter.Seq[Member] {
	return func(yield func(Member) bool) {
		obj := obj[skipSpace(obj, 0):]
		if len(obj) < 2 || obj[0] != '{' {
			return
		}
		for it := newMembers(obj); ; {
			key, esc, val, ok := it.next()
			if !ok || !yield(Member{Key: key, Escaped: esc, Value: val}) {
				return
			}
		}
	}
}
