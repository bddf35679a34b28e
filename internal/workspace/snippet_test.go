package workspace

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

func TestSnippetWindow(t *testing.T) {
	t.Parallel()
	parse := func(s string) *snippetKeys {
		t.Helper()
		q, err := parseQuery(s)
		require.NoError(t, err)
		return q.snippetKeys()
	}
	k := parse(`customer "churn rate" OR a -budget`)
	for w, want := range map[string]bool{
		"customer": true, "Customers": true, "CUSTOMS": true, "churning": true, "rates": true,
		"A": true, "a": true, "an": false, "budget": false, "revenue": false, "cu": false,
	} {
		require.Equal(t, want, k.mayMatch(w), "mayMatch(%q)", w)
	}

	// Ordinary text keeps the whole window; text made of the query's
	// words is cut before its 51st possible match.
	ordinary := strings.Repeat("The quarterly numbers were good and the forecast held up well. ", 1000)
	ordinary = ordinary[:5000] + " one customer said churn fell " + ordinary[5000:]
	w := k.window(ordinary)
	require.Equal(t, maxSnippetChars, utf8.RuneCountInString(w))
	require.True(t, strings.HasPrefix(ordinary, w))
	k = parse("report")
	w = k.window(strings.Repeat("report ", 10_000))
	require.Equal(t, maxSnippetMatches, strings.Count(w, "report"))
	require.Equal(t, "short text", k.window("short text"))
	require.Equal(t, "é", parse("x").window(strings.Repeat("é", maxSnippetChars+5))[:2], "cut on a character boundary")
	require.Equal(t, maxSnippetChars, utf8.RuneCountInString(parse("x").window(strings.Repeat("é", maxSnippetChars+5))))
}
