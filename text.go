package tenantd

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// CheckLine validates one line of free text a person typed (a name, a
// title, a reason): valid UTF-8, at most maxRunes characters, and none of
// the characters that change how text around it is shown or parsed —
// control characters (line breaks included: such text ends up in email
// headers and logs), the bidirectional overrides, embeddings and isolates
// (U+202A–U+202E, U+2066–U+2069, which make "exe.txt" of "txt.exe"), the
// line and paragraph separators and the byte-order mark. Letters of every
// script, emoji and the zero-width joiners they need are fine.
//
// Returns INVALID_INPUT naming field.
func CheckLine(field, s string, maxRunes int) error {
	if !utf8.ValidString(s) {
		return Invalid(field, "%s must be valid UTF-8", field)
	}
	if n := utf8.RuneCountInString(s); n > maxRunes {
		return Invalid(field, "%s is %d characters long; the limit is %d", field, n, maxRunes)
	}
	if i := strings.IndexFunc(s, hiddenRune); i >= 0 {
		r, _ := utf8.DecodeRuneInString(s[i:])
		return Invalid(field, "%s must not contain the control or formatting character U+%04X", field, r)
	}
	return nil
}

func hiddenRune(r rune) bool {
	switch {
	case unicode.IsControl(r):
		return true
	case r >= 0x202A && r <= 0x202E, r >= 0x2066 && r <= 0x2069:
		return true // bidirectional embedding, override, isolate
	case r == 0x2028 || r == 0x2029 || r == 0xFEFF:
		return true
	}
	return false
}
