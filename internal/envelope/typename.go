package envelope

// IsTypeName reports whether s is an event type name as the catalog's
// envelope schema writes it, ^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$. It lives here
// rather than in the catalog so the dispatcher can apply the same rule to
// every record without the catalog; the catalog's tests hold it to the
// schema's regexp. It avoids the regexp engine, which cost the producer a few
// percent per event.
func IsTypeName(s string) bool {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	dots, seg := 0, 1
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case c == '.':
			if seg == 0 {
				return false
			}
			dots, seg = dots+1, 0
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '_':
			seg++
		default:
			return false
		}
	}
	return dots > 0 && seg > 0
}
