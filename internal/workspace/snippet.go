package workspace

import (
	"unicode"
	"unicode/utf8"
)

const (
	// maxSnippetChars bounds the text a snippet is made from: at most the
	// first 16,384 characters of a document (README, "The workspace").
	maxSnippetChars = 16 << 10
	// maxSnippetMatches bounds the possible matches in that text. Both
	// highlighters take time that grows with the square of the matches in
	// the text they are given: FTS5's snippet scores a window around every
	// match against every other match, and PostgreSQL's ts_headline tries a
	// cover from every match. 16 KiB of one repeated query word took FTS5
	// 1.2 s and ts_headline 0.7 s (a phrase whose second word is missing);
	// fifty matches take them about a millisecond. Ordinary text has a few
	// matches per 16 KiB even for a common word, so the window is shortened
	// only for text made of the query's words.
	maxSnippetMatches = 50
)

// snippetKeys tells which words of a text may match the query, erring
// towards yes: it only sizes the snippet window (the engine decides what
// is highlighted), so a false "may match" shortens the window a little
// and a false "no" could let the highlighter's work grow. Both stemmers
// (Porter's, Snowball English) change only a word's ending, so two words
// with one stem share their first three letters; a query word of one or
// two letters is its own stem.
type snippetKeys struct {
	prefixes map[string]bool // the first three letters, lower case, of query words of three or more
	short    map[string]bool // query words of one or two letters
}

func (q *searchQuery) snippetKeys() *snippetKeys {
	k := &snippetKeys{prefixes: map[string]bool{}, short: map[string]bool{}}
	for _, g := range q.groups {
		for _, t := range g {
			for _, w := range words(t) {
				if utf8.RuneCountInString(w) <= 2 {
					k.short[w] = true
				} else {
					k.prefixes[lowerPrefix(w, 3)] = true
				}
			}
		}
	}
	return k
}

// mayMatch reports whether word may be a match of the query.
func (k *snippetKeys) mayMatch(word string) bool {
	if n := utf8.RuneCountInString(word); n <= 2 {
		return k.short[lowerPrefix(word, 2)]
	}
	return k.prefixes[lowerPrefix(word, 3)]
}

// lowerPrefix returns the first n characters of s in lower case.
func lowerPrefix(s string, n int) string {
	var buf [3 * utf8.UTFMax]byte
	b := buf[:0]
	for _, r := range s {
		if n == 0 {
			break
		}
		b = utf8.AppendRune(b, unicode.ToLower(r))
		n--
	}
	return string(b)
}

// window returns the text a snippet of content is made from: its first
// maxSnippetChars characters, cut before the word that would be the
// (maxSnippetMatches+1)th possible match.
func (k *snippetKeys) window(content string) string {
	chars, matches, start := 0, 0, -1
	for i, r := range content {
		if chars == maxSnippetChars {
			return content[:i]
		}
		chars++
		if unicode.IsLetter(r) || unicode.IsNumber(r) {
			if start < 0 {
				start = i
			}
			continue
		}
		if start >= 0 {
			if k.mayMatch(content[start:i]) {
				if matches++; matches > maxSnippetMatches {
					return content[:start]
				}
			}
			start = -1
		}
	}
	return content
}
